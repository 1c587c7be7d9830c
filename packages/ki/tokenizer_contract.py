"""The tokenizer and vocabulary contract between teacher and student (ki.md §2.7).

Teacher and student must share one tokenizer: the full token -> id maps and the special-token ids
are compared at start-up, and any difference raises `TokenizerMismatchError`, naming both
tokenizers, their sizes and the first differing id. There is no best-effort remapping. Output
layers wider than `len(tokenizer)` (padded vocabularies) are sliced to `len(tokenizer)` on both
sides before any softmax, and only when the tokenizers are identical.
"""

from __future__ import annotations

from typing import Any

from thunlp_repro.shared.errors import UsageError

SPECIALS = ("pad", "mask", "bos", "cls", "eos", "sep", "unk")


class TokenizerMismatchError(UsageError):
    """Teacher and student tokenizers differ (ki.md §2.7)."""


def _name(tok: Any) -> str:
    return str(getattr(tok, "name_or_path", "") or type(tok).__name__)


def check_same_tokenizer(teacher: Any, student: Any) -> None:
    """Raise `TokenizerMismatchError` unless the two tokenizers map tokens identically.

    Args:
        teacher: The teacher's tokenizer.
        student: The student's tokenizer.

    Raises:
        TokenizerMismatchError: vocabularies or special-token ids differ.
    """
    if teacher is student:
        return
    a, b = teacher.get_vocab(), student.get_vocab()
    head = (
        f"teacher tokenizer {_name(teacher)} ({len(a)} tokens) and student tokenizer "
        f"{_name(student)} ({len(b)} tokens) differ"
    )
    if a != b:
        inv_a = {i: t for t, i in a.items()}
        inv_b = {i: t for t, i in b.items()}
        for i in sorted(set(inv_a) | set(inv_b)):
            if inv_a.get(i) != inv_b.get(i):
                raise TokenizerMismatchError(
                    f"{head}: first differing id {i}: teacher {inv_a.get(i)!r} vs student "
                    f"{inv_b.get(i)!r}; KI needs one shared tokenizer (no remapping)"
                )
    for s in SPECIALS:
        ta, tb = getattr(teacher, f"{s}_token_id", None), getattr(student, f"{s}_token_id", None)
        if ta != tb:
            raise TokenizerMismatchError(f"{head}: special token {s}: id {ta} vs {tb}")


def check_logit_width(model_vocab: int, tokenizer: Any, who: str) -> int:
    """The width to slice logits to (`len(tokenizer)`); an output layer narrower is an error."""
    n = len(tokenizer)
    if model_vocab < n:
        raise TokenizerMismatchError(
            f"{who} output layer has {model_vocab} entries, fewer than its tokenizer's {n}"
        )
    return n
