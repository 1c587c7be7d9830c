"""Code extraction from replies (filename line + fenced block) and the project's codebook.

Our rules (default): a line-based fence scanner (back-ticks inside code never end a block);
the filename comes from the nearest non-empty line above the fence or from the info string;
subfolders allowed, case kept; content kept byte for byte (only CRLF and the final newline are
normalised); unsafe paths (absolute, `..`, drive letters, reserved names, `.git/`, escapes
through symlinks, case clashes) are refused with a reason. `compat.parser = repo` reproduces the
official parser's quirks (flat, lower-cased names, `CODE` bodies skipped, blank lines deleted).

Reproduces: ChatDev §3.1 (code as the carried solution); chatdev.md §2.9-§2.10, pitfalls #6-#7.
"""

from __future__ import annotations

import ast
import difflib
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

logger = logging.getLogger(__name__)

MAX_PATH = 200
MAX_FILES = 200
MAX_FILE_BYTES = 1 << 20
RESERVED_WINDOWS = (
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
META_NAMES = {"requirements.txt", "manual.md"}  # routed to docs, never into the codebook
TEMPLATE_TOKENS = {"CODE", "DOCSTRING", "'''", '"""', "FILENAME", "LANGUAGE", "MANUAL"}

LANG_EXT = {
    "python": "py", "py": "py", "python3": "py", "javascript": "js", "js": "js", "node": "js",
    "typescript": "ts", "ts": "ts", "java": "java", "c": "c", "cpp": "cpp", "c++": "cpp",
    "csharp": "cs", "c#": "cs", "go": "go", "golang": "go", "rust": "rs", "html": "html",
    "css": "css", "json": "json", "yaml": "yaml", "yml": "yaml", "markdown": "md", "md": "md",
    "bash": "sh", "sh": "sh", "shell": "sh", "sql": "sql", "text": "txt", "txt": "txt",
    "ruby": "rb", "php": "php", "kotlin": "kt", "swift": "swift",
}  # fmt: skip
EXT_LANG = {
    "py": "python", "js": "javascript", "ts": "typescript", "java": "java", "c": "c", "h": "c",
    "cpp": "cpp", "cc": "cpp", "hpp": "cpp", "cs": "csharp", "go": "go", "rs": "rust",
    "html": "html", "css": "css", "json": "json", "yaml": "yaml", "yml": "yaml", "md": "markdown",
    "sh": "bash", "sql": "sql", "txt": "text", "rb": "ruby", "php": "php", "kt": "kotlin",
}  # fmt: skip
LANGUAGE_ALIASES = {
    "python3": "python", "py": "python", "js": "javascript", "node.js": "javascript",
    "nodejs": "javascript", "node": "javascript", "c++": "cpp", "c#": "csharp", "golang": "go",
    "ts": "typescript",
}  # fmt: skip
ENTRY_FILES = {"python": "main.py", "javascript": "main.js", "java": "Main.java", "c": "main.c",
               "cpp": "main.cpp", "html": "index.html"}  # fmt: skip

KNOWN_EXT = set(EXT_LANG) | {
    "ini", "cfg", "toml", "csv", "xml", "svg", "env", "lock", "gradle", "kts", "scss", "less",
    "vue", "jsx", "tsx", "mjs", "cjs", "bat", "ps1", "r", "lua", "pl", "dart", "scala", "hs",
    "ex", "exs", "m", "mm", "swift", "tex", "rst", "dockerfile", "mk", "cmake", "proto",
}  # fmt: skip
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_PATHLIKE = re.compile(r"^[\w\-./]*[\w\-]\.[A-Za-z0-9]{1,10}$")


class UnsafePath(ValueError):
    """A file name the codebook refuses; the message says why."""


def normalise_language(name: str) -> str:
    """Lower-case and map aliases (`python3` -> `python`, `node.js` -> `javascript`, ...)."""
    key = name.strip().strip(".").lower()
    return LANGUAGE_ALIASES.get(key, key)


def language_of(path: str) -> str:
    """Language of a file from its extension ('' when unknown)."""
    return EXT_LANG.get(PurePosixPath(path).suffix.lstrip(".").lower(), "")


def check_path(name: str, existing: list[str] | None = None, root: Path | None = None) -> str:
    """Validate a relative POSIX path for the code tree and return its normal form.

    Raises:
        UnsafePath: absolute, drive letter, `..`, empty parts, NUL, Windows reserved names,
            `.git/`, too long, a case-only clash with an existing file, or (with `root`) a
            location that resolves outside the root.
    """
    raw = name.strip()
    if not raw:
        raise UnsafePath("empty file name")
    if "\x00" in raw:
        raise UnsafePath(f"{raw!r}: NUL character")
    if "\\" in raw:
        raise UnsafePath(f"{raw!r}: backslash in path (use '/')")
    if raw.startswith("/") or raw.startswith("~"):
        raise UnsafePath(f"{raw!r}: absolute path")
    if re.match(r"^[A-Za-z]:", raw):
        raw_drive = raw
        raise UnsafePath(f"{raw_drive!r}: drive letter")
    parts = raw.split("/")
    if raw.startswith("./"):
        parts = parts[1:]
    if any(p in ("", ".") for p in parts):
        raise UnsafePath(f"{raw!r}: empty path component")
    if any(p == ".." for p in parts):
        raise UnsafePath(f"{raw!r}: '..' would leave the project folder")
    if parts[0] == ".git" or ".git" in parts:
        raise UnsafePath(f"{raw!r}: inside .git")
    for part in parts:
        if part.split(".")[0].lower() in RESERVED_WINDOWS:
            raise UnsafePath(f"{raw!r}: '{part}' is a reserved name on Windows")
        if part.endswith((" ", ".")):
            raise UnsafePath(f"{raw!r}: component ends with a space or dot")
    path = "/".join(parts)
    if len(path) > MAX_PATH:
        raise UnsafePath(f"{raw[:40]!r}...: path longer than {MAX_PATH} characters")
    for other in existing or []:
        if other != path and other.lower() == path.lower():
            raise UnsafePath(f"{raw!r}: differs only in case from existing '{other}'")
    if root is not None:
        root_r = root.resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root_r):
            raise UnsafePath(f"{raw!r}: resolves outside the project folder")
    return path


