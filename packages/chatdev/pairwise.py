"""Pairwise judge: which of two projects for the same requirement is better (win rates).

`thunlp-repro chatdev pairwise A_DIR B_DIR --judge MODEL`. A_DIR and B_DIR are two project
folders, or two batch folders whose task sub-folders are paired by name (the task id). For each
pair an LLM judge sees the requirement and both projects' manual and source files and ends its
answer with `VERDICT: A`, `VERDICT: B` or `VERDICT: TIE`. Every pair is asked twice, the second
time with the two projects swapped between the slots, and a side wins only when both answers
pick it; anything else (a tie, disagreement, an answer without a verdict line) is a draw. This
is our protocol: the paper says its judge follows CAMEL's setup with position-bias mitigation
and gives no more detail. The prompt is our own text.

Limits [ours]: per project at most `max_code_chars` (12,000) characters of source files and
`max_manual_chars` (3,000) of manual are shown, so two projects plus the requirement stay near
10k tokens (a 16k local context or GPT-4's 8k-32k windows). The code budget is shared out like
water-filling: short files are shown whole, long files are cut at a line end with a marker; both
projects get the same caps.

`pairwise.json` (written atomically after every task) keeps, per task, both raw answers, the
parsed verdicts, the request hashes and usage, and the outcome; plus the totals (win / lose /
draw in %), the judge, the settings, unpaired and unfinished tasks. A rerun reuses every answer
whose request (model, messages, sampling) is unchanged, so it only asks what is missing.

Reproduces: ChatDev Table 2 (pairwise preference, GPT-4 judge); chatdev.md §2.16 "Win rates",
§6 T2.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thunlp_repro.chatdev.batch import FINAL
from thunlp_repro.shared import io
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.llm.base import ChatRequest, LLMClient, LLMError

logger = logging.getLogger(__name__)

SCHEMA = 1
PROMPT_VERSION = "pairwise-v1"
ORDERS = ("ab", "ba")  # which side fills slot A then slot B
OUTCOMES = ("a", "b", "draw")

SYSTEM_PROMPT = (
    "You review small software projects. You are shown one requirement and two projects that "
    "were written for it, labelled A and B, and you decide which project serves the requirement "
    "better. The labels and the order of presentation carry no information, and neither does "
    "the amount of code: judge only what the projects do and how well."
)

CRITERIA = """\
# How to decide
Consider, most important first:
1. Coverage: does the program provide what the requirement asks for, feature by feature?
2. Running: would it start and work without errors (imports, names, syntax, missing files)?
3. Finished work: no stubs, placeholders or to-do notes where real logic belongs.
4. Use: can a user operate it as the manual says, and is the code clear?
Parts marked as cut were shortened for length by the reviewer's tools, the same way for both
projects; do not hold a cut against a project. Say TIE only when neither project is clearly
better.

Reason in at most five short sentences. Then end your reply with one line of exactly this form
and nothing after it:
VERDICT: A
(or VERDICT: B, or VERDICT: TIE)"""


@dataclass
class JudgeSettings:
    """How the judge is asked (recorded in `pairwise.json`)."""

    model: str
    temperature: float = 0.0  # deterministic; the paper does not give the judge's sampling
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int | None = None
    max_code_chars: int = 12_000
    max_manual_chars: int = 3_000


@dataclass
class Pair:
    """Two project folders answering the same task."""

    task_id: str
    a: Path
    b: Path


@dataclass
class Pairing:
    """What `pair_folders` found."""

    mode: str  # "project" | "batch"
    pairs: list[Pair]
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    unfinished: dict[str, list[str]] = field(default_factory=dict)  # side -> task ids


@dataclass
class Side:
    """One project as the judge sees it."""

    path: Path
    task: str | None
    status: str | None
    text: str  # manual and files, rendered for the prompt
    files: list[str]
    shown_chars: int
    total_chars: int
    truncated: bool

    def record(self) -> dict[str, Any]:
        return {"path": str(self.path), "status": self.status, "files": self.files,
                "shown_chars": self.shown_chars, "total_chars": self.total_chars,
                "truncated": self.truncated}  # fmt: skip


# ------------------------------------------------------------------------------ pairing
def _meta_status(folder: Path) -> tuple[bool, str | None]:
    """(has meta.json, its status) without failing on bad files (`open_project` reports those)."""
    from thunlp_repro.chatdev.batch import read_meta

    meta = read_meta(folder)
    return (folder / "meta.json").exists(), (meta or {}).get("status")


def is_project(folder: Path) -> bool:
    """A project folder: ours (task.prompt, meta.json or code/) or the repo's (one `.prompt`)."""
    if not folder.is_dir():
        return False
    ours = (
        any((folder / n).exists() for n in ("task.prompt", "meta.json"))
        or (folder / "code").is_dir()
    )
    return ours or any(folder.glob("*.prompt"))


