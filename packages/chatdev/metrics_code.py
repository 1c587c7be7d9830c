"""Which code a metric reads, and how comments are taken out of it.

Two views of a project folder:

- `compatible` (the released `eval_quality.py` [repo]): every file whose name contains `.py`
  anywhere under the evaluated folder, keyed by **base name** (same-named files collide, the
  later one in walk order wins), blank lines removed, serialised as ``name`` + a ```` ```Python ````
  block; no file gives the text ``# None``. Walk order is sorted here for determinism (the repo
  uses the file system's order). Our harness files that a repo ``WareHouse`` folder does not have
  (`command.txt`, `log.txt`, the `base/` copy, ...) are left out, so the view of one of our
  project folders is the view of the repo's.
- `strict` (ours): the source files of `code/` by relative path, any language.

Comment removal: `compat_strip_comments` is the script's rule (lines starting with ``#`` dropped,
then the insides of triple-quoted strings blanked); `strict_strip_comments` drops comments with
`tokenize` and docstrings with `ast` (other languages: ``//``, ``/* */`` and ``#`` comments).

Reproduces: ChatDev §4 (metrics), chatdev.md §2.16 ("Released script", "Our two variants").
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from pathlib import Path

#: Our harness files and folders that a repo WareHouse folder lacks (left out of `compatible`).
HARNESS_FILES = {"command.txt", "log.txt", "llama_server.log", "eval.json", "events.jsonl",
                 "transcript.jsonl", "results.json", "env.json", "cost.json", "state.json",
                 "config.yaml", "company.yaml", "replay.json"}  # fmt: skip
HARNESS_DIRS = {"base", "config", "checkpoints", ".git", "__pycache__"}
#: Extensions `strict` counts as source code.
SOURCE_EXT = {"py", "js", "ts", "jsx", "tsx", "mjs", "java", "c", "h", "cpp", "cc", "hpp", "cs",
              "go", "rs", "rb", "php", "kt", "swift", "html", "css", "sh", "lua", "dart",
              "scala"}  # fmt: skip
DOC_NAMES = {"requirements.txt", "manual.md"}


def walk_sorted(root: Path, *, skip_harness: bool = True) -> list[Path]:
    """Every file under `root` in sorted `os.walk` order (a folder's files before its subfolders).

    Args:
        root: The folder.
        skip_harness: Leave out `HARNESS_FILES` at the top level and `HARNESS_DIRS` anywhere.
    """
    out: list[Path] = []
    for here, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not (skip_harness and d in HARNESS_DIRS))
        at_top = Path(here) == Path(root)
        for name in sorted(files):
            if skip_harness and at_top and name in HARNESS_FILES:
                continue
            out.append(Path(here) / name)
    return out


def compat_py_files(folder: Path) -> list[Path]:
    """Files the script treats as Python: `.py` anywhere in the name (so `.pyc` too), walk order."""
    return [p for p in walk_sorted(folder) if ".py" in p.name]


def compat_code_text(folder: Path) -> str:
    """The script's `get_code`: base-name keyed, blank lines removed, ```` ```Python```` blocks."""
    books: dict[str, str] = {}
    for path in compat_py_files(folder):
        text = path.read_text(encoding="utf-8", errors="replace")
        books[path.name] = "\n".join(ln for ln in text.split("\n") if ln.strip())
    code = "".join(f"{name}\n```Python\n{body}\n```\n\n" for name, body in books.items())
    return code.strip() if code else "# None"


def compat_strip_comments(text: str) -> str:
    """The script's `remove_comments`: drop `#` lines, then blank triple-quoted insides."""
    for pattern in (r"'''(.*?)'''", r'"""(.*?)"""'):
        text = "\n".join(ln for ln in text.split("\n") if not ln.strip().startswith("#"))
        inner = [m.group(1) for m in re.finditer(pattern, text, re.DOTALL)]
        for chunk in [*inner, "''''''\n"]:
            text = text.replace(chunk, "")
    return text


def source_files(code_dir: Path) -> dict[str, str]:
    """`strict`: the source files of a code tree by relative POSIX path (docs excluded)."""
    out: dict[str, str] = {}
    if not code_dir.is_dir():
        return out
    for path in walk_sorted(code_dir, skip_harness=False):
        rel = path.relative_to(code_dir).as_posix()
        parts = rel.split("/")
        if any(p in HARNESS_DIRS or p.startswith(".") for p in parts[:-1]):
            continue
        ext = path.suffix.lower().lstrip(".")
        if rel.lower() in DOC_NAMES or ext not in SOURCE_EXT:
            continue
        out[rel] = path.read_text(encoding="utf-8", errors="replace")
    return out


def _docstring_lines(source: str) -> set[int]:
    """Line numbers covered by module, class and function docstrings."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    end = body[0].end_lineno or body[0].lineno
                    lines.update(range(body[0].lineno, end + 1))
    return lines


def strip_python_comments(source: str) -> str:
    """Python source without `#` comments (tokenize) and docstrings (ast); blank lines dropped."""
    doc = _docstring_lines(source)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        lines = [ln for ln in source.splitlines() if not ln.strip().startswith("#")]
        return "\n".join(ln for ln in lines if ln.strip())
    lines = source.splitlines()
    for tok in reversed(tokens):  # cut comments from the end of their lines
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            lines[row - 1] = lines[row - 1][:col].rstrip()
    kept = [ln for i, ln in enumerate(lines, 1) if i not in doc and ln.strip()]
    return "\n".join(kept)


_C_BLOCK = re.compile(r"/\*.*?\*/", re.DOTALL)
_C_LINE = re.compile(r"(^|[^:\"'])//.*$", re.MULTILINE)
_HASH_LINE = re.compile(r"^\s*#(?!include|define|if|endif|pragma).*$", re.MULTILINE)
_HTML = re.compile(r"<!--.*?-->", re.DOTALL)


def strip_comments(path: str, source: str) -> str:
    """`strict` comment removal for any language (Python: tokenize + ast)."""
    ext = path.rsplit(".", 1)[-1].lower()
    if ext == "py":
        return strip_python_comments(source)
    if ext in ("html",):
        source = _HTML.sub("", source)
    elif ext in ("sh", "rb"):
        source = _HASH_LINE.sub("", source)
    else:
        source = _C_LINE.sub(r"\1", _C_BLOCK.sub("", source))
    return "\n".join(ln for ln in source.splitlines() if ln.strip())


def strict_code_text(files: dict[str, str]) -> str:
    """Code text for consistency: comment-free files, each under its path line."""
    parts = []
    for path in sorted(files):
        body = strip_comments(path, files[path])
        if body.strip():
            parts.append(f"{path}\n{body}")
    return "\n\n".join(parts)