def _known_ext(name: str) -> bool:
    return PurePosixPath(name).suffix.lstrip(".").lower() in KNOWN_EXT


def _clean_filename_line(line: str) -> str | None:
    """A file name from a line above a fence, or None when the line is prose."""
    text = line.strip()
    text = re.sub(r"^#+\s*", "", text)
    text = text.strip("*_` \t")
    text = re.sub(r"^(file\s*name|filename|file|path)\s*[:\-]?\s*", "", text, flags=re.I)
    text = text.strip("*_`:\"' \t")
    text = re.sub(r"\s*\(.*\)$", "", text).strip("*_`:\"' \t")
    if _known_ext(text) and (_PATHLIKE.match(text) or text.startswith(("/", "../"))):
        return text
    tokens = [t.strip("*_`:\"',;()[]") for t in line.split()]
    for token in reversed(tokens):
        if (
            token
            and _known_ext(token)
            and (_PATHLIKE.match(token) or token.startswith(("../", "/")))
        ):
            return token
    return None


def _info_filename(info: str) -> tuple[str, str | None]:
    """Language tag and optional filename from a fence info string (`python main.py`,
    `python:src/app.py`)."""
    info = info.strip()
    if not info:
        return "", None
    if ":" in info.split()[0]:
        lang, _, name = info.split()[0].partition(":")
        return lang, name or None
    tokens = info.split()
    lang = tokens[0]
    if len(tokens) == 1 and _known_ext(lang) and _PATHLIKE.match(lang):
        return language_of(lang) or "", lang
    for token in tokens[1:]:
        token = token.strip("`\"'")
        if _known_ext(token) and (_PATHLIKE.match(token) or token.startswith(("../", "/"))):
            return lang, token
    return lang, None