def batch_members(folder: Path) -> dict[str, Path]:
    """Task folders of a batch folder by name (`.partial-N` leftovers and `logs/` excluded)."""
    if not folder.is_dir():
        return {}
    return {
        p.name: p
        for p in sorted(folder.iterdir())
        if p.is_dir()
        and not p.name.startswith(".")
        and p.name != "logs"
        and not re.search(r"\.partial-\d+$", p.name)
        and is_project(p)
    }


ACCEPTED = (
    "two project folders (each with task.prompt, meta.json or code/) or two batch folders "
    "(sub-folders that are project folders, paired by name)"
)


def _kind(folder: Path, which: str) -> str:
    if not folder.exists():
        raise UsageError(f"{which} {folder} does not exist; expected {ACCEPTED}")
    if not folder.is_dir():
        raise UsageError(f"{which} {folder} is not a folder; expected {ACCEPTED}")
    if is_project(folder):
        return "project"
    if batch_members(folder):
        return "batch"
    raise UsageError(f"{which} {folder} is neither a project folder nor a batch folder; "
                     f"expected {ACCEPTED}")  # fmt: skip


def pair_folders(a_dir: str | Path, b_dir: str | Path) -> Pairing:
    """Pair the projects of A and B (by task folder name for batch folders).

    Unfinished projects of a batch (meta.json without a final status) are left out and listed.

    Raises:
        UsageError: a folder is missing or of neither kind, the kinds differ, no task pairs,
            or a single project is unfinished.
    """
    a_dir, b_dir = Path(a_dir), Path(b_dir)
    kind_a, kind_b = _kind(a_dir, "A_DIR"), _kind(b_dir, "B_DIR")
    if kind_a != kind_b:
        raise UsageError(f"A_DIR {a_dir} is a {kind_a} folder but B_DIR {b_dir} is a {kind_b} "
                         f"folder; expected {ACCEPTED}")  # fmt: skip
    if kind_a == "project":
        for which, folder in (("A_DIR", a_dir), ("B_DIR", b_dir)):
            has_meta, status = _meta_status(folder)
            if has_meta and status not in FINAL:
                raise UsageError(f"{which} {folder} is not finished (meta.json status "
                                 f"{status!r}); judge finished projects only")  # fmt: skip
        name = a_dir.name if a_dir.name == b_dir.name else f"{a_dir.name} vs {b_dir.name}"
        return Pairing("project", [Pair(name, a_dir, b_dir)])
    members = {"a": batch_members(a_dir), "b": batch_members(b_dir)}
    unfinished: dict[str, list[str]] = {"a": [], "b": []}
    for side, found in members.items():
        for tid, folder in list(found.items()):
            has_meta, status = _meta_status(folder)
            if has_meta and status not in FINAL:
                unfinished[side].append(tid)
                del found[tid]
    common = sorted(set(members["a"]) & set(members["b"]))
    only_a = sorted(set(members["a"]) - set(members["b"]))
    only_b = sorted(set(members["b"]) - set(members["a"]))
    if not common:
        raise UsageError(
            f"no task is in both batch folders: A_DIR {a_dir} has {len(members['a'])} finished "
            f"task folders ({_some(only_a)}), B_DIR {b_dir} has {len(members['b'])} "
            f"({_some(only_b)}); tasks are paired by folder name (the task id)"
        )
    pairs = [Pair(t, members["a"][t], members["b"][t]) for t in common]
    return Pairing("batch", pairs, only_a, only_b, unfinished)


def _some(names: list[str], k: int = 3) -> str:
    if not names:
        return "none"
    more = f", +{len(names) - k} more" if len(names) > k else ""
    return ", ".join(names[:k]) + more


