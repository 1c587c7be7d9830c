"""Hostile programs through the sandbox: each is contained and gets its own verdict (§2.11).

These need working namespace isolation (bubblewrap, installed by `make setup`); CI requires it,
a local run without it skips them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import pytest

from thunlp_repro.chatdev.isolation import SandboxUnavailable, detect
from thunlp_repro.chatdev.sandbox import SandboxSettings, run_program


def _isolation_or_skip() -> None:
    if os.name != "posix":
        pytest.skip("namespaces are Linux-only")
    try:
        detect("bwrap")
    except SandboxUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


pytestmark = pytest.mark.usefixtures("_needs_isolation")


@pytest.fixture
def _needs_isolation():
    _isolation_or_skip()


def _run(tmp_path, code, **settings):
    code_dir = tmp_path / "project" / "code"
    code_dir.mkdir(parents=True)
    (code_dir / "main.py").write_text(code)
    settings.setdefault("timeout_s", 5)
    return run_program(code_dir, "main.py", "python", SandboxSettings(**settings))


def _marker_processes(marker: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and marker in open(f"/proc/{entry.name}/cmdline").read():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def test_write_outside_lands_in_a_private_tmp(tmp_path):
    target = f"/tmp/thunlp-escape-{uuid.uuid4().hex}"
    outside = tmp_path / "outside.txt"
    code = (f"open({target!r}, 'w').write('x')\n"
            f"try:\n    open({str(outside)!r}, 'w').write('x')\n"
            "except OSError as e:\n    print('blocked', type(e).__name__)\n")  # fmt: skip
    result = _run(tmp_path, code)
    assert result.verdict == "ok" and result.isolation == "bwrap"
    assert "blocked" in result.stdout
    assert not os.path.exists(target) and not outside.exists()


def test_secrets_home_and_runs_are_invisible(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE")
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "secret.json").write_text("{}")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    code = (
        "import os\n"
        f"for p in ['/etc/shadow', {str(home / '.ssh/id_rsa')!r}, {str(runs)!r}, "
        "os.path.expanduser('~/.ssh')]:\n"
        "    print(p, os.path.exists(p))\n"
        "print('key', 'OPENAI_API_KEY' in os.environ, os.getuid())\n"
    )
    result = _run(tmp_path, code)
    assert result.verdict == "ok", result.report()
    assert [line.rsplit(" ", 1)[1] for line in result.stdout.splitlines()[:4]] == ["False"] * 4
    assert result.stdout.splitlines()[4] == "key False 65534"


def test_no_network_not_even_the_hosts_loopback(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    hits, done = [], threading.Event()

    def accept():
        while not done.is_set():
            try:
                hits.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    code = (
        "import socket\n"
        f"for host, port in [('127.0.0.1', {port}), ('1.1.1.1', 80), ('8.8.8.8', 53)]:\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=2)\n"
        "        print(host, 'connected')\n"
        "    except OSError as e:\n"
        "        print(host, 'refused', type(e).__name__)\n"
    )
    result = _run(tmp_path, code, timeout_s=10)
    done.set()
    thread.join()
    server.close()
    assert result.verdict == "ok" and result.network_isolated
    assert "connected" not in result.stdout and result.stdout.count("refused") == 3
    assert hits == []


def test_fork_bomb_is_capped_and_reaped(tmp_path):
    marker = f"bomb-{uuid.uuid4().hex}"
    code = (
        "import os, sys, time\n"
        f"sys.argv.append({marker!r})\n"
        "while True:\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)',"
        f" {marker!r}])\n"
    )
    result = _run(tmp_path, code, timeout_s=5, max_processes=32)
    assert result.verdict == "resource" and result.is_bug
    assert result.extra["peak_processes"] <= 32 + 3  # bwrap's monitor and init on top
    time.sleep(0.3)
    assert _marker_processes(marker) == []


def test_setsid_child_dies_with_the_sandbox(tmp_path):
    marker = f"escape-{uuid.uuid4().hex}"
    code = (
        "import os, sys\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)',"
        f" {marker!r}])\n"
        "print('parent done')\n"
    )
    result = _run(tmp_path, code)
    assert result.verdict == "ok"
    time.sleep(0.5)
    assert _marker_processes(marker) == []


def test_four_gigabytes_hit_the_memory_limit(tmp_path):
    result = _run(tmp_path, "x = bytearray(4 * 1024 ** 3)\nprint(len(x))\n", memory_mb=1024)
    assert result.verdict == "resource" and result.is_bug


def test_memory_split_over_processes_hits_the_tree_limit(tmp_path):
    code = (
        "import os, time\n"
        "for _ in range(4):\n"
        "    if os.fork() == 0:\n"
        "        block = bytearray(300 * 1024 ** 2)\n"
        "        block[::4096] = b'x' * len(block[::4096])\n"
        "        time.sleep(30)\n"
        "time.sleep(30)\n"
    )
    result = _run(tmp_path, code, timeout_s=6, memory_mb=768)
    assert result.verdict == "resource" and "together" in result.detail


def test_infinite_loop_is_a_hang_not_a_pass(tmp_path):
    result = _run(tmp_path, "while True:\n    pass\n", timeout_s=2, grace_s=0.5)
    assert result.verdict == "hang" and not result.passed


def test_deleting_its_parent_folder_harms_nothing(tmp_path):
    code = (
        "import os, shutil\n"
        "parent = os.path.dirname(os.getcwd())\n"
        "shutil.rmtree(parent, ignore_errors=True)\n"
        "print('gone', os.path.exists(parent))\n"
    )
    result = _run(tmp_path, code)
    assert result.verdict == "ok" and "gone" in result.stdout
    assert (tmp_path / "project" / "code" / "main.py").is_file()


def test_no_isolation_refuses_unless_unsafe(tmp_path, monkeypatch):
    import thunlp_repro.chatdev.isolation as isolation

    monkeypatch.setattr(isolation, "_probe_bwrap", lambda: "bubblewrap (bwrap) is not on PATH")
    (tmp_path / "main.py").write_text("print('ran')\n")
    with pytest.raises(SandboxUnavailable, match="--unsafe-sandbox"):
        run_program(tmp_path, "main.py", "python", SandboxSettings(timeout_s=5))
    result = run_program(tmp_path, "main.py", "python", SandboxSettings(timeout_s=5, unsafe=True))
    assert result.verdict == "ok" and result.isolation == "none" and not result.network_isolated
    with pytest.raises(SandboxUnavailable, match="unsafe"):
        detect("none")