@dataclass
class Block:
    """One fenced block of a reply."""

    filename: str | None
    lang: str
    body: str
    line: int


def scan_blocks(text: str) -> tuple[list[Block], list[str]]:
    """All complete fenced blocks of `text` (our rule) and warnings (unterminated blocks)."""
    lines = text.replace("\r\n", "\n").split("\n")
    blocks: list[Block] = []
    warnings: list[str] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, info = match.group(1), match.group(2)
        if fence[0] == "`" and "`" in info:  # inline code, not a fence
            i += 1
            continue
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j >= len(lines):
            warnings.append(f"unterminated code block at line {i + 1} (reply cut off?)")
            break
        lang, name = _info_filename(info)
        if name is None:
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            if k >= 0 and not _FENCE.match(lines[k]):
                name = _clean_filename_line(lines[k])
        blocks.append(Block(name, lang.lower(), "\n".join(lines[i + 1 : j]), i + 1))
        i = j + 1
    return blocks, warnings


def is_template_echo(body: str) -> bool:
    """True when a block holds only the format's abstract tokens (an echoed template)."""
    rest = [ln.strip() for ln in body.splitlines() if ln.strip()]
    return bool(rest) and all(ln in TEMPLATE_TOKENS or ln.strip("#/ ") in TEMPLATE_TOKENS
                              for ln in rest)  # fmt: skip


def _normalise_content(body: str) -> str:
    text = body.replace("\r\n", "\n")
    return text if text.endswith("\n") else text + "\n"


@dataclass
class Extraction:
    """What a reply yielded: files, docs, refused names and notes for the next prompt."""

    files: dict[str, str] = field(default_factory=dict)
    requirements: str | None = None
    manual: str | None = None
    rejected: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    n_blocks: int = 0


def extract(
    text: str,
    *,
    existing: list[str] | None = None,
    entry_file: str = "main.py",
    has_entry: bool = False,
    root: Path | None = None,
    parser: str = "ours",
) -> Extraction:
    """Extract files from one reply.

    Args:
        text: The assistant's reply.
        existing: Paths already in the codebook (for case clashes).
        entry_file: The expected entry file (used for a lone unnamed block).
        has_entry: Whether the codebook already has the entry file.
        root: Code root; when given, resolved paths must stay inside it.
        parser: "ours" or "repo" (the official parser's quirks).
    """
    if parser == "repo":
        return _extract_repo(text)
    blocks, warnings = scan_blocks(text)
    out = Extraction(notes=list(warnings))
    existing = list(existing or [])
    usable = [b for b in blocks if not is_template_echo(b.body)]
    out.n_blocks = len(usable)
    for block in usable:
        name = block.filename
        if name is None:
            ext = LANG_EXT.get(block.lang)
            if block.lang in ("", "text", "txt") and len(usable) == 1:
                name = "requirements.txt" if _looks_like_requirements(block.body) else None
            if name is None and len(usable) == 1 and not has_entry and ext:
                name = f"{Path(entry_file).stem}.{ext}"
            if name is None:
                classes = re.findall(r"^\s*class\s+([A-Za-z_]\w*)", block.body, re.M)
                if classes and ext:
                    name = f"{classes[-1].lower()}.{ext}"
            if name is None:
                out.notes.append(f"a code block at line {block.line} has no file name; skipped")
                continue
        base = name.strip().lstrip("./") if name.strip().startswith("./") else name.strip()
        if base.lower() == "requirements.txt":
            out.requirements = _normalise_content(block.body)
            continue
        if base.lower() == "manual.md":
            out.manual = _normalise_content(block.body)
            continue
        try:
            path = check_path(name, existing + list(out.files), root)
        except UnsafePath as exc:
            out.rejected.append(name)
            out.notes.append(f"refused file name {exc}")
            logger.warning("refused file name %s", exc)
            continue
        content = _normalise_content(block.body)
        if len(content.encode("utf-8")) > MAX_FILE_BYTES:
            out.rejected.append(path)
            out.notes.append(f"{path}: larger than {MAX_FILE_BYTES} bytes; refused")
            continue
        out.files[path] = content
    return out