def spread(pairs: list[Pair], limit: int | None) -> list[Pair]:
    """At most `limit` pairs, round-robin over SRDD categories (the id's prefix before `__`)."""
    if limit is None or limit >= len(pairs):
        return pairs
    groups: dict[str, list[Pair]] = {}
    for p in pairs:
        groups.setdefault(p.task_id.split("__", 1)[0], []).append(p)
    out: list[Pair] = []
    while len(out) < limit:
        for group in groups.values():
            if group and len(out) < limit:
                out.append(group.pop(0))
    return sorted(out, key=lambda p: p.task_id)


# ------------------------------------------------------------------------------ one side
def water_fill(sizes: dict[str, int], budget: int) -> dict[str, int]:
    """Characters shown per file: short files whole, the rest share what is left equally."""
    shown: dict[str, int] = {}
    left = max(0, budget)
    order = sorted(sizes, key=lambda k: (sizes[k], k))
    for i, name in enumerate(order):
        share = left // (len(order) - i)
        shown[name] = min(sizes[name], share)
        left -= shown[name]
    return shown


def cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a line end when one is near, with a marker."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    if "\n" in head and head.rindex("\n") >= limit // 2:
        head = head[: head.rindex("\n") + 1]
    return head.rstrip("\n") + f"\n[cut here: {len(text) - len(head)} more characters]\n"


def _fenced(body: str, language: str = "") -> str:
    """`body` in a backtick fence longer than any backtick run inside it."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body.rstrip()}\n{fence}"


def _manual(view: Any) -> str | None:
    for folder in (view.code_dir, view.path):
        path = folder / "manual.md"
        if path.is_file():
            return path.read_text(encoding="utf-8", errors="replace").strip()
    return None


def _ordered_files(view: Any) -> dict[str, str]:
    """Source files (entry point first) plus requirements.txt, by relative path."""
    from thunlp_repro.chatdev.metrics_code import source_files

    files = source_files(view.code_dir)
    req = view.code_dir / "requirements.txt"
    if req.is_file():
        files["requirements.txt"] = req.read_text(encoding="utf-8", errors="replace")
    entry = view.entry or ("main.py" if "main.py" in files else None)
    first = [entry] if entry in files else []
    return {k: files[k] for k in [*first, *sorted(k for k in files if k not in first)]}


def load_side(folder: Path, settings: JudgeSettings) -> Side:
    """Read one project and render its manual and files for the prompt (capped)."""
    from thunlp_repro.chatdev.codebook import language_of
    from thunlp_repro.chatdev.evaluate import open_project

    view = open_project(folder)
    manual = _manual(view)
    files = _ordered_files(view)
    shown = water_fill({k: len(v) for k, v in files.items()}, settings.max_code_chars)
    # fenced, so a manual's own `#` headings cannot pass for the prompt's sections
    parts = ["## User manual", _fenced(cut(manual, settings.max_manual_chars), "markdown")
             if manual else "(none)", "## Source files"]  # fmt: skip
    omitted = [k for k in files if shown[k] == 0 and files[k]]
    for rel, body in files.items():
        if rel not in omitted:
            parts.append(f"### {rel}\n{_fenced(cut(body, shown[rel]), language_of(rel))}")
    if not files:
        parts.append("(no source files)")
    if omitted:
        parts.append(f"[cut here: {len(omitted)} more files not shown: {', '.join(omitted)}]")
    total = sum(len(v) for v in files.values()) + len(manual or "")
    shown_chars = sum(shown.values()) + min(len(manual or ""), settings.max_manual_chars)
    return Side(folder, view.task, view.meta.get("status"), "\n\n".join(parts), list(files),
                shown_chars, total, shown_chars < total)  # fmt: skip


# ------------------------------------------------------------------------------ prompt, parse
def build_messages(task: str, slot_a: Side, slot_b: Side) -> list[dict[str, str]]:
    """The judge's messages with `slot_a` shown as project A and `slot_b` as project B."""
    user = (f"# Requirement\n{task.strip()}\n\n# Project A\n{slot_a.text}\n\n"
            f"# Project B\n{slot_b.text}\n\n{CRITERIA}")  # fmt: skip
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


_VERDICT = re.compile(
    r"^[\s>*_#`-]*verdict[\s*_`]*[:：][\s*_`]*(?:project\s+)?(a|b|tie)\b[\s*_`.!]*$",
    re.IGNORECASE | re.MULTILINE,
)


