"""Consistency: cosine between the embeddings of the requirement and of the (comment-free) code.

- `compatible` (paper column, the released script [repo]): the task text is the **first**
  ``*.txt`` file of the folder in (sorted) walk order — on our layout and on a repo WareHouse
  folder that is ``meta.txt``, which starts with the task; the code text is the compatible code
  text with ``#`` lines and triple-quoted insides removed; each text is embedded whole (no
  windows; a transformers embedder truncates at its window). No ``.txt`` file: the script
  crashes; we record ``None`` and say so.
- `strict` (ours): the task text comes from the project's metadata (``task.prompt``, else
  ``meta.json``'s ``task``); comments and docstrings are removed with `tokenize`/`ast`; the code
  is split into windows (256 tokens for MiniLM), each window embedded, the window vectors
  mean-pooled and L2-normalised. No source code scores 0.

Reproduces: ChatDev §4 / Table 1 (Consistency), chatdev.md §2.16.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from thunlp_repro.chatdev.metrics_code import (
    compat_code_text,
    compat_strip_comments,
    source_files,
    strict_code_text,
    walk_sorted,
)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (0 when either is zero)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return 0.0 if na == 0 or nb == 0 else float(np.dot(a, b) / (na * nb))


def compat_task_file(folder: Path) -> Path | None:
    """The first `*.txt` file in sorted walk order (the script's task source)."""
    return next((p for p in walk_sorted(folder) if p.name.endswith(".txt")), None)


def compat_consistency(folder: Path, embedder: Any) -> dict[str, Any]:
    """The released script's rule on `folder` with `embedder`.

    Returns:
        ``{"value": float | None, "task_source": relative path | None}``.
    """
    task_file = compat_task_file(folder)
    if task_file is None:
        return {"value": None, "task_source": None,
                "note": "no .txt file: the released script fails on this folder"}  # fmt: skip
    task = task_file.read_text(encoding="utf-8", errors="replace").strip() or "None"
    code = compat_strip_comments(compat_code_text(folder)) or "#"
    vec = embedder.embed([task, code])
    return {"value": cosine(vec[0], vec[1]),
            "task_source": task_file.relative_to(folder).as_posix()}  # fmt: skip


def embed_windows(text: str, embedder: Any) -> np.ndarray:
    """Mean of the window embeddings of `text`, L2-normalised."""
    vecs = embedder.embed(embedder.windows(text))
    mean = vecs.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean


def strict_consistency(code_dir: Path, task: str, embedder: Any) -> dict[str, Any]:
    """Our rule: metadata task vs windowed, comment-free code.

    Returns:
        ``{"value": float, "n_windows": int}``.
    """
    code = strict_code_text(source_files(code_dir))
    if not code.strip():
        return {"value": 0.0, "n_windows": 0, "note": "no source code"}
    task_vec = embed_windows(task, embedder)
    code_vec = embed_windows(code, embedder)
    return {"value": cosine(task_vec, code_vec), "n_windows": len(embedder.windows(code))}
