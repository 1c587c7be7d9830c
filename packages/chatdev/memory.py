"""Experiential co-learning memory: shortcuts mined from earlier runs, retrieved into prompts.

ECL (Qian et al. 2023, "Experiential Co-Learning of Software-Developing Agents") has three
modules; ours maps them onto recorded ChatDev project folders:

- **Co-tracking** (ECL §2.1): a run is a task-execution graph whose nodes are solutions (code
  versions) and whose edges are the instructions that turned one version into the next.
  `trajectory` rebuilds it from a project folder: the transcript's final assistant reply of
  each code step is applied to a codebook exactly as the phase handlers do (so versions match
  the run's own numbering), and the edge's instruction is what that step was asked: the task
  (Coding, ModificationRequest), the file to complete (CodeComplete), the reviewer's comment
  (CodeReviewModification), the error summary (TestModification), the customer's feedback
  (CodeReviewHuman).
- **Co-memorizing** (ECL §2.2): every node gets a quality score `q = executable + cos(task,
  code)`; executable comes from the run's sandbox verdict for that version where one was
  recorded, else from byte-compiling its Python files (no execution). Pairs `i < j` whose
  target is executable and whose gain `q_j - q_i` exceeds `min_gain` are kept: adjacent pairs
  as edges, non-adjacent pairs as **shortcuts**. A shortcut's instruction is the instructions
  along its path, in order [ours: ECL has an LLM write it; we keep the recorded words, so
  building the memory needs no LLM call]. Each experience keeps (instruction, source solution,
  target solution) and the embeddings of the instruction and of the source solution.
- **Co-reasoning** (ECL §2.3): in a new run, a solution-producing sub-phase (the assistant)
  embeds its instruction and retrieves the most similar instructions' target solutions; an
  instruction-producing sub-phase (CodeReviewComment, TestErrorSummary; ECL's instructor)
  embeds the current code and retrieves the instructions that improved similar code. The
  retrieved experiences go into the phase prompt as worked examples (`prompts.MEMORY_*`),
  top `top_k` with cosine >= `min_similarity`. Each retrieval is an event, so replay serves
  the same examples without an embedder (`RecordedMemory`).

The memory file is JSON (`FORMAT`), built by `build_memory` / `thunlp-repro chatdev
build-memory RUN_DIR...`.

Reproduces: ECL (Qian et al. 2023) §2.1-§2.3; ChatDev's `with_memory` flag (chatdev.md §2.12).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thunlp_repro.chatdev import prompts
from thunlp_repro.chatdev.codebook import Codebook, extract
from thunlp_repro.shared.errors import ReproError, UsageError

logger = logging.getLogger(__name__)

FORMAT = "thunlp-repro/chatdev-ecl-memory"
VERSION = 1
#: Handlers whose assistant writes a solution; value = where the instruction comes from.
SOLUTION_HANDLERS = {
    "Coding": "task", "ModificationRequest": "task", "CodeComplete": "unimplemented_file",
    "CodeReviewModification": "comments", "CodeReviewHuman": "comments",
    "TestModification": "error_summary",
}  # fmt: skip
#: Handlers whose assistant writes an instruction (ECL's instructor role).
INSTRUCTION_HANDLERS = {"CodeReviewComment": "comments", "TestErrorSummary": "error_summary"}
EXECUTABLE_VERDICTS = ("ok", "alive")
COMPLETE_INSTRUCTION = "Implement every unfinished function and class in {file}."


# ------------------------------------------------------------------------------ co-tracking
@dataclass
class Node:
    """One solution (code version) of a run."""

    version: int
    files: dict[str, str]
    executable: bool = False
    verdict: str | None = None
    similarity: float = 0.0

    @property
    def score(self) -> float:
        return (1.0 if self.executable else 0.0) + self.similarity

    def text(self) -> str:
        book = Codebook()
        book.files = dict(self.files)
        return book.serialise()


@dataclass
class Trajectory:
    """The task-execution graph of one run: nodes in order, edge `i` leads node i -> i+1."""

    project: str
    task: str
    nodes: list[Node]
    instructions: list[str | None]  # instruction of the edge into nodes[i + 1]
    phases: list[str]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]  # fmt: skip


def compiles(files: dict[str, str]) -> bool:
    """Every `.py` file byte-compiles (nothing is run); no file at all -> False."""
    if not files:
        return False
    for path, text in files.items():
        if path.endswith(".py"):
            try:
                compile(text, path, "exec", dont_inherit=True)
            except (SyntaxError, ValueError):
                return False
    return True


def _comment_of(reply: str, marker: str) -> str:
    """`env.comments` as the review handler sets it: the conclusion if the reply concludes."""
    from thunlp_repro.chatdev.chat import concludes, conclusion

    return conclusion(reply, marker) if concludes(reply, marker) else reply


def trajectory(project_dir: str | Path) -> Trajectory:
    """Rebuild one recorded run's solutions and instructions (co-tracking).

    Raises:
        UsageError: not a ChatDev project folder.
    """
    import yaml

    from thunlp_repro.chatdev.company import company_from_native

    folder = Path(project_dir)
    for needed in ("task.prompt", "company.yaml", "transcript.jsonl"):
        if not (folder / needed).is_file():
            raise UsageError(f"{folder} is not a ChatDev project folder (no {needed})")
    task = (folder / "task.prompt").read_text(encoding="utf-8")
    doc = yaml.safe_load((folder / "company.yaml").read_text(encoding="utf-8")) or {}
    company = company_from_native(doc, str(folder / "company.yaml"))
    engine: dict[str, Any] = {}
    if (folder / "config.yaml").is_file():
        engine = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")) or {}
    marker = str((engine.get("protocol") or {}).get("marker") or "<INFO>")
    parser = str((engine.get("compat") or {}).get("parser") or "ours")
    meta = {}
    if (folder / "meta.json").is_file():
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    events = _read_jsonl(folder / "events.jsonl")
    records = _read_jsonl(folder / "transcript.jsonl")

    book = Codebook(language=str(meta.get("language") or "python"), parser=parser)
    if (folder / "base").is_dir():
        book.load_tree(folder / "base")
    nodes = [Node(book.version, dict(book.files))]
    instructions: list[str | None] = []
    phases: list[str] = []

    # verdicts per code version: the sandbox events after the version's last code update
    verdicts: dict[int, str] = {}
    version = book.version
    targets: dict[int | None, str] = {}
    human: dict[int | None, str] = {}
    for event in events:
        kind = event.get("event")
        if kind == "code_update":
            version = int(event.get("version") or version)
        elif kind == "sandbox":
            verdicts[version] = str(event.get("verdict"))
        elif kind == "complete_target":
            targets[event.get("cycle")] = str(event.get("file"))
        elif kind == "human_comment":
            human[event.get("cycle")] = str(event.get("comment") or "")

    def handler_of(phase: str) -> str:
        spec = company.phases.get(phase)
        return (spec.handler or phase) if spec else phase

    # group the transcript into steps: consecutive records of one (phase, loop, cycle)
    steps: list[tuple[tuple[Any, Any, Any], list[dict[str, Any]]]] = []
    for record in records:
        key = (record.get("phase"), record.get("loop"), record.get("cycle"))
        if steps and steps[-1][0] == key:
            steps[-1][1].append(record)
        else:
            steps.append((key, [record]))
    last_reply: dict[tuple[str, Any, Any], str] = {}  # (handler, loop, cycle) -> final reply
    for (phase, loop, cycle), group in steps:
        handler = handler_of(str(phase))
        replies = [r["response"]["content"] for r in group
                   if r.get("role") == "assistant" and r.get("response")]  # fmt: skip
        if not replies:
            continue
        final = replies[-1]
        last_reply[(handler, loop, cycle)] = final
        if handler not in SOLUTION_HANDLERS and handler not in ("code", "ArtIntegration"):
            continue
        got = extract(final, existing=list(book.files), entry_file=book.entry_file,
                      has_entry=book.entry_file in book.files, parser=book.parser)  # fmt: skip
        if not book.update(got.files):
            continue
        source = SOLUTION_HANDLERS.get(handler)
        instruction: str | None = None
        if source == "task":
            instruction = task
        elif source == "unimplemented_file":
            instruction = COMPLETE_INSTRUCTION.format(file=targets.get(cycle, "the code"))
        elif handler == "CodeReviewHuman":
            instruction = human.get(cycle)
        elif handler == "CodeReviewModification":
            reply = last_reply.get(("CodeReviewComment", loop, cycle))
            instruction = _comment_of(reply, marker) if reply else None
        elif handler == "TestModification":
            instruction = last_reply.get(("TestErrorSummary", loop, cycle))
        nodes.append(Node(book.version, dict(book.files)))
        instructions.append(instruction.strip() if instruction and instruction.strip() else None)
        phases.append(str(phase))
    for node in nodes:
        node.verdict = verdicts.get(node.version)
        if node.verdict is not None:
            node.executable = node.verdict in EXECUTABLE_VERDICTS
        else:
            node.executable = compiles(node.files)
    return Trajectory(str(meta.get("name") or folder.name), task, nodes, instructions, phases)


# ------------------------------------------------------------------------------ co-memorizing
@dataclass
class Experience:
    """One remembered transition: an instruction that turned a source into a better target."""

    id: str
    project: str
    task: str
    kind: str  # "edge" (adjacent versions) | "shortcut" (non-adjacent)
    source_version: int
    target_version: int
    phases: list[str]
    instruction: str
    source_solution: str
    target_solution: str
    gain: float
    instruction_vec: list[float] = field(default_factory=list)
    source_vec: list[float] = field(default_factory=list)


def _cosines(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1) * (np.linalg.norm(query) or 1.0)
    norms[norms == 0] = 1.0
    return (vectors @ query) / norms


def shortcuts(traj: Trajectory, embedder: Any, *, min_gain: float = 0.0,
              max_per_project: int = 50) -> list[Experience]:  # fmt: skip
    """Score the nodes and keep the improving transitions (co-memorizing)."""
    texts = [node.text() for node in traj.nodes]
    vecs = embedder.embed([traj.task, *[t or "None" for t in texts]])
    task_vec = vecs[0]
    for node, vec, text in zip(traj.nodes, vecs[1:], texts, strict=True):
        node.similarity = float(_cosines(vec[None, :], task_vec)[0]) if text else 0.0
    out: list[Experience] = []
    n = len(traj.nodes)
    for i in range(n):
        for j in range(i + 1, n):
            target = traj.nodes[j]
            gain = target.score - traj.nodes[i].score
            if not target.executable or gain <= min_gain:
                continue
            path = [s for s in traj.instructions[i:j] if s]
            if not path:
                continue
            instruction = path[0] if len(path) == 1 else "\n".join(
                f"{k}. {step}" for k, step in enumerate(path, 1))  # fmt: skip
            out.append(Experience(
                id=f"{traj.project}:{traj.nodes[i].version}->{target.version}",
                project=traj.project, task=traj.task,
                kind="edge" if j == i + 1 else "shortcut",
                source_version=traj.nodes[i].version, target_version=target.version,
                phases=traj.phases[i:j], instruction=instruction,
                source_solution=texts[i], target_solution=texts[j], gain=round(gain, 6),
            ))  # fmt: skip
    out.sort(key=lambda e: (-e.gain, e.source_version, e.target_version))
    return out[:max_per_project]


def _project_dirs(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path} does not exist (expected a project or batch folder)")
        if (path / "transcript.jsonl").is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.iterdir() if (p / "transcript.jsonl").is_file())
        else:
            raise UsageError(f"{path}: not a folder (expected a project or batch folder)")
    if not found:
        raise UsageError("no ChatDev project folder (with transcript.jsonl) among "
                         + ", ".join(str(p) for p in paths))  # fmt: skip
    return found


def build_memory(paths: list[str | Path], out: str | Path, *, embedder_name: str = "minilm-l6",
                 embed_base_url: str | None = None, min_gain: float = 0.0,
                 embedder: Any = None) -> dict[str, Any]:  # fmt: skip
    """Mine the experiences of recorded runs (project folders or batch folders) into `out`.

    Returns:
        The memory document written (experiences with their embeddings).
    """
    from thunlp_repro.chatdev.embedders import build_embedder
    from thunlp_repro.shared import io

    model = embedder or build_embedder(embedder_name, embed_base_url)
    experiences: list[Experience] = []
    projects = []
    for folder in _project_dirs([Path(p) for p in paths]):
        traj = trajectory(folder)
        found = shortcuts(traj, model, min_gain=min_gain)
        projects.append({"path": str(folder), "nodes": len(traj.nodes), "experiences": len(found)})
        experiences += found
    if experiences:
        vecs = model.embed([e.instruction for e in experiences]
                           + [e.source_solution or "None" for e in experiences])  # fmt: skip
        k = len(experiences)
        for e, iv, sv in zip(experiences, vecs[:k], vecs[k:], strict=True):
            e.instruction_vec = [round(float(x), 7) for x in iv]
            e.source_vec = [round(float(x), 7) for x in sv] if e.source_solution else []
    doc = {
        "format": FORMAT, "version": VERSION,
        "embedder": getattr(model, "name", embedder_name), "embed_base_url": embed_base_url,
        "min_gain": min_gain, "projects": projects,
        "experiences": [asdict(e) for e in experiences],
    }  # fmt: skip
    io.atomic_write_json(Path(out), doc)
    return doc


# ------------------------------------------------------------------------------ co-reasoning
@dataclass
class Retrieved:
    """One experience chosen for a prompt."""

    id: str
    similarity: float
    instruction: str
    solution: str | None  # None on the instructor side


def render(side: str, examples: list[Retrieved], max_chars: int) -> str:
    """The prompt text for retrieved experiences ("" when none)."""
    if not examples:
        return ""
    parts = []
    for n, ex in enumerate(examples, 1):
        if side == "solution":
            solution = ex.solution or ""
            if len(solution) > max_chars:
                solution = solution[:max_chars] + "\n[... truncated]"
            parts.append(
                prompts.MEMORY_SOLUTION_EXAMPLE.format(
                    n=n, similarity=ex.similarity, instruction=ex.instruction, solution=solution
                )
            )
        else:
            parts.append(prompts.MEMORY_INSTRUCTION_EXAMPLE.format(
                n=n, similarity=ex.similarity, instruction=ex.instruction))  # fmt: skip
    head = prompts.MEMORY_SOLUTIONS if side == "solution" else prompts.MEMORY_INSTRUCTIONS
    return head + "\n\n" + "\n\n".join(parts)


def query_for(handler: str, placeholders: dict[str, str]) -> tuple[str, str] | None:
    """(side, query text) for a sub-phase, or None when the memory does not serve it."""
    if handler in SOLUTION_HANDLERS:
        source = SOLUTION_HANDLERS[handler]
        if source == "unimplemented_file":
            text = COMPLETE_INSTRUCTION.format(file=placeholders.get("unimplemented_file") or "")
        else:
            text = placeholders.get(source) or ""
        return ("solution", text) if text.strip() else None
    if handler in INSTRUCTION_HANDLERS:
        codes = placeholders.get("codes") or ""
        return ("instruction", codes) if codes.strip() else None
    return None


class Memory:
    """Retrieval over a memory file.

    Args:
        doc: The memory document (`build_memory`).
        embedder: Embeds queries; must be the embedder the memory was built with.
        top_k: Experiences per prompt.
        min_similarity: Cosine threshold.
    """

    def __init__(self, doc: dict[str, Any], embedder: Any, *, top_k: int = 1,
                 min_similarity: float = 0.5) -> None:  # fmt: skip
        self.experiences = [Experience(**e) for e in doc.get("experiences", [])]
        self.embedder = embedder
        self.top_k = top_k
        self.min_similarity = min_similarity
        self._ivecs = np.array([e.instruction_vec for e in self.experiences], dtype=np.float64)
        with_source = [e for e in self.experiences if e.source_vec]
        self._sources = with_source
        self._svecs = np.array([e.source_vec for e in with_source], dtype=np.float64)

    @classmethod
    def load(cls, path: str | Path, cfg: Any, *, embedder: Any = None) -> Memory:
        """Read a memory file with the settings of `cfg` (`MemoryConfig`).

        Raises:
            UsageError: missing or foreign file, or an embedder other than the memory's.
        """
        from thunlp_repro.chatdev.embedders import build_embedder

        path = Path(path)
        if not path.is_file():
            raise UsageError(f"memory file {path} not found (build one with `thunlp-repro "
                             "chatdev build-memory RUN_DIR... --out FILE`)")  # fmt: skip
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UsageError(f"memory file {path}: not JSON (expected a {FORMAT} file)") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise UsageError(f"memory file {path}: not a {FORMAT} file")
        built_with = str(doc.get("embedder") or "")
        name = cfg.embedder or built_with
        if cfg.embedder and built_with and cfg.embedder != built_with:
            raise UsageError(f"memory.embedder {cfg.embedder}: the memory {path} was built with "
                             f"{built_with}; use that one (or rebuild the memory)")  # fmt: skip
        model = embedder or build_embedder(name, cfg.embed_base_url or doc.get("embed_base_url"))
        return cls(doc, model, top_k=cfg.top_k, min_similarity=cfg.min_similarity)

    def __len__(self) -> int:
        return len(self.experiences)

    def lookup(self, phase: str, side: str, query: str) -> list[Retrieved]:
        """What the chain asks for one sub-phase (`phase` only matters in replay)."""
        return self.retrieve(side, query)

    def retrieve(self, side: str, query: str) -> list[Retrieved]:
        """The top experiences for a query on one side ("solution" | "instruction")."""
        pool, vecs = ((self.experiences, self._ivecs) if side == "solution"
                      else (self._sources, self._svecs))  # fmt: skip
        if not pool:
            return []
        qvec = np.asarray(self.embedder.embed([query])[0], dtype=np.float64)
        if qvec.shape[0] != vecs.shape[1]:
            raise ReproError(f"memory vectors have {vecs.shape[1]} dimensions, the query "
                             f"embedder gives {qvec.shape[0]}")  # fmt: skip
        sims = _cosines(vecs, qvec)
        order = sorted(range(len(pool)), key=lambda k: (-sims[k], pool[k].id))
        out: list[Retrieved] = []
        seen: set[str] = set()
        for k in order:
            if sims[k] < self.min_similarity or len(out) >= self.top_k:
                break
            e = pool[k]
            key = e.instruction if side == "instruction" else e.target_solution
            if key in seen:
                continue
            seen.add(key)
            out.append(Retrieved(e.id, round(float(sims[k]), 4), e.instruction,
                                 e.target_solution if side == "solution" else None))  # fmt: skip
        return out


class RecordedMemory:
    """The retrievals of a recorded project, served in order (replay: no embedder)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.records = [e for e in events if e.get("event") == "memory"]
        self.position = 0

    def lookup(self, phase: str, side: str, query: str) -> list[Retrieved]:
        if self.position >= len(self.records):
            raise ReproError(f"replay diverged: memory retrieval {self.position} ({phase}) "
                             "was not recorded")  # fmt: skip
        record = self.records[self.position]
        self.position += 1
        if record.get("phase") != phase:
            raise ReproError(f"replay diverged: memory retrieval {self.position - 1} was for "
                             f"{record.get('phase')}, now {phase}")  # fmt: skip
        return [Retrieved(**r) for r in record.get("examples", [])]
