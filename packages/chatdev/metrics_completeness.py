"""Completeness: is the software free of placeholder code? (1 = complete, 0 = placeholders).

- `compatible` (paper column, the released script [repo]): lower-case every line of the
  compatible code text (`metrics_code.compat_code_text`, file-name lines included); drop lines
  containing ``password``, ``passenger``, ``passed`` or ``passes``; 0 if any remaining line
  contains ``pass`` or ``todo`` as a substring. Flaws kept on purpose: ``bypass``, ``compass``,
  ``except: pass``, a to-do app, all score 0; an empty project (``# None``) scores 1.
- `strict` (ours): Python files are parsed; a function or method whose body (after an optional
  docstring) is only ``pass``, ``...`` or ``raise NotImplementedError`` is a placeholder
  (``@abstractmethod`` and ``Protocol`` members excluded); so is a branch of ``if``/``for``/
  ``while``/``with`` whose body is only ``pass`` or ``...`` (the 1.5B model's usual stub,
  ``# Implement the movement here`` + ``pass``, found in our first local run; an extension of
  chatdev.md §2.16; ``except: pass`` and empty class bodies stay legitimate); ``TODO``/``FIXME``
  or "not implemented" inside **comments** (found with `tokenize`, word-bounded) is a
  placeholder; a syntax error scores 0; no source file scores 0. Other languages: the same
  comment markers plus language stubs (``throw new UnsupportedOperationException``, ...).

Every result carries the places that made it 0, so each 0 can be explained.

Reproduces: ChatDev §4 / Table 1 (Completeness), chatdev.md §2.16.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path
from typing import Any

from thunlp_repro.chatdev.metrics_code import compat_code_text, source_files

EXCLUDED_WORDS = ("password", "passenger", "passed", "passes")
_CASE_MARKER = re.compile(r"\b(?:TODO|FIXME)\b")
_NOT_IMPL = re.compile(r"\bnot (?:yet )?implemented\b", re.IGNORECASE)
_OTHER_COMMENT = re.compile(r"//(.*)$|/\*(.*?)\*/|^\s*#(.*)$|<!--(.*?)-->", re.M | re.S)
_OTHER_STUBS = re.compile(
    r"throw\s+new\s+(?:UnsupportedOperationException|NotImplementedException)|"
    r"\btodo!\s*\(|\bunimplemented!\s*\(|throw\s+new\s+Error\(\s*['\"]not implemented",
    re.IGNORECASE,
)


def compat_completeness(folder: Path) -> dict[str, Any]:
    """The released script's substring rule on `folder` (our project folder or any folder).

    Returns:
        ``{"value": 0.0 | 1.0, "hits": [offending lines, at most 5]}``.
    """
    lines = compat_code_text(folder).split("\n")
    kept = [ln for ln in lines if not any(w in ln.lower() for w in EXCLUDED_WORDS)]
    hits = [ln.strip() for ln in kept if "pass" in ln.lower() or "todo" in ln.lower()]
    return {"value": 0.0 if hits else 1.0, "hits": hits[:5]}


def _marker(comment: str) -> bool:
    """A placeholder marker in a comment: TODO / FIXME (upper case) or "not implemented"."""
    return bool(_CASE_MARKER.search(comment) or _NOT_IMPL.search(comment))


def _is_stub(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return stmt.value.value is Ellipsis
    if isinstance(stmt, ast.Raise) and stmt.exc is not None:
        exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def _names(nodes: list[ast.expr]) -> set[str]:
    return {getattr(n, "id", getattr(n, "attr", "")) for n in nodes}


def python_placeholders(path: str, source: str) -> list[str]:
    """Placeholder places in one Python file, as ``path:line: what`` strings."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"{path}:{exc.lineno}: syntax error ({exc.msg})"]
    found: list[str] = []

    def visit(node: ast.AST, protocol: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, "Protocol" in _names(child.bases))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                body = list(child.body)
                first = body[0] if body else None
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and (
                    isinstance(first.value.value, str)
                ):  # fmt: skip
                    body = body[1:]
                abstract = "abstractmethod" in _names(child.decorator_list)
                if body and all(_is_stub(s) for s in body) and not (protocol or abstract):
                    found.append(f"{path}:{child.lineno}: placeholder body in {child.name}()")
                visit(child, False)
            else:
                if isinstance(child, ast.If | ast.For | ast.AsyncFor | ast.While | ast.With
                              | ast.AsyncWith):  # fmt: skip
                    for body in (child.body, getattr(child, "orelse", [])):
                        if body and all(_is_stub(s) for s in body):
                            found.append(f"{path}:{body[0].lineno}: empty branch "
                                         f"({type(child).__name__.lower()})")  # fmt: skip
                visit(child, protocol)

    visit(tree, False)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT and _marker(tok.string):
                found.append(f"{path}:{tok.start[0]}: comment {tok.string.strip()[:60]!r}")
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return found


def other_placeholders(path: str, source: str) -> list[str]:
    """Placeholder places in a non-Python source file (comment markers and language stubs)."""
    found = []
    for m in _OTHER_COMMENT.finditer(source):
        text = next((g for g in m.groups() if g), "")
        if _marker(text):
            line = source.count("\n", 0, m.start()) + 1
            found.append(f"{path}:{line}: comment {text.strip()[:60]!r}")
    for m in _OTHER_STUBS.finditer(source):
        line = source.count("\n", 0, m.start()) + 1
        found.append(f"{path}:{line}: stub {m.group(0)[:60]!r}")
    return found


def strict_completeness(code_dir: Path) -> dict[str, Any]:
    """Our rule on a code tree.

    Returns:
        ``{"value": 0.0 | 1.0, "placeholders": [...], "n_source_files": int}``; no source file
        gives 0 with the reason in ``placeholders``.
    """
    files = source_files(code_dir)
    if not files:
        return {"value": 0.0, "placeholders": ["no source file"], "n_source_files": 0}
    found: list[str] = []
    for path, source in files.items():
        if path.endswith(".py"):
            found += python_placeholders(path, source)
        else:
            found += other_placeholders(path, source)
    return {"value": 0.0 if found else 1.0, "placeholders": found,
            "n_source_files": len(files)}  # fmt: skip
