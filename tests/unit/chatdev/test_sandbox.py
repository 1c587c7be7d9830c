"""The sandbox: verdicts, limits, environment (chatdev.md §2.11, §5.1.6)."""

from __future__ import annotations

import os
import sys
import time

import pytest

from thunlp_repro.chatdev.sandbox import SandboxSettings, run_program

pytestmark = pytest.mark.skipif(os.name != "posix", reason="rlimits are POSIX-only")


def _run(tmp_path, code, *, name="main.py", **settings):
    (tmp_path / name).write_text(code)
    return run_program(tmp_path, "main.py", "python", SandboxSettings(**settings))


def test_ok(tmp_path):
    result = _run(tmp_path, "print('hi')\n", timeout_s=5)
    assert result.verdict == "ok" and result.exit_code == 0 and result.stdout == "hi"


def test_endless_loop_is_a_hang_and_killed(tmp_path):
    start = time.monotonic()
    result = _run(tmp_path, "while True:\n    pass\n", timeout_s=2, grace_s=0.5)
    assert result.verdict == "hang" and result.is_bug and not result.passed
    assert "endless loop" in result.report()
    assert time.monotonic() - start < 6


def test_memory_hog_hits_the_limit(tmp_path):
    result = _run(tmp_path, "x = bytearray(4 * 1024 ** 3)\n", timeout_s=5, memory_mb=512)
    assert result.verdict == "resource" and result.is_bug


def test_missing_entry(tmp_path):
    (tmp_path / "app.py").write_text("print(1)\n")
    result = run_program(tmp_path, "main.py", "python", SandboxSettings(timeout_s=2))
    assert result.verdict == "no_entry" and "main.py" in result.report()


def test_missing_module_is_a_crash_without_install(tmp_path, monkeypatch):
    import subprocess

    calls = []
    real = subprocess.Popen

    def spy(cmd, *a, **k):
        calls.append(cmd)
        return real(cmd, *a, **k)

    monkeypatch.setattr(subprocess, "Popen", spy)
    result = _run(tmp_path, "import nonexistent_module_xyz\n", timeout_s=5)
    assert result.verdict == "crash" and result.error_type == "ModuleNotFoundError"
    assert all("pip" not in " ".join(map(str, c)) for c in calls)
    assert "nothing can be installed" in result.report()


def test_environment_has_no_keys_and_is_headless(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy")
    monkeypatch.setenv("DISPLAY", ":0")
    code = (
        "import os\n"
        "print(sorted(k for k in os.environ if 'KEY' in k or 'PROXY' in k or k == 'DISPLAY'))\n"
        "print(os.environ['SDL_VIDEODRIVER'], os.environ['MPLBACKEND'],"
        " os.environ['QT_QPA_PLATFORM'])\n"
    )
    result = _run(tmp_path, code, timeout_s=5, xvfb="off")
    assert result.stdout.splitlines() == ["[]", "dummy Agg offscreen"]


def test_syntax_error_is_reported_without_running(tmp_path):
    result = _run(tmp_path, "def f(:\n    pass\n", timeout_s=5)
    assert result.verdict == "syntax" and "main.py" in result.stderr


def test_traceback_crash_and_report(tmp_path):
    result = _run(tmp_path, "print('before')\nundefined_name\n", timeout_s=5)
    assert result.verdict == "crash" and result.error_type == "NameError"
    report = result.report()
    assert "Verdict: crash" in report and "Exit code: 1" in report and "NameError" in report
    assert str(tmp_path) not in report


def test_waiting_for_input_stays_alive(tmp_path):
    result = _run(tmp_path, "input()\n", timeout_s=1.5, grace_s=0.5)
    assert result.verdict == "alive" and result.passed and not result.is_bug


def test_project_folder_not_written(tmp_path):
    _run(tmp_path, "open('out.txt', 'w').write('x')\n", timeout_s=5)
    assert not (tmp_path / "out.txt").exists()


def test_no_display_recognised(tmp_path):
    code = "import sys\nsys.stderr.write('_tkinter.TclError: no display name and no $DISPLAY " \
           "environment variable\\n')\nsys.exit(1)\n"  # fmt: skip
    assert _run(tmp_path, code, timeout_s=5, xvfb="off").verdict == "no_display"


@pytest.mark.skipif(sys.platform == "darwin", reason="RLIMIT_CPU semantics differ")
def test_cpu_limit(tmp_path):
    result = _run(tmp_path, "while True:\n    pass\n", timeout_s=3, cpu_extra_s=-2)
    assert result.verdict == "resource" and result.signal in ("SIGXCPU", "SIGKILL")


def test_javascript_runner(tmp_path):
    import shutil

    if not shutil.which("node"):
        pytest.skip("node not installed")
    (tmp_path / "main.js").write_text("console.log('js ok');\n")
    result = run_program(tmp_path, None, "javascript", SandboxSettings(timeout_s=5))
    assert result.verdict == "ok" and result.stdout == "js ok"


def test_unsupported_language(tmp_path):
    (tmp_path / "index.html").write_text("<p>hi</p>\n")
    assert run_program(tmp_path, None, "html", SandboxSettings()).verdict == "unsupported"
