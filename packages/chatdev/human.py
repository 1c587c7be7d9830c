"""Human-agent interaction: the customer reviews the code and the programmer acts on it.

The repo's `Human` company adds the loop `HumanAgentInteraction` (5 cycles) with one sub-phase,
`CodeReviewHuman` (Programmer <- Code Reviewer): each cycle the person at the terminal looks
at the code, types feedback, and the programmer changes the code accordingly; the loop ends
early when the person has nothing more to say [repo].

Ours makes the source of the feedback injectable: any callable `(shown_text) -> answer`.
Shipped sources:

- `StreamHuman`: reads answers from a text stream typed as on the console (several lines per
  answer, an empty line submits); `ConsoleHuman` = stdin with the prompt on stderr;
  `FileHuman` = the same format from a file (`--human-input FILE`), so tests are scripted.
- `RecordedHuman`: the answers of a recorded project (`events.jsonl`), for replay.

An answer that is empty, `end` or `exit` (any case) finishes the review loop; running out of
input (end of file) gives an empty answer.

Reproduces: chatdev.md §2.12 (loop `HumanAgentInteraction`, phase `CodeReviewHuman`), §2.15
(human in the loop); the repo's Human company.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from thunlp_repro.shared.errors import ReproError, UsageError

HumanInput = Callable[[str], str]
FINISH_WORDS = ("", "end", "exit")


def finishes(answer: str | None) -> bool:
    """Whether an answer ends the review: empty, `end` or `exit` (case-insensitive)."""
    return answer is None or answer.strip().lower() in FINISH_WORDS


class StreamHuman:
    """Answers read from a text stream: lines up to an empty line (or end of input) make one
    answer; the shown text goes to `out` (None = not shown)."""

    def __init__(self, stream: TextIO, out: TextIO | None = None) -> None:
        self.stream = stream
        self.out = out

    def __call__(self, shown: str) -> str:
        if self.out is not None:
            print(shown, file=self.out, flush=True)
        lines: list[str] = []
        while True:
            line = self.stream.readline()
            if not line:  # end of input
                break
            line = line.rstrip("\r\n")
            if not line.strip():
                break
            if not lines and line.strip().lower() in FINISH_WORDS:
                return line.strip()
            lines.append(line)
        return "\n".join(lines)


class ConsoleHuman(StreamHuman):
    """The person at the terminal (stdin; the code listing and instructions on stderr)."""

    def __init__(self) -> None:
        super().__init__(sys.stdin, sys.stderr)


class FileHuman(StreamHuman):
    """Scripted answers from a file, written exactly as they would be typed on the console.

    Raises:
        UsageError: the file does not exist or is not UTF-8 text.
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise UsageError(
                f"--human-input {path}: no such file (expected a text file of answers)"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"--human-input {path}: not UTF-8 text") from None
        import io

        super().__init__(io.StringIO(text), None)
        self.path = path


class RecordedHuman:
    """The answers a recorded project received, served in order (replay)."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.position = 0

    def __call__(self, shown: str) -> str:
        if self.position >= len(self.answers):
            raise ReproError(f"replay diverged: human answer {self.position} was not recorded")
        answer = self.answers[self.position]
        self.position += 1
        return answer

    @classmethod
    def from_events(cls, events: list[dict[str, Any]]) -> RecordedHuman:
        return cls([str(e.get("comment") or "") for e in events
                    if e.get("event") == "human_comment"])  # fmt: skip


def shown_text(cycle: int, cycles: int, code_dir: Path | str, files: list[str]) -> str:
    """What the reviewer sees each round: where the code is, which files, how to answer."""
    from thunlp_repro.chatdev import prompts

    listing = "\n".join(f"  {name}" for name in files) or "  (no files yet)"
    return prompts.HUMAN_REVIEW_INTRO.format(cycle=cycle, cycles=cycles, code_dir=code_dir,
                                             files=listing)  # fmt: skip


def build_human(source: HumanInput | str | Path | None) -> HumanInput:
    """A callable source: given as is, a file of answers, or (None) the console."""
    if source is None:
        return ConsoleHuman()
    if callable(source):
        return source
    return FileHuman(source)