def _looks_like_requirements(body: str) -> bool:
    lines = [ln.strip() for ln in body.splitlines() if ln.strip() and not ln.startswith("#")]
    return bool(lines) and all(re.match(r"^[A-Za-z0-9_.\-\[\]]+\s*([<>=!~].*)?$", ln)
                               for ln in lines)  # fmt: skip


def _extract_repo(text: str) -> Extraction:
    """The official parser (chatdev1.0 `Codes._format_code`/`_update_codes`), quirks included."""
    out = Extraction()
    pattern = re.compile(r"(.+?)\n```.*?\n(.*?)```", re.S)
    for match in pattern.finditer(text):
        before, code = match.group(1), match.group(2)
        if "CODE" in code:
            continue
        names = re.findall(r"(\w+\.\w+)", before)
        name = names[-1].lower() if names else None
        if "__main__" in code:
            name = "main.py"
        if name is None:
            classes = re.findall(r"class (\S+?):", code)
            name = f"{classes[-1]}.py" if classes else None
        if name is None:
            continue
        out.files[name] = "\n".join(ln for ln in code.split("\n") if ln.strip())
    out.n_blocks = len(out.files)
    for match in re.finditer(r"```\n(.*?)```", text, re.S):
        out.requirements = match.group(1)
    if out.requirements is not None:
        out.files.pop("requirements.txt", None)
    return out


# ------------------------------------------------------------------------------ requirements
def clean_requirements(text: str) -> tuple[list[str], list[str]]:
    """Valid PEP 508 lines of a requirements text, and warnings for dropped lines.

    Standard-library module names (`tkinter`, `random`, ...) are dropped.
    """
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pragma: no cover - packaging ships with pip/setuptools
        Requirement = None  # type: ignore[assignment]
        InvalidRequirement = ValueError  # type: ignore[assignment,misc]
    keep: list[str] = []
    dropped: list[str] = []
    stdlib = {m.lower() for m in sys.stdlib_module_names}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            name = Requirement(line).name if Requirement else re.split(r"[<>=!~\[ ;]", line)[0]
        except InvalidRequirement:
            dropped.append(f"invalid requirement line {line!r}")
            continue
        if name.lower() in stdlib:
            dropped.append(f"standard-library module {name!r} dropped from requirements")
            continue
        if line not in keep:
            keep.append(line)
    return keep, dropped


