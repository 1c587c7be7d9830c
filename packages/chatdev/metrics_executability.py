"""Executability: does the software compile and run directly? (1 = runs, 0 = does not).

- `compatible` (paper column, the released script [repo]): find the *last* file whose name
  contains ``.py`` in walk order (sorted here), run ``python main.py`` in that file's folder for
  3 s, kill it, and score 0 only when stderr contains "traceback" (any case); no such file scores
  0. Flaws kept on purpose: a missing ``main.py`` ("can't open file", no traceback) counts as
  runnable, so does a GUI or ``input()`` program that is alive at 3 s, a program that crashes
  after 3 s, and a non-zero exit without a traceback. The run happens inside our sandbox (clean
  environment, limits, no display), never on the host as the script does.
- `strict` (ours): the entry point is required (``meta.json``'s ``entry_point``, else the
  language's entry file); the program runs in the sandbox with a 10 s limit and scores 1 only for
  the verdicts ``ok`` (exit code 0, no traceback) and ``alive`` (still running without error at
  the limit and idle: a GUI, a server, a program waiting for input). One rule tells ``alive``
  from ``hang``: a program still running at the limit whose process tree used half a core or
  more over the last second is busy looping, ``hang``, and scores 0. Every other verdict scores 0,
  and the verdict is recorded (``ok`` and ``alive`` are counted apart in reports, as are
  ``no_display`` and ``unsupported``).

Reproduces: ChatDev §4 / Table 1 (Executability), chatdev.md §2.11, §2.16, pitfall #3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thunlp_repro.chatdev.metrics_code import compat_py_files
from thunlp_repro.chatdev.sandbox import PASS_VERDICTS, SandboxSettings, run_in_copy, run_program

COMPAT_TIMEOUT_S = 3.0
STRICT_TIMEOUT_S = 10.0


def compat_executability(folder: Path, settings: SandboxSettings | None = None) -> dict[str, Any]:
    """The released script's rule on `folder`.

    Args:
        folder: The evaluated folder (one of our project folders, or any folder).
        settings: Sandbox limits; the timeout is forced to 3 s.

    Returns:
        ``{"value", "ran_in" (folder relative to `folder`), "traceback", "verdict",
        "error_type"}``.
    """
    files = compat_py_files(folder)
    if not files:
        return {"value": 0.0, "ran_in": None, "traceback": False, "verdict": "no_python",
                "error_type": "NoMain"}  # fmt: skip
    where = files[-1].parent
    base = settings or SandboxSettings()
    run = run_in_copy(where, ["main.py"], _with_timeout(base, COMPAT_TIMEOUT_S))
    traceback = bool(run.extra.get("traceback_anywhere", "traceback" in run.stderr.lower()))
    return {
        "value": 0.0 if traceback else 1.0,
        "ran_in": where.relative_to(folder).as_posix(),
        "traceback": traceback,
        "verdict": run.verdict,
        "error_type": run.error_type,
    }


def _with_timeout(settings: SandboxSettings, timeout_s: float) -> SandboxSettings:
    from dataclasses import replace

    return replace(settings, timeout_s=timeout_s)


def strict_executability(
    code_dir: Path,
    entry: str | None = None,
    language: str | None = None,
    settings: SandboxSettings | None = None,
) -> dict[str, Any]:
    """Our rule on a code tree.

    Args:
        code_dir: The code tree (`<project>/code`).
        entry: Entry file; None = the language's entry file (`main.py` for Python).
        language: Normalised language; None = Python.
        settings: Sandbox settings (timeout default 10 s).

    Returns:
        ``{"value", "verdict", "entry", "exit_code", "error_type", "stderr_tail"}``.
    """
    settings = settings or SandboxSettings(timeout_s=STRICT_TIMEOUT_S)
    if not code_dir.is_dir():
        return {"value": 0.0, "verdict": "no_entry", "entry": entry, "exit_code": None,
                "error_type": None, "stderr_tail": "no code folder"}  # fmt: skip
    run = run_program(code_dir, entry, language or "python", settings)
    return {
        "value": 1.0 if run.verdict in PASS_VERDICTS else 0.0,
        "verdict": run.verdict,
        "entry": run.entry,
        "exit_code": run.exit_code,
        "error_type": run.error_type,
        "stderr_tail": "\n".join(run.stderr.splitlines()[-8:]),
    }
