"""Namespace isolation for generated programs: the sandbox's security boundary (bubblewrap).

Every generated program (and every compiler run on generated code) starts under `bwrap` with:

- new user, pid, network, ipc, uts and cgroup namespaces (`--unshare-all`): no network at all
  (not even the host's loopback), and every descendant dies with the sandbox's pid 1, `setsid`
  or not (`--die-with-parent`, pid namespace);
- an unprivileged uid/gid inside (65534) and a synthetic `/etc/passwd` naming it;
- a filesystem view built from nothing: `/usr` and the interpreter's prefix read-only, a few
  loader/font files of `/etc` (never `shadow`, keys or the user's files), a fresh `/proc` and
  `/dev`, a private `/tmp` (size-capped tmpfs) and the run's working copy, the only host folder
  that is writable. The user's home, the project's `runs/` and the repository are not mounted.

`detect()` probes once per process which isolation works here: `bwrap` or `none`. With `none`
generated code does not run unless the user passes `--unsafe-sandbox` (`SandboxUnavailable`).

Reproduces: ChatDev §3.1 testing ("the tester runs the software") safely; chatdev.md §2.11.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from thunlp_repro.shared.errors import UsageError

SANDBOX_UID = 65534
ISOLATIONS = ("auto", "bwrap", "none")
# /etc entries a program may need (dynamic loader, fonts for GUI toolkits, time zone, MIME).
ETC_ALLOW = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "fonts", "localtime",
             "mime.types", "matplotlibrc")  # fmt: skip
INSTALL_HINT = (
    "install bubblewrap (`sudo apt-get install bubblewrap` or `dnf install bubblewrap`) or, to "
    "run generated code unisolated as yourself, pass --unsafe-sandbox"
)


class SandboxUnavailable(UsageError):
    """No working isolation and `--unsafe-sandbox` was not given."""


@dataclass(frozen=True)
class Isolation:
    """Which isolation a run uses (`name`: bwrap | none) and why (`detail`)."""

    name: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "detail": self.detail}


def _system_binds() -> list[str]:
    """`/usr` read-only, `/bin`, `/lib*`, `/sbin` as the host has them (merged-usr symlinks)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            args += ["--ro-bind", top, top]
    for name in ETC_ALLOW:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def interpreter_roots(python: str) -> list[Path]:
    """Folders an interpreter needs: its venv (if any) and the real installation prefix."""
    exe = Path(python)
    roots = []
    if (exe.parent.parent / "pyvenv.cfg").is_file():
        roots.append(exe.parent.parent.absolute())
    real = exe.resolve()
    prefix = real.parent.parent
    if not str(prefix).startswith("/usr"):
        roots.append(prefix)
    if real == Path(sys.executable).resolve():
        roots += [Path(p) for p in {sys.base_prefix, sys.prefix} if not p.startswith("/usr")]
    return sorted(set(roots))


def _identity_files(base: Path) -> list[str]:
    """A passwd/group naming the sandbox user, so `getpass`/`pwd` work without the host's."""
    etc = base / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "passwd").write_text(
        f"sandbox:x:{SANDBOX_UID}:{SANDBOX_UID}:sandbox:/nonexistent:/usr/sbin/nologin\n"
    )
    (etc / "group").write_text(f"sandbox:x:{SANDBOX_UID}:\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")
    args = []
    for name in ("passwd", "group", "hosts"):
        args += ["--ro-bind", str(etc / name), f"/etc/{name}"]
    return args


def bwrap_argv(
    command: list[str], work: Path, base: Path, *, python: str | None, tmp_mb: int
) -> list[str]:
    """`command` wrapped in bwrap: `work` is the only writable host folder (mounted in place)."""
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--hostname", "sandbox", *_system_binds(),
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(tmp_mb * 1024 * 1024), "--tmpfs", "/tmp"]  # fmt: skip
    for root in interpreter_roots(python or sys.executable):
        args += ["--ro-bind", str(root), str(root)]
    args += _identity_files(base)
    args += ["--bind", str(work), str(work), "--chdir", str(work), "--"]
    return args + list(command)


@functools.cache
def _probe_bwrap() -> str | None:
    """None when a trivial program runs under our bwrap arguments, else why it does not."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap (bwrap) is not on PATH"
    import tempfile

    with tempfile.TemporaryDirectory(prefix="chatdev-probe-") as tmp:
        work = Path(tmp) / "code"
        work.mkdir()
        argv = bwrap_argv([sys.executable, "-c", "print('ok')"], work, Path(tmp), python=None,
                          tmp_mb=1)  # fmt: skip
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bwrap failed to start: {exc}"
    if done.returncode != 0 or done.stdout.strip() != "ok":
        why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return f"bwrap cannot create the namespaces here: {why}"
    return None


def detect(mode: str = "auto", *, unsafe: bool = False) -> Isolation:
    """The isolation a run gets, or `SandboxUnavailable` (one line: why, and what to do).

    Args:
        mode: auto (bwrap if it works), bwrap (required), none (only with `unsafe`).
        unsafe: The user accepted running generated code without isolation.
    """
    if mode not in ISOLATIONS:
        raise UsageError(f"sandbox.isolation '{mode}' is unknown; choose {', '.join(ISOLATIONS)}")
    if mode != "none":
        problem = _probe_bwrap() if os.name == "posix" else "namespaces need Linux"
        if problem is None:
            return Isolation("bwrap", "bubblewrap: user/pid/net/ipc/uts namespaces, private fs")
        if mode == "bwrap" or not unsafe:
            raise SandboxUnavailable(f"cannot sandbox generated programs: {problem}; "
                                     f"{INSTALL_HINT}")  # fmt: skip
        return Isolation("none", f"UNSAFE: {problem}; ran as the caller (--unsafe-sandbox)")
    if not unsafe:
        raise SandboxUnavailable("sandbox.isolation=none runs generated code unisolated; "
                                 "pass --unsafe-sandbox to accept that")  # fmt: skip
    return Isolation("none", "UNSAFE: isolation switched off (--unsafe-sandbox)")
