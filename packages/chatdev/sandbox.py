"""Run a generated program in a sandbox and turn the outcome into a verdict.

Each run gets a fresh temp copy of the code tree (the project folder is never written) and runs
inside namespace isolation (`isolation.py`: bubblewrap; no network, a private filesystem view in
which only the copy and a private /tmp are writable, a pid namespace so every descendant dies
with it, an unprivileged uid). The tree is bounded by a cgroup or watchdog (`process_tree.py`:
processes, memory of the whole tree) and by POSIX rlimits in each process (CPU, address space,
file size, open files, no core dumps); a wall-clock timeout; an allow-listed environment (no API
keys or proxies; headless display variables); stdout/stderr to files. Nothing is ever installed
on the host; `install = venv` (opt-in) installs requirements into a cached venv. Without working
isolation nothing runs unless `unsafe` (`--unsafe-sandbox`) is set; each result names the
isolation it ran under.

Verdicts: ok, alive, hang, crash, syntax, resource, no_entry, no_display, unsupported.
A program still running at the time limit is `alive` (a GUI, server or `input()` program
waiting for events) when its process tree used under half a core over the limit's last second,
and `hang` (a busy loop: a bug) otherwise.

Reproduces: ChatDev §3.1 testing ("the tester runs the software"); chatdev.md §2.11, pitfalls
#3-#5 (repo: 3 s sleep, "Traceback" rule, host pip installs).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thunlp_repro.chatdev.isolation import Isolation, bwrap_argv, detect
from thunlp_repro.chatdev.process_tree import Cgroup, TreeWatch, join_cgroup

logger = logging.getLogger(__name__)

BUG_VERDICTS = {"crash", "syntax", "resource", "no_entry", "hang"}
HANG_CPU_SHARE = 0.5  # cores used over the last second at the time limit: above = busy loop
PASS_VERDICTS = {"ok", "alive"}
TAIL_LINES = 60
TAIL_CHARS = 4000

HEADLESS_ENV = {
    "PYTHONUNBUFFERED": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "MPLBACKEND": "Agg",
    "SDL_VIDEODRIVER": "dummy",
    "SDL_AUDIODRIVER": "dummy",
    "QT_QPA_PLATFORM": "offscreen",
}
_NO_DISPLAY = re.compile(
    r"no display name and no \$DISPLAY|couldn't connect to display|cannot connect to X server|"
    r"could not connect to display|No available video device|Can't open display|"
    r"qt\.qpa\.xcb: could not connect",
    re.I,
)
_ERROR_TYPE = re.compile(r"^(\w+(?:\.\w+)*(?:Error|Exception|Interrupt|Exit))\b", re.M)


@dataclass
class SandboxSettings:
    """Limits and options of one run (mirrors `SandboxConfig`)."""

    timeout_s: float = 10.0
    grace_s: float = 2.0
    memory_mb: int = 2048
    cpu_extra_s: int = 5
    file_size_mb: int = 64
    open_files: int = 256
    install: str = "none"
    stdin: str = "pipe"
    xvfb: str = "auto"
    python: str | None = None
    keep_runs: bool = False
    isolation: str = "auto"
    unsafe: bool = False
    max_processes: int = 64
    tmp_mb: int = 256

    @classmethod
    def from_config(cls, cfg: Any) -> SandboxSettings:
        return cls(**{k: getattr(cfg, k) for k in cls.__dataclass_fields__})


@dataclass
class SandboxResult:
    """The outcome of one run; `report()` is what the programmer is told."""

    verdict: str
    exit_code: int | None = None
    signal: str | None = None
    stdout: str = ""
    stderr: str = ""
    error_type: str | None = None
    duration_s: float = 0.0
    entry: str | None = None
    language: str = "python"
    detail: str = ""
    limits_enforced: bool = True
    network_isolated: bool = False
    isolation: str = "none"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_bug(self) -> bool:
        return self.verdict in BUG_VERDICTS

    @property
    def passed(self) -> bool:
        return self.verdict in PASS_VERDICTS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxResult:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def report(self) -> str:
        """`{test_reports}`: verdict, exit code/signal, stderr/stdout tails (chatdev.md §2.11)."""
        lines = [f"Verdict: {self.verdict}"]
        if self.verdict == "no_entry":
            lines.append(f"The entry file {self.entry} is missing; the program must start there.")
        if self.detail:
            lines.append(self.detail)
        if self.exit_code is not None:
            lines.append(f"Exit code: {self.exit_code}")
        if self.signal:
            lines.append(f"Killed by signal: {self.signal}")
        if self.stderr.strip():
            lines.append("Error output (last lines):\n" + self.stderr.rstrip())
        if self.stdout.strip():
            lines.append("Standard output (last lines):\n" + self.stdout.rstrip())
        if self.verdict == "hang":
            lines.append(
                "The program never finished and kept the CPU busy: look for an "
                "endless loop, or wait for input instead of spinning."
            )
        if self.error_type == "ModuleNotFoundError":
            lines.append(
                "Note: nothing can be installed; use only the standard library and the packages "
                "listed as available."
            )
        return "\n".join(lines)


def _tail(text: str, workdir: Path) -> str:
    text = text.replace(str(workdir), ".")
    lines = text.splitlines()[-TAIL_LINES:]
    out = "\n".join(lines)
    return out[-TAIL_CHARS:]


def error_type(stderr: str) -> str | None:
    """The exception type named in a traceback's last error line (`NameError`, ...)."""
    if "Traceback" not in stderr and "Error" not in stderr:
        return None
    found = _ERROR_TYPE.findall(stderr)
    return found[-1].rsplit(".", 1)[-1] if found else None


