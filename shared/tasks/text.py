"""Small text utilities shared by the builders: sentence splitting and word tokens.

Reproduces: nothing paper-specific; the sentence rule used for BBC bodies and dialog turns
(prompt_transfer.md §4.2 "premises: real sentences of 8-40 words").
"""

from __future__ import annotations

import functools
import re

# A sentence ends at . ! ? (optionally followed by a closing quote or bracket) before whitespace
# and an upper-case letter, a digit or an opening quote; lower-case dialog text is also split
# before a lower-case letter when `lower=True`.
_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
_SENT_END_LOWER = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[a-zA-Z0-9])")
_ABBREV = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|St|Prof|Gen|Sen|Rep|Gov|Lt|Col|Sgt|Jr|Sr|vs|No)\.|\b[A-Z]\.)$"
)
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")


def split_sentences(text: str, *, lower: bool = False) -> list[str]:
    """Split running text into sentences (no abbreviation-aware NLP; good enough for news/dialog).

    Args:
        text: A paragraph.
        lower: Also split before lower-case starts (for lower-cased dialog text).

    Returns:
        The sentences, whitespace-normalised, empty ones dropped.
    """
    pattern = _SENT_END_LOWER if lower else _SENT_END
    parts: list[str] = []
    start = 0
    for m in pattern.finditer(text):
        piece = text[start : m.start()].strip()
        # do not split after a title abbreviation or an initial ("Mr. Smith", "J. Smith")
        if _ABBREV.search(text[start : m.start()]):
            continue
        if piece:
            parts.append(text[start : m.end()].strip())
        start = m.end()
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return [" ".join(p.split()) for p in parts if p.strip()]


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters/digits, inner apostrophes kept)."""
    return list(_words(text))


@functools.lru_cache(maxsize=200_000)
def _words(text: str) -> tuple[str, ...]:
    return tuple(w.lower().replace("’", "'") for w in _WORD.findall(text))


def word_count(text: str) -> int:
    """Number of whitespace-separated words."""
    return len(text.split())


def jaccard(a: str, b: str) -> float:
    """Word-set Jaccard similarity of two texts (lower-cased word tokens)."""
    sa, sb = set(_words(a)), set(_words(b))
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)
