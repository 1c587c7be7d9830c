"""The chat chain: run the company's items in order, with the three loops and their exits.

- SimplePhase items run one chat each.
- CodeCompleteAll: up to `cycles` cycles; each picks the first file that still has placeholder
  code (at most `complete_max_tries` tries per file) and runs CodeComplete; stops when none is
  left.
- CodeReview: comment -> modification per cycle; stops *before* the modification when the
  reviewer concludes with the finish marker (`compat.review_break = repo` reproduces the repo's
  unreachable check), and after `stop_after_unchanged` cycles without a code change.
- Test: runs the program in the sandbox at the start of each cycle; stops when it runs;
  otherwise error summary -> modification; after the last cycle the program runs once more to
  record the final verdict (no LLM call).
- HumanAgentInteraction: each cycle the human (an injectable input source) sees where the code
  is and types feedback; the programmer acts on it in CodeReviewHuman; an empty answer or
  `end` finishes the loop (the repo's Human company).
- Art: ArtDesign lists pictures, each is made by the images endpoint and saved into `code/`,
  then ArtIntegration puts them into the GUI code. Without an images endpoint (or when it
  fails) the remaining Art phases are skipped with one logged line and the chain goes on.
- Memory (ECL co-reasoning): with a memory, solution- and instruction-producing sub-phases get
  retrieved experiences appended to their prompt (`memory.py`); each retrieval is an event.
- `until` stops the chain after the named item (Table 4's <=Coding, <=Complete, ...).

Each sub-phase environment is computed once per sub-phase (the repo computes it twice).

Reproduces: ChatDev §3.1 (chat chain, phases, subtasks), §3.2 (code completion, review,
testing loops); chatdev.md §2.3, §2.7, §2.12 (Art, HumanAgentInteraction), §2.15, §2.18,
pitfalls #1-#2; ECL (Qian et al. 2023) §2.3 (co-reasoning).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thunlp_repro.chatdev import prompts
from thunlp_repro.chatdev.art import ImagesUnavailable
from thunlp_repro.chatdev.chat import Chat, ChatOutcome
from thunlp_repro.chatdev.codebook import UnsafePath, check_path
from thunlp_repro.chatdev.company import ChainItem, Company, StepSpec
from thunlp_repro.chatdev.config import ChatDevConfig
from thunlp_repro.chatdev.human import finishes, shown_text
from thunlp_repro.chatdev.memory import query_for, render
from thunlp_repro.chatdev.phases import HANDLERS, Applied, ChatEnv, code_problem
from thunlp_repro.chatdev.sandbox import SandboxResult
from thunlp_repro.shared.errors import ReproError

logger = logging.getLogger(__name__)
NO_IMAGES_ENDPOINT = "no images endpoint is configured (set images.base_url or --images-base-url)"


class FormatFailure(ReproError):
    """Coding produced no usable file even after the re-asks (status `format_failure`)."""


@dataclass
class ChainStats:
    """Counters for meta.json and the report's process trace."""

    reflections: int = 0
    cdh_questions: int = 0
    format_retries: int = 0
    format_failures: list[str] = field(default_factory=list)
    cycles: dict[str, int] = field(default_factory=dict)
    verdicts: list[str] = field(default_factory=list)
    first_error_type: str | None = None
    final: SandboxResult | None = None
    completed_items: list[str] = field(default_factory=list)