def safe_env(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Allow-listed environment: PATH, LANG, LC_ALL plus headless settings; never keys."""
    env = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL") if k in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    env.update(HEADLESS_ENV)
    env["HOME"] = str(workdir / ".home")
    env["TMPDIR"] = str(workdir / ".tmp")
    env.update(extra or {})
    return env


def _own_process_count() -> int:
    """Processes of this uid now (RLIMIT_NPROC counts them all, not just the sandbox's)."""
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        try:
            count += entry.name.isdigit() and entry.stat().st_uid == uid
        except OSError:
            pass
    return count


def _preexec(settings: SandboxSettings, cgroup_procs: list[str]):
    """preexec_fn of the child (POSIX): join the tree's cgroup, then set the rlimits."""
    import resource

    cpu = int(settings.timeout_s + settings.cpu_extra_s)
    mem = settings.memory_mb * 1024 * 1024
    fsize = settings.file_size_mb * 1024 * 1024
    # root ignores RLIMIT_NPROC (the cgroup bounds processes there); others get room for the tree
    nproc = _own_process_count() + settings.max_processes if os.getuid() != 0 else None

    def apply() -> None:
        join_cgroup(cgroup_procs)
        limits = [("RLIMIT_CPU", (cpu, cpu + 1)), ("RLIMIT_AS", (mem, mem)),
                  ("RLIMIT_FSIZE", (fsize, fsize)),
                  ("RLIMIT_NOFILE", (settings.open_files, settings.open_files)),
                  ("RLIMIT_CORE", (0, 0))]  # fmt: skip
        if nproc is not None:
            limits.append(("RLIMIT_NPROC", (nproc, nproc)))
        for name, value in limits:
            limit = getattr(resource, name, None)
            if limit is None:
                continue
            try:
                resource.setrlimit(limit, value)
            except (ValueError, OSError):
                pass

    return apply


def _kill_group(proc: subprocess.Popen, grace_s: float) -> None:
    if os.name != "posix":  # pragma: no cover - Windows path
        subprocess.run(["taskkill", "/T", "/F", "/PID", str(proc.pid)], capture_output=True)
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _syntax_check(code_dir: Path) -> str | None:
    for file in sorted(code_dir.rglob("*.py")):
        try:
            source = file.read_bytes()
            compile(source, file.relative_to(code_dir).as_posix(), "exec", dont_inherit=True)
        except SyntaxError as exc:
            return (f'  File "{exc.filename}", line {exc.lineno}\n'
                    f"{(exc.text or '').rstrip()}\nSyntaxError: {exc.msg}")  # fmt: skip
        except ValueError as exc:  # NUL bytes
            return f"{file.relative_to(code_dir).as_posix()}: {exc}"
    return None


def _command(
    language: str, entry: str, work: Path, python: str, confine: Callable[[list[str]], list[str]]
) -> list[str] | str:
    """The argument list that runs `entry`, or a string explaining why it cannot run.

    Compilers see generated code too (`#include "/etc/shadow"`), so they run `confine`d.
    """
    if language == "python":
        return [python, entry]
    if language == "javascript":
        node = shutil.which("node")
        return [node, entry] if node else "no `node` on PATH"
    if language in ("c", "cpp"):
        compiler = shutil.which("gcc" if language == "c" else "g++")
        if not compiler:
            return f"no {'gcc' if language == 'c' else 'g++'} on PATH"
        sources = [
            str(p.relative_to(work)) for p in work.rglob("*.c" if language == "c" else "*.cpp")
        ]
        done = subprocess.run(
            confine([compiler, *sources, "-o", "a.out"]), cwd=work, capture_output=True,
            text=True, timeout=60, env=safe_env(work),
        )  # fmt: skip
        if done.returncode != 0:
            return "compile error:\n" + done.stderr[-TAIL_CHARS:]
        return [str(work / "a.out")]
    if language == "java":
        javac, java = shutil.which("javac"), shutil.which("java")
        if not (javac and java):
            return "no javac/java on PATH"
        sources = [str(p.relative_to(work)) for p in work.rglob("*.java")]
        done = subprocess.run(confine([javac, *sources]), cwd=work, capture_output=True,
                              text=True, timeout=120, env=safe_env(work))  # fmt: skip
        if done.returncode != 0:
            return "compile error:\n" + done.stderr[-TAIL_CHARS:]
        return [java, Path(entry).stem]
    return f"no runner for language '{language}'"


def _venv_python(code_dir: Path, missing: str | None, timeout_s: float = 300) -> str | None:
    """Opt-in: a cached venv with the project's requirements (never the host environment)."""
    reqs = code_dir / "requirements.txt"
    wanted = reqs.read_text(encoding="utf-8") if reqs.is_file() else ""
    if missing:
        wanted += f"\n{missing}\n"
    if not wanted.strip():
        return None
    from thunlp_repro.shared.paths import home

    digest = hashlib.sha256(wanted.encode()).hexdigest()[:16]
    venv = home() / "chatdev-venvs" / digest
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if python.is_file():
        return str(python)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=timeout_s,
                       capture_output=True)  # fmt: skip
        req_file = venv / "requirements.txt"
        req_file.write_text(wanted, encoding="utf-8")
        subprocess.run([str(python), "-m", "pip", "install", "-r", str(req_file)], check=True,
                       timeout=timeout_s, capture_output=True)  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        logger.warning("venv install failed: %s", exc)
        shutil.rmtree(venv, ignore_errors=True)
        return None
    return str(python)


def run_program(
    code_dir: Path,
    entry: str | None = None,
    language: str = "python",
    settings: SandboxSettings | None = None,
) -> SandboxResult:
    """Run the program in `code_dir` in a sandbox and return its verdict.

    Args:
        code_dir: The code tree (copied; never written).
        entry: Entry file relative to the tree (default by language).
        language: Normalised language (decides the runner).
        settings: Limits and options.
    """
    from thunlp_repro.chatdev.codebook import ENTRY_FILES

    settings = settings or SandboxSettings()
    entry = entry or ENTRY_FILES.get(language, "main.py")
    if language in ("html", "css", "markdown", "text"):
        return SandboxResult("unsupported", entry=entry, language=language,
                             detail=f"no runner for language '{language}'")  # fmt: skip
    isolation = detect(settings.isolation, unsafe=settings.unsafe)
    base = Path(tempfile.mkdtemp(prefix="chatdev-run-"))
    work = base / "code"
    try:
        shutil.copytree(code_dir, work, ignore=shutil.ignore_patterns(".git", "__pycache__"))
        for sub in (".home", ".tmp"):
            (work / sub).mkdir(exist_ok=True)
        if not (work / entry).is_file():
            return SandboxResult("no_entry", entry=entry, language=language,
                                 detail=f"expected entry file: {entry}")  # fmt: skip
        if language == "python":
            problem = _syntax_check(work)
            if problem:
                return SandboxResult("syntax", stderr=problem, error_type="SyntaxError",
                                     entry=entry, language=language)  # fmt: skip
        python = settings.python or sys.executable
        if settings.install == "venv" and language == "python":
            python = _venv_python(code_dir, None) or python
        confine = functools.partial(_confine, work=work, base=base, settings=settings,
                                    isolation=isolation, python=None)  # fmt: skip
        command = _command(language, entry, work, python, confine)
        if isinstance(command, str):
            verdict = "crash" if command.startswith("compile error") else "unsupported"
            return SandboxResult(verdict, stderr=command if verdict == "crash" else "",
                                 detail=command, entry=entry, language=language)  # fmt: skip
        result = _execute(command, work, base, settings, isolation)
        result.entry, result.language = entry, language
        if (
            settings.install == "venv"
            and result.error_type == "ModuleNotFoundError"
            and language == "python"
        ):
            missing = re.search(r"No module named '([\w\-]+)", result.stderr)
            venv_py = _venv_python(code_dir, missing.group(1) if missing else None)
            if venv_py:
                command = _command(language, entry, work, venv_py, confine)
                if not isinstance(command, str):
                    result = _execute(command, work, base, settings, isolation)
                    result.entry, result.language = entry, language
                    result.extra["installed"] = True
        return result
    finally:
        if settings.keep_runs:
            logger.info("sandbox run kept at %s", base)
        else:
            shutil.rmtree(base, ignore_errors=True)


def run_in_copy(
    folder: Path, args: list[str], settings: SandboxSettings | None = None
) -> SandboxResult:
    """Run `<python> *args` in a temp copy of `folder` with no pre-checks (no entry or syntax
    check), with the same environment, limits, display and kill rules as `run_program`.

    Used by the `compatible` executability metric, which must see what the released script saw
    (e.g. "can't open file 'main.py'" without a traceback).
    """
    settings = settings or SandboxSettings()
    isolation = detect(settings.isolation, unsafe=settings.unsafe)
    base = Path(tempfile.mkdtemp(prefix="chatdev-run-"))
    work = base / "code"
    try:
        shutil.copytree(folder, work, ignore=shutil.ignore_patterns(".git", "__pycache__"))
        for sub in (".home", ".tmp"):
            (work / sub).mkdir(exist_ok=True)
        return _execute([settings.python or sys.executable, *args], work, base, settings,
                        isolation)  # fmt: skip
    finally:
        if not settings.keep_runs:
            shutil.rmtree(base, ignore_errors=True)


def _confine(
    command: list[str],
    *,
    work: Path,
    base: Path,
    settings: SandboxSettings,
    isolation: Isolation,
    python: str | None,
) -> list[str]:
    """`command` as it starts under the run's isolation."""
    if isolation.name != "bwrap":
        return list(command)
    return bwrap_argv(command, work, base, python=python, tmp_mb=settings.tmp_mb)


def _execute(
    command: list[str],
    work: Path,
    base: Path,
    settings: SandboxSettings,
    isolation: Isolation,
) -> SandboxResult:
    posix = os.name == "posix"
    python = command[0]
    if settings.xvfb == "auto" and shutil.which("xvfb-run"):
        command = ["xvfb-run", "-a", *command]  # inside the sandbox: the X server is private too
    command = _confine(command, work=work, base=base, settings=settings, isolation=isolation,
                       python=python)  # fmt: skip
    memory = settings.memory_mb * 1024 * 1024
    cgroup = Cgroup.create(settings.max_processes, memory) if posix else None
    out_path, err_path = base / "stdout.txt", base / "stderr.txt"
    start = time.monotonic()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            command,
            cwd=work,
            env=safe_env(work),
            stdin=subprocess.PIPE if settings.stdin == "pipe" else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=posix,
            preexec_fn=_preexec(settings, cgroup.join_path() if cgroup else []) if posix else None,
        )
        # the watchdog bounds the tree's memory itself only when no cgroup does
        watch = TreeWatch(proc.pid, memory_bytes=None if cgroup else memory).start()
        timed_out, busy = False, None
        try:
            code = proc.wait(timeout=settings.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            watch.sample()
            busy = watch.recent_cpu_share()
            _kill_group(proc, settings.grace_s)
            code = None
        else:
            if posix:  # children left behind by the program (unisolated runs)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        watch.stop()
        if proc.stdin:
            proc.stdin.close()
    memory_hit = watch.memory_exceeded
    if cgroup is not None:
        memory_hit = memory_hit or cgroup.memory_killed()
        cgroup.kill_and_remove()
    duration = time.monotonic() - start
    stdout = _tail(out_path.read_text(encoding="utf-8", errors="replace"), work)
    full_err = err_path.read_text(encoding="utf-8", errors="replace")
    stderr = _tail(full_err, work)
    result = SandboxResult(
        "ok", stdout=stdout, stderr=stderr, duration_s=round(duration, 3),
        limits_enforced=posix, error_type=error_type(stderr),
        network_isolated=isolation.name == "bwrap", isolation=isolation.name,
    )  # fmt: skip
    result.extra.update(peak_processes=watch.peak_procs,
                        peak_rss_mb=round(watch.peak_rss / 2**20, 1),
                        tree_limits="cgroup" if cgroup else "rlimit+watchdog")  # fmt: skip
    # the released evaluation script's rule reads the whole stderr (not just the tail)
    result.extra["traceback_anywhere"] = "traceback" in full_err.lower()
    traceback = "Traceback (most recent call last)" in stderr
    if memory_hit:
        result.verdict = "resource"
        result.detail = f"the program's processes together passed {settings.memory_mb} MiB"
        return result
    if timed_out:
        if traceback:
            result.verdict = "crash"
        elif busy is not None and busy >= HANG_CPU_SHARE:
            result.verdict = "hang"
            result.detail = (f"still busy ({busy:.2f} cores) after {settings.timeout_s:g} s: "
                             "probably an endless loop; stopped")  # fmt: skip
        else:
            result.verdict = "alive"
            result.detail = (f"still running (idle: waiting for input or events) after "
                             f"{settings.timeout_s:g} s; stopped")  # fmt: skip
        return result
    assert code is not None
    if (
        isolation.name == "bwrap"
        and code > 128
        and (code - 128) in signal.Signals._value2member_map_
    ):
        code = -(code - 128)  # bwrap reports a signalled child as 128 + signal
    result.exit_code = code if code >= 0 else None
    if code < 0:
        sig = (
            signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        )
        result.signal = sig
        if sig in ("SIGXCPU", "SIGXFSZ", "SIGKILL", "SIGSEGV"):
            result.verdict = "resource"
            result.detail = f"killed by {sig} (CPU, memory or file-size limit)"
        else:
            result.verdict = "crash"
        return result
    if result.error_type == "MemoryError" or (code != 0 and "Cannot allocate memory" in stderr):
        result.verdict = "resource"
        result.detail = f"memory limit ({settings.memory_mb} MiB) reached"
        return result
    if result.error_type == "BlockingIOError" and "fork" in stderr:
        result.verdict = "resource"
        result.detail = f"process limit ({settings.max_processes}) reached"
        return result
    if code != 0 or traceback:
        result.verdict = "no_display" if _NO_DISPLAY.search(stderr) else "crash"
    return result