def parse_verdict(text: str) -> tuple[str | None, str | None]:
    """The slot a reply chooses: ("A" | "B" | "TIE", None), or (None, why not).

    Accepts the last `VERDICT: X` line (markdown emphasis and "Project X" tolerated); a
    reasoning model's `<think>` block is ignored. Anything else is no verdict.
    """
    body = re.sub(r"<think>.*?</think>", "", text or "", flags=re.S | re.I)
    found = _VERDICT.findall(body)
    if not found:
        return None, "no 'VERDICT: A|B|TIE' line"
    return found[-1].upper(), None


def prefers(order: str, slot: str | None) -> str | None:
    """Map a slot verdict back to a side ("a", "b", "tie") given the ask's order."""
    if slot is None:
        return None
    if slot == "TIE":
        return "tie"
    first, second = order[0], order[1]
    return first if slot == "A" else second


def combine(first: str | None, second: str | None) -> tuple[str, str]:
    """(outcome, reason) of the two answers: a win needs both to pick the same side."""
    if first is None or second is None:
        return "draw", "no verdict"
    if first == second and first in ("a", "b"):
        return first, "agree"
    if first == second == "tie":
        return "draw", "tie"
    return "draw", "disagree"


# ------------------------------------------------------------------------------ totals
def totals(tasks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Win / lose / draw counts and % (A's view), draw reasons, position-bias diagnostics."""
    judged = [t for t in tasks.values() if t.get("outcome") in OUTCOMES]
    n = len(judged)
    count = {o: sum(t["outcome"] == o for t in judged) for o in OUTCOMES}
    reasons: dict[str, int] = {}
    for t in judged:
        if t["outcome"] == "draw":
            reasons[t["reason"]] = reasons.get(t["reason"], 0) + 1
    asks = [a for t in judged for a in t["asks"]]
    slots = [a["verdict_slot"] for a in asks if a["verdict_slot"] in ("A", "B")]

    def pct(k: int, of: int) -> float | None:
        return round(100.0 * k / of, 2) if of else None

    return {
        "n": n,
        "a_wins": count["a"], "b_wins": count["b"], "draws": count["draw"],
        "a_win_pct": pct(count["a"], n), "b_win_pct": pct(count["b"], n),
        "draw_pct": pct(count["draw"], n),
        "draw_reasons": reasons,
        "no_verdict_answers": sum(a["verdict_slot"] is None for a in asks),
        # how often the judge picked whatever stood in slot A: 50% means no position bias
        "slot_a_pct": pct(sum(s == "A" for s in slots), len(slots)),
        "errors": sum(1 for t in tasks.values() if t.get("error")),
    }  # fmt: skip


def usage_totals(tasks: dict[str, dict[str, Any]], model: str) -> dict[str, Any]:
    """Token and cost totals over every stored answer (reused ones included)."""
    from thunlp_repro.shared.llm.base import Usage
    from thunlp_repro.shared.llm.pricing import call_cost, sum_costs

    asks = [a for t in tasks.values() for a in t.get("asks", []) if a.get("usage")]
    out = {k: sum(a["usage"][k] for a in asks)
           for k in ("prompt_tokens", "completion_tokens", "total_tokens")}  # fmt: skip
    out["calls"] = len(asks)
    out["estimated_calls"] = sum(a.get("usage_source") == "estimated" for a in asks)
    costs = [call_cost(model, Usage(a["usage"]["prompt_tokens"], a["usage"]["completion_tokens"]))
             for a in asks]  # fmt: skip
    out["cost_usd"] = sum_costs(costs) if costs else 0.0
    return out


# ------------------------------------------------------------------------------ the run
@dataclass
class PairwiseResult:
    """What `run_pairwise` did."""

    path: Path
    doc: dict[str, Any]
    asked: int
    reused: int


def _load_previous(out: Path, overwrite: bool) -> dict[str, dict[str, Any]]:
    """Stored answers by request hash (none with `overwrite`)."""
    if overwrite or not out.is_file():
        return {}
    try:
        doc = io.read_json(out)
        tasks = doc["tasks"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{out} exists but is not a pairwise.json ({exc}); pass --overwrite "
                         "to replace it or --out for another file") from None  # fmt: skip
    return {a["request_hash"]: a for t in tasks.values() for a in t.get("asks", [])
            if a.get("request_hash") and a.get("error") is None}  # fmt: skip


def _task_text(pair: Pair, a: Side, b: Side) -> str:
    ta, tb = (" ".join((s.task or "").split()) for s in (a, b))
    if ta and tb and ta != tb:
        raise UsageError(f"task {pair.task_id}: A and B answer different requirements "
                         f"({pair.a}/task.prompt vs {pair.b}/task.prompt); pair projects of the "
                         "same task")  # fmt: skip
    task = a.task or b.task
    if not task:
        raise UsageError(
            f"task {pair.task_id}: neither {pair.a} nor {pair.b} holds the requirement "
            "(task.prompt, meta.json 'task' or a .prompt file)"
        )
    return task


def _ask(
    client: Callable[[], LLMClient],
    settings: JudgeSettings,
    messages: list[dict[str, str]],
    order: str,
    previous: dict[str, dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """One answer (reused when the same request was answered before); (record, was_asked)."""
    tags = {"phase": "PairwiseJudge", "speaker": "Judge", "order": order}
    request = ChatRequest(messages, model=settings.model, temperature=settings.temperature,
                          top_p=settings.top_p, max_tokens=settings.max_tokens,
                          seed=settings.seed, tags=tags)  # fmt: skip
    key = request.hash()
    if key in previous:
        return {**previous[key], "order": order}, False
    result = client().chat(request)
    slot, problem = parse_verdict(result.content)
    return {
        "order": order, "request_hash": key, "raw": result.content, "verdict_slot": slot,
        "verdict": prefers(order, slot), "parse_error": problem,
        "finish_reason": result.finish_reason, "usage": result.usage.to_dict(),
        "usage_source": result.usage_source, "latency_s": round(result.latency_s, 3),
        "error": None,
    }, True  # fmt: skip


def judge_pair(
    pair: Pair,
    client: Callable[[], LLMClient],
    settings: JudgeSettings,
    previous: dict[str, dict[str, Any]],
) -> tuple[dict[str, Any], int]:
    """Both asks of one pair and the outcome; (task record, requests sent)."""
    a, b = load_side(pair.a, settings), load_side(pair.b, settings)
    task = _task_text(pair, a, b)
    sides = {"a": a, "b": b}
    record: dict[str, Any] = {
        "task_id": pair.task_id,
        "requirement_sha1": hashlib.sha1(task.encode("utf-8")).hexdigest()[:12],
        "a": a.record(), "b": b.record(), "asks": [], "outcome": None, "reason": None,
        "error": None,
    }  # fmt: skip
    sent = 0
    for order in ORDERS:
        messages = build_messages(task, sides[order[0]], sides[order[1]])
        try:
            ask, asked = _ask(client, settings, messages, order, previous)
        except LLMError as exc:
            if exc.status != 400:  # the server or key is at fault: stop, resume later
                raise
            # this pair alone is refused (e.g. too long for the context): record, go on
            record["error"] = str(exc)
            return record, sent
        sent += asked
        record["asks"].append(ask)
    record["outcome"], record["reason"] = combine(*(x["verdict"] for x in record["asks"]))
    return record, sent


def run_pairwise(
    a_dir: str | Path,
    b_dir: str | Path,
    *,
    settings: JudgeSettings,
    client: LLMClient | Callable[[], LLMClient],
    out: str | Path,
    labels: tuple[str, str] | None = None,
    limit: int | None = None,
    overwrite: bool = False,
    judge_info: dict[str, Any] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> PairwiseResult:
    """Judge every pair of A and B and write `out` (after each task, atomically).

    Args:
        a_dir / b_dir: Two project folders or two batch folders.
        settings: The judge's model and request settings.
        client: The LLM client, or a function returning it that is called only when a request
            must really be sent (so a fully cached rerun starts no server).
        out: The pairwise.json path.
        labels: Display names of A and B (default: the folder names).
        limit: Judge at most N pairs (round-robin over categories).
        overwrite: Ignore answers stored in `out`.
        judge_info: Backend details recorded with the judge (backend, base URL).
        on_event: Progress callback (`task_end` events).

    Raises:
        UsageError: see `pair_folders`; a bad `out` file; for two project folders also an
            unreadable project or mismatched/missing requirements (batch folders record these
            per task and go on).
        LLMError: a failure other than HTTP 400 (what was judged so far is saved).
    """
    a_dir, b_dir, out = Path(a_dir), Path(b_dir), Path(out)
    pairing = pair_folders(a_dir, b_dir)
    chosen = spread(pairing.pairs, limit)
    previous = _load_previous(out, overwrite)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": "chatdev-pairwise",
        "a_dir": str(a_dir),
        "b_dir": str(b_dir),
        "labels": {
            "a": (labels or (a_dir.name, b_dir.name))[0],
            "b": (labels or (a_dir.name, b_dir.name))[1],
        },  # fmt: skip
        "mode": pairing.mode,
        "judge": {},
        "config": {
            **asdict(settings),
            "prompt_version": PROMPT_VERSION,
            "orders": list(ORDERS),
            "rule": "a side wins only when both orders pick it; otherwise draw",
            "limit": limit,
        },  # fmt: skip
        "unpaired": {"only_a": pairing.only_a, "only_b": pairing.only_b},
        "unfinished": pairing.unfinished,
        "tasks": {},
        "finished": False,
    }
    get = (lambda: client) if hasattr(client, "chat") else client  # a client or a factory
    asked = reused = 0
    for i, pair in enumerate(chosen):
        try:
            record, sent = judge_pair(pair, get, settings, previous)
        except UsageError as exc:  # a bad task folder: fatal for one pair, recorded in a batch
            if pairing.mode == "project":
                raise
            record, sent = {"task_id": pair.task_id, "asks": [], "outcome": None,
                            "reason": None, "error": str(exc)}, 0  # fmt: skip
        asked += sent
        reused += len(record["asks"]) - sent
        doc["tasks"][pair.task_id] = record
        _save(out, doc, settings, judge_info)
        if on_event:
            on_event({"event": "task_end", "task_id": pair.task_id, "done": i + 1,
                      "total": len(chosen), "outcome": record["outcome"],
                      "reason": record["reason"], "error": record["error"],
                      "asked": sent})  # fmt: skip
    doc["finished"] = True
    _save(out, doc, settings, judge_info)
    return PairwiseResult(out, doc, asked, reused)


def _save(
    out: Path, doc: dict[str, Any], settings: JudgeSettings, judge_info: dict[str, Any] | None
) -> None:
    # judge_info is read at each save: a local server's URL is known only once it started
    doc["judge"] = {"model": settings.model, **(judge_info or {})}
    doc["totals"] = totals(doc["tasks"])
    doc["usage"] = usage_totals(doc["tasks"], settings.model)
    io.atomic_write_json(out, doc)


# ------------------------------------------------------------------------------ client
@contextlib.contextmanager
def judge_client(cfg: Any, log_dir: Path | None = None) -> Iterator[tuple[Callable[[], Any], dict]]:
    """A lazy client factory for `cfg.llm` (a local llama.cpp server starts on first use).

    Yields:
        (factory, info): `factory()` returns the client; `info` names backend and base URL
        (filled in when the client starts).
    """
    from thunlp_repro.chatdev.pipeline import build_client

    llm = cfg.llm
    if llm.backend not in ("openai", "local"):
        raise UsageError(f"backend '{llm.backend}': the judge needs an OpenAI-compatible server "
                         "(--base-url URL) or --local")  # fmt: skip
    if llm.backend == "local":  # fail before any work when llama.cpp or the GGUF is missing
        from thunlp_repro.chatdev.local_server import require_llama_cpp, resolve_gguf

        require_llama_cpp()
        resolve_gguf(llm.local_model)
    state: dict[str, Any] = {}
    from thunlp_repro.shared.llm.openai_client import resolve_base_url

    info: dict[str, Any] = {"backend": llm.backend, "provider": llm.provider,
                            "base_url": None if llm.backend == "local"
                            else resolve_base_url(llm.base_url)}  # fmt: skip

    def factory() -> Any:
        if "client" not in state:
            if llm.backend == "local":
                from thunlp_repro.chatdev.local_server import LocalServer

                state["server"] = LocalServer(
                    llm.local_model, n_ctx=llm.local_n_ctx, n_threads=llm.local_threads,
                    seed=llm.seed, start_timeout_s=llm.local_start_timeout_s,
                    ram_cache=False,  # one-off prompts: a prompt-state cache only costs RAM
                    log_path=log_dir / "llama_server.pairwise.log" if log_dir else None,
                ).start()  # fmt: skip
                info["base_url"] = state["server"].base_url
                state["client"] = build_client(cfg, base_url=state["server"].base_url)
            else:
                state["client"] = build_client(cfg)
        return state["client"]

    try:
        yield factory, info
    finally:
        if "client" in state:
            state["client"].close()
        if "server" in state:
            state["server"].stop()