class ChainRunner:
    """Runs a company's chain over one project.

    Args:
        company: Roles, phases and chain.
        cfg: Engine settings.
        chat: The chat engine (holds the LLM caller).
        env: Shared state.
        emit: Event sink `(kind, **data)` (events.jsonl, log, live view).
        on_code_change: Called with a commit message after each step that changed code.
        run_tests: Runs the program now (sandbox, or recorded results in replay).
        human: The human reviewer, `(shown text) -> answer` (HumanAgentInteraction).
        make_image: `(file name, description) -> PNG bytes`; None = no images endpoint.
        memory: A `memory.Memory` (or `RecordedMemory`); None = no experience retrieval.
    """

    def __init__(
        self,
        company: Company,
        cfg: ChatDevConfig,
        chat: Chat,
        env: ChatEnv,
        emit: Callable[..., None],
        on_code_change: Callable[[str], None],
        run_tests: Callable[[], SandboxResult],
        human: Callable[[str], str] | None = None,
        make_image: Callable[[str, str], bytes] | None = None,
        memory: Any = None,
    ) -> None:
        self.company = company
        self.cfg = cfg
        self.chat = chat
        self.env = env
        self.emit = emit
        self.on_code_change = on_code_change
        self.run_tests = run_tests
        self.human = human
        self.make_image = make_image
        self.memory = memory
        self.art_skipped: str | None = None  # why the Art phases are skipped (logged once)
        self.stats = ChainStats()

    # ------------------------------------------------------------------ items
    def run(self, items: list[ChainItem]) -> ChainStats:
        """Run `items` in order; stop after `protocol.until` if set."""
        until = self.cfg.protocol.until
        for item in items:
            self.emit("item_start", item=item.name, item_kind=item.kind)
            if item.kind == "simple":
                self.step(item.steps[0])
            elif item.name == "CodeCompleteAll":
                self.code_complete_all(item)
            elif item.name == "CodeReview":
                self.code_review(item)
            elif item.name == "Test":
                self.test(item)
            elif item.name == "HumanAgentInteraction":
                self.human_review(item)
            elif item.name == "Art":
                self.art(item)
            else:  # pragma: no cover - validate() rejects unknown loops
                raise ReproError(f"unknown loop {item.name}")
            self.stats.completed_items.append(item.name)
            self.emit("item_end", item=item.name)
            if until and item.name == until:
                self.emit("until", item=item.name)
                break
        return self.stats

    def cycles(self, item: ChainItem) -> int:
        return int(self.cfg.protocol.cycles.get(item.name, item.cycles))

    # ------------------------------------------------------------------ one sub-phase
    def step(
        self, step: StepSpec, loop: str | None = None, cycle: int | None = None
    ) -> tuple[ChatOutcome, Applied] | None:
        """Run one SimplePhase chat and apply its result to the env (None: the step was
        skipped, an Art phase without pictures)."""
        spec = self.company.phases[step.phase]
        handler = HANDLERS.get(spec.handler or step.phase)
        if handler.name in ("ArtDesign", "ArtIntegration"):
            reason = self._art_blocked(handler.name)
            if reason:
                self.emit("phase_skipped", phase=step.phase, loop=loop, cycle=cycle,
                          reason=reason)  # fmt: skip
                return None
        ctx = self.chat.caller.ctx
        ctx.phase, ctx.loop, ctx.cycle = step.phase, loop, cycle
        self.emit("phase_start", phase=step.phase, loop=loop, cycle=cycle,
                  assistant=spec.assistant, instructor=spec.instructor)  # fmt: skip
        if handler.name == "Coding":
            gui = self.cfg.protocol.gui_design
            gui = self.company.flags.get("gui_design", True) if gui is None else gui
            self.env.gui = (
                prompts.GUI_SENTENCE.format(framework=self.cfg.protocol.gui_framework_hint)
                if gui
                else ""
            )
        values = self.env.placeholders()
        suffix = ""
        if handler.kind == "code" and self.env.notes:
            suffix = "\nNotes about your previous files: " + "; ".join(self.env.notes)
        suffix += self._experiences(step.phase, handler.name, values)
        validate = (lambda reply: code_problem(self.env, reply)) if handler.code_required else None
        outcome = self.chat.run(
            step,
            values,
            kind=handler.kind,
            validate=validate,
            needs_reflection=handler.needs_reflection,
            reflection_question=handler.reflection_question,
            prompt_suffix=suffix,
        )
        applied = handler.apply(self.env, outcome)
        self.stats.cdh_questions += outcome.cdh_questions
        self.stats.format_retries += outcome.format_retries
        if outcome.reflected:
            self.stats.reflections += 1
            self.emit("reflection", phase=step.phase, conclusion=outcome.conclusion)
        if outcome.cdh_questions:
            self.emit("cdh", phase=step.phase, questions=outcome.cdh_questions)
        if handler.code_required and outcome.problem:
            self.stats.format_failures.append(step.phase)
            applied.failed = True
            self.emit("format_failure", phase=step.phase, problem=outcome.problem,
                      retries=outcome.format_retries)  # fmt: skip
        for change in applied.changes:
            self.emit("code_update", phase=step.phase, path=change["path"], diff=change["diff"],
                      version=self.env.codebook.version)  # fmt: skip
        info: dict[str, Any] = {k: v for k, v in applied.info.items() if k != "notes"}
        self.emit("phase_end", phase=step.phase, loop=loop, cycle=cycle, turns=outcome.turns,
                  concluded=outcome.concluded, conclusion=outcome.conclusion,
                  changed=[c["path"] for c in applied.changes], **info)  # fmt: skip
        if applied.changes:
            label = step.phase if cycle is None else f"{loop} #{cycle}: {step.phase}"
            self.on_code_change(label)
        if handler.name in ("Coding", "ModificationRequest") and not self.env.codebook.files:
            raise FormatFailure(
                f"{step.phase} produced no usable code after {outcome.format_retries} re-asks: "
                f"{outcome.problem}"
            )
        if handler.name == "ArtDesign":
            self._make_images(step.phase)
        return outcome, applied

    # ------------------------------------------------------------------ memory (ECL)
    def _experiences(self, phase: str, handler: str, values: dict[str, str]) -> str:
        """Retrieved experiences for this sub-phase as prompt text ("" without a memory)."""
        if self.memory is None:
            return ""
        query = query_for(handler, values)
        if query is None:
            return ""
        side, text = query
        examples = self.memory.lookup(phase, side, text)
        self.emit("memory", phase=phase, side=side,
                  examples=[dataclasses.asdict(e) for e in examples])  # fmt: skip
        return render(side, examples, self.cfg.memory.max_chars)

    # ------------------------------------------------------------------ Art
    def _skip_art(self, reason: str) -> None:
        if self.art_skipped is None:
            self.art_skipped = reason
            logger.warning("Art phases skipped: %s; the run goes on without pictures", reason)
            self.emit("art_skipped", reason=reason)

    def _art_blocked(self, handler: str) -> str | None:
        if self.make_image is None:
            self._skip_art(NO_IMAGES_ENDPOINT)
        if self.art_skipped:
            return self.art_skipped
        if handler == "ArtIntegration" and not self.env.images:
            return "no pictures were made"
        return None

    def _make_images(self, phase: str) -> None:
        """Make and save every proposed picture (stops at the first endpoint failure)."""
        assert self.make_image is not None
        root = self.env.code_dir
        made = 0
        for name, description in self.env.proposed_images.items():
            if name in self.env.images:
                continue
            try:
                data = self.make_image(name, description)
            except ImagesUnavailable as exc:
                self._skip_art(str(exc))
                break
            try:
                safe = check_path(name, list(self.env.codebook.files), root=root)
            except UnsafePath as exc:
                logger.warning("ArtDesign: picture %s not saved (%s)", name, exc)
                continue
            if root is not None:
                target = root / safe
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            self.env.images[safe] = description
            made += 1
            self.emit("image", phase=phase, name=safe, description=description,
                      bytes=len(data), sha256=hashlib.sha256(data).hexdigest())  # fmt: skip
        if made:
            self.on_code_change(f"{phase}: {made} picture(s)")

    def art(self, item: ChainItem) -> None:
        used = 0
        for cycle in range(1, self.cycles(item) + 1):
            if self._art_blocked("ArtDesign"):
                break
            used = cycle
            for step in item.steps:
                self.step(step, item.name, cycle)
        self.stats.cycles[item.name] = used

    # ------------------------------------------------------------------ human review
    def human_review(self, item: ChainItem) -> None:
        """HumanAgentInteraction: the human's feedback each cycle, acted on by the programmer."""
        if self.human is None:
            raise ReproError("HumanAgentInteraction needs a human input source")
        cycles = self.cycles(item)
        used = 0
        for cycle in range(1, cycles + 1):
            shown = shown_text(cycle, cycles, self.env.code_dir or "code/",
                               self.env.codebook.ordered_paths())  # fmt: skip
            answer = self.human(shown)
            self.emit("human_comment", cycle=cycle, comment=answer)
            if finishes(answer):
                self.emit("human_finished", cycle=cycle)
                break
            used = cycle
            self.env.comments = answer.strip()
            for step in item.steps:
                self.step(step, item.name, cycle)
        self.stats.cycles[item.name] = used

    # ------------------------------------------------------------------ loops
    def code_complete_all(self, item: ChainItem) -> None:
        tries: dict[str, int] = {}
        rule = self.cfg.compat.unimplemented
        limit = self.cfg.protocol.complete_max_tries
        used = 0
        for cycle in range(1, self.cycles(item) + 1):
            pending = [f for f in self.env.codebook.unimplemented(rule) if tries.get(f, 0) < limit]
            if not pending:
                break
            target = pending[0]
            tries[target] = tries.get(target, 0) + 1
            self.env.unimplemented_file = target
            self.emit("complete_target", file=target, cycle=cycle, tries=tries[target])
            used = cycle
            for step in item.steps:
                self.step(step, item.name, cycle)
        self.stats.cycles[item.name] = used

    def code_review(self, item: ChainItem) -> None:
        unchanged = 0
        stop_after = self.cfg.protocol.stop_after_unchanged
        used = 0
        for cycle in range(1, self.cycles(item) + 1):
            used = cycle
            before = self.env.codebook.version
            finished = False
            for step in item.steps:
                handler = HANDLERS.get(self.company.phases[step.phase].handler or step.phase)
                if finished and handler.kind == "code":
                    continue
                done = self.step(step, item.name, cycle)
                if done is None:
                    continue
                outcome = done[0]
                if handler.name == "CodeReviewComment" and outcome.concluded:
                    finished = self.cfg.compat.review_break == "fixed"
            if finished:
                self.emit("review_finished", cycle=cycle)
                break
            unchanged = unchanged + 1 if self.env.codebook.version == before else 0
            if stop_after and unchanged >= stop_after:
                self.emit("review_unchanged_stop", cycle=cycle, unchanged=unchanged)
                break
        self.stats.cycles[item.name] = used

    def _test_once(self) -> SandboxResult:
        result = self.run_tests()
        self.stats.verdicts.append(result.verdict)
        if self.stats.first_error_type is None and result.error_type:
            self.stats.first_error_type = result.error_type
        self.env.test_reports = result.report()
        self.stats.final = result
        return result

    def test(self, item: ChainItem) -> None:
        used = 0
        for cycle in range(1, self.cycles(item) + 1):
            result = self._test_once()
            if result.verdict in ("no_display", "unsupported"):
                logger.warning("Test loop stops: verdict %s (%s)", result.verdict, result.detail)
                break
            if not result.is_bug:
                break
            used = cycle
            for step in item.steps:
                self.step(step, item.name, cycle)
        else:
            self._test_once()  # the last modification is tested too (no LLM call)
        self.stats.cycles[item.name] = used