# ------------------------------------------------------------------------------ unimplemented
def placeholder_functions(source: str) -> list[str]:
    """Functions/methods whose body is only `pass`, `...` or `raise NotImplementedError`
    (after an optional docstring); `@abstractmethod` and Protocol members excluded.
    A syntax error counts as unimplemented ("<syntax error>")."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ["<syntax error>"]
    found: list[str] = []

    def is_stub(stmt: ast.stmt) -> bool:
        if isinstance(stmt, ast.Pass):
            return True
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return stmt.value.value is Ellipsis
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
        return False

    def visit(node: ast.AST, protocol: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in child.bases}
                visit(child, "Protocol" in bases)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                decos = {getattr(d, "id", getattr(d, "attr", "")) for d in child.decorator_list}
                body = list(child.body)
                if body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant
                ) and isinstance(body[0].value.value, str):  # fmt: skip
                    body = body[1:]
                stub = bool(body) and all(is_stub(s) for s in body)
                if stub and not protocol and "abstractmethod" not in decos:
                    found.append(child.name)
                visit(child, False)

    visit(tree, False)
    return found


def is_unimplemented(path: str, content: str, rule: str = "strict") -> bool:
    """Whether a file still has placeholder code (compat: a line that is exactly `pass`)."""
    if not path.endswith(".py"):
        return False
    if rule == "compat":
        return any(line.strip() == "pass" for line in content.splitlines())
    return bool(placeholder_functions(content))


# ------------------------------------------------------------------------------ the codebook
class Codebook:
    """The project's source files (path -> text), with versions and change diffs.

    Args:
        language: Normalised language (decides the entry file).
        parser: "ours" or "repo".
    """

    def __init__(self, language: str = "python", parser: str = "ours") -> None:
        self.files: dict[str, str] = {}
        self.version = 0
        self.language = language
        self.parser = parser

    @property
    def entry_file(self) -> str:
        return ENTRY_FILES.get(self.language, "main.py")

    def entry_point(self) -> str | None:
        """The entry file if present; else the single file with a `__main__` guard."""
        if self.entry_file in self.files:
            return self.entry_file
        guarded = [p for p, c in self.files.items() if p.endswith(".py") and "__main__" in c]
        return guarded[0] if len(guarded) == 1 else None

    def ordered_paths(self) -> list[str]:
        entry = self.entry_point()
        rest = sorted(p for p in self.files if p != entry)
        return ([entry] if entry else []) + rest

    def serialise(self) -> str:
        """`{codes}`: filename line + fenced block per file, entry first, then sorted paths."""
        parts = []
        for path in self.ordered_paths():
            lang = language_of(path) or ""
            body = self.files[path]
            parts.append(f"{path}\n```{lang}\n{body}{'' if body.endswith(chr(10)) else chr(10)}```")
        return "\n\n".join(parts)

    def update(self, files: dict[str, str]) -> list[dict[str, str]]:
        """Replace the named files; bump the version if anything changed.

        Returns:
            One `{"path", "diff"}` per changed file (unified diff).
        """
        changes = []
        for path, content in files.items():
            old = self.files.get(path)
            if old == content:
                continue
            if old is None and len(self.files) >= MAX_FILES:
                logger.warning("file limit %d reached; %s refused", MAX_FILES, path)
                continue
            diff = "".join(
                difflib.unified_diff(
                    (old or "").splitlines(True), content.splitlines(True), f"a/{path}", f"b/{path}"
                )
            )
            self.files[path] = content
            changes.append({"path": path, "diff": diff})
        if changes:
            self.version += 1
        return changes

    def unimplemented(self, rule: str = "strict") -> list[str]:
        """Files with placeholder code, in path order."""
        return [p for p in sorted(self.files) if is_unimplemented(p, self.files[p], rule)]

    def write(self, root: Path) -> None:
        """Write every file under `root` (paths re-checked against the root)."""
        root.mkdir(parents=True, exist_ok=True)
        for path, content in self.files.items():
            safe = check_path(path, root=root)
            target = root / safe
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8", newline="\n")

    def load_tree(self, root: Path, max_bytes: int = MAX_FILE_BYTES) -> list[str]:
        """Load a whole existing tree (incremental mode); returns skipped paths."""
        skipped = []
        skip_dirs = {".git", "__pycache__", ".venv", "venv", "env", "node_modules", ".mypy_cache"}
        for file in sorted(root.rglob("*")):
            rel = file.relative_to(root).as_posix()
            if not file.is_file() or any(part in skip_dirs for part in rel.split("/")):
                continue
            if rel.lower() in META_NAMES or file.stat().st_size > max_bytes:
                skipped.append(rel)
                continue
            try:
                text = file.read_text(encoding="utf-8")
                path = check_path(rel, list(self.files))
            except (UnicodeDecodeError, UnsafePath):
                skipped.append(rel)
                continue
            self.files[path] = _normalise_content(text)
        if self.files:
            self.version += 1
        return skipped
