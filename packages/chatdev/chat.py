"""One two-agent chat: the turn loop, the end-of-chat marker, reflection and dehallucination.

- Vanilla chat `<I->A, A~>I>` (turn loop): the phase prompt is the instructor's first utterance;
  each turn calls the assistant, then (if turns > 1) the instructor; a reply whose last
  non-empty line starts with the marker concludes the chat.
- Communicative dehallucination `<I->A, <A->I, I~>A>, A~>I>`: in the configured sub-phases the
  assistant may first ask the instructor a question (roles reverse), gets the answer, then
  solves; every call is tagged `cdh_step` ask | answer | solve.
- Reflection: when a reflect-enabled chat ends without a marked conclusion, a one-turn chat
  CEO <- Counselor reads the dialogue and answers the phase's question.
- A reply without usable code makes the phase ask again (bounded by `format_retries`).

Reproduces: ChatDev §3.1 (chat chain, Eq. for C(I, A)), §3.2 (communicative dehallucination);
chatdev.md §2.5, §2.6, §2.8, §2.13 (output budget, ContextOverflow), §2.14 (transcript).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thunlp_repro.chatdev import prompts
from thunlp_repro.chatdev.company import Company, StepSpec
from thunlp_repro.chatdev.config import ChatDevConfig
from thunlp_repro.chatdev.roles import Agent, make_pair
from thunlp_repro.shared.llm.accounting import Budget
from thunlp_repro.shared.llm.base import ChatRequest, ContextOverflow, LLMClient, LLMError
from thunlp_repro.shared.llm.pricing import call_cost, model_info
from thunlp_repro.shared.llm.transcript import TranscriptWriter, make_record

logger = logging.getLogger(__name__)
dialogue_log = logging.getLogger("thunlp_repro.chatdev.dialogue")

_STRIP = " \t*_`\"'"


# ------------------------------------------------------------------------------ markers
def concludes(text: str, marker: str, rule: str = "ours") -> bool:
    """Whether a reply concludes: its last (non-empty) line starts with the marker."""
    if rule == "repo":
        return text.split("\n")[-1].startswith(marker)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return bool(lines) and lines[-1].strip().strip(_STRIP).startswith(marker)


def conclusion(text: str, marker: str) -> str:
    """The text after the last marker occurrence, stripped of emphasis and quotes."""
    after = text.split(marker)[-1] if marker in text else text
    return after.strip().strip(_STRIP).strip()


def is_question(text: str, question_marker: str) -> bool:
    """CDH detection: the first non-empty line starts with the question marker, or (fallback)
    there is no fenced block and the last non-empty line ends with '?'."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return False
    if lines[0].strip(_STRIP).startswith(question_marker):
        return True
    return "```" not in text and lines[-1].endswith("?")


# ------------------------------------------------------------------------------ the caller
@dataclass
class CallContext:
    """Where in the chain a call happens (transcript labels)."""

    phase: str = ""
    loop: str | None = None
    cycle: int | None = None


class Caller:
    """Sends an agent's history to the LLM; checks the budget first; records the transcript.

    Args:
        client: The LLM backend.
        cfg: Engine settings (model, sampling, output caps, context window).
        transcript: Where records go.
        budget: Caps checked before every call.
        project_id: Label written into every record.
        on_speak: Live-view callback `(ctx, speaker, role)` before each call.
    """

    def __init__(
        self,
        client: LLMClient,
        cfg: ChatDevConfig,
        transcript: TranscriptWriter,
        budget: Budget,
        project_id: str,
        on_speak: Callable[[CallContext, str, str], None] | None = None,
    ) -> None:
        self.client = client
        self.cfg = cfg
        self.transcript = transcript
        self.budget = budget
        self.project_id = project_id
        self.on_speak = on_speak
        self.ctx = CallContext()
        info = model_info(cfg.llm.model, cfg.llm.prices)
        self.context_window: int | None = cfg.llm.context_window or info.get("context_window")
        self._chars = 0.0
        self._tokens = 0.0

    def _max_tokens(self, messages: list[dict[str, str]], kind: str) -> int | None:
        cap = {
            "discussion": self.cfg.llm.max_tokens_discussion,
            "code": self.cfg.llm.max_tokens_code,
            "docs": self.cfg.llm.max_tokens_docs,
        }.get(kind)
        if not self.context_window:
            return cap
        chars = sum(len(m["content"]) for m in messages)
        ratio = (self._tokens / self._chars) if self._chars else 1.0 / 3.0
        estimate = int(chars * ratio) + 4 * len(messages)
        room = self.context_window - estimate - 64
        if room < 256:
            raise ContextOverflow(
                f"prompt of phase {self.ctx.phase} is about {estimate} tokens; the model's "
                f"context window ({self.context_window}) leaves {room} for the answer (< 256)"
            )
        return min(cap, room) if cap else None

    def call(
        self,
        agent: Agent,
        incoming: str,
        *,
        kind: str,
        role: str,
        turn: int,
        cdh_step: str | Callable[[str], str | None] | None = None,
    ) -> str:
        """Give `agent` the partner's message `incoming` and return its reply.

        Raises:
            BudgetExceeded: a cap is reached (checked before the call).
            LLMError / ContextOverflow: the call failed.
        """
        agent.heard(incoming)
        messages = agent.messages()
        llm = self.cfg.llm
        self.budget.check(self.transcript.records)
        request = ChatRequest(
            messages=messages,
            model=llm.model,
            temperature=llm.temperature,
            top_p=llm.top_p,
            max_tokens=self._max_tokens(messages, kind),
            seed=llm.seed,
            tags={"phase": self.ctx.phase, "speaker": agent.role, "role": role,
                  "loop": self.ctx.loop, "cycle": self.ctx.cycle, "turn": turn},
        )  # fmt: skip
        if self.on_speak:
            self.on_speak(self.ctx, agent.role, role)
        labels: dict[str, Any] = {
            "project_id": self.project_id, "phase": self.ctx.phase, "loop": self.ctx.loop,
            "cycle": self.ctx.cycle, "turn": turn, "speaker": agent.role, "role": role,
        }  # fmt: skip
        seq = len(self.transcript.records)
        provider = getattr(self.client, "name", "unknown")
        try:
            result = self.client.chat(request)
        except LLMError as exc:
            labels["cdh_step"] = None
            self.transcript.append(
                make_record(
                    seq, request, None, provider=provider, cost_usd=0.0, error=str(exc), **labels
                )  # fmt: skip
            )
            raise
        step = cdh_step(result.content) if callable(cdh_step) else cdh_step
        labels["cdh_step"] = step
        cost = call_cost(llm.model, result.usage, llm.prices)
        self.transcript.append(
            make_record(seq, request, result, provider=provider, cost_usd=cost, **labels)
        )
        if result.usage_source == "api" and result.usage.prompt_tokens:
            self._chars += sum(len(m["content"]) for m in messages)
            self._tokens += result.usage.prompt_tokens
        agent.said(result.content)
        dialogue_log.info(
            "[%s%s] %s (%s%s):\n%s", self.ctx.phase,
            f" {self.ctx.loop} #{self.ctx.cycle}" if self.ctx.loop else "", agent.role, role,
            f", cdh {step}" if step else "", result.content,
        )  # fmt: skip
        return result.content


# ------------------------------------------------------------------------------ one chat
@dataclass
class ChatOutcome:
    """The result of one phase chat."""

    reply: str  # the assistant's last reply
    concluded: bool
    conclusion: str | None
    dialogue: list[tuple[str, str]] = field(default_factory=list)
    reflected: bool = False
    cdh_questions: int = 0
    format_retries: int = 0
    problem: str | None = None  # last validation problem left unsolved
    turns: int = 0


class Chat:
    """Runs phases as chats for one project (holds the company, settings and the caller)."""

    def __init__(self, company: Company, cfg: ChatDevConfig, caller: Caller, task: str) -> None:
        self.company = company
        self.cfg = cfg
        self.caller = caller
        self.task = task
        proto = cfg.protocol
        self.marker = proto.marker
        self.qmarker = proto.question_marker
        self.marker_rule = cfg.compat.marker

    def _concludes(self, text: str) -> bool:
        return concludes(text, self.marker, self.marker_rule)

    def run(
        self,
        step: StepSpec,
        placeholders: dict[str, str],
        *,
        kind: str,
        validate: Callable[[str], str | None] | None = None,
        needs_reflection: Callable[[str, bool], bool] | None = None,
        reflection_question: str | None = None,
        prompt_suffix: str = "",
    ) -> ChatOutcome:
        """Run one SimplePhase chat.

        Args:
            step: Phase name, turns (<= 0 -> default_turns) and reflect flag.
            placeholders: Values for the phase prompt.
            kind: "discussion", "code" or "docs" (output cap).
            validate: Returns a problem text when a reply is unusable (no code, ...); the phase
                then asks again, at most `format_retries` times.
            needs_reflection: Whether to reflect given (reply, concluded); default: not concluded.
            reflection_question: The question Reflection answers.
            prompt_suffix: Text appended after formatting (notes from earlier steps).
        """
        spec = self.company.phases[step.phase]
        turns = step.turns if step.turns > 0 else self.cfg.protocol.default_turns
        assistant, instructor = make_pair(
            self.company, spec.assistant, spec.instructor, self.task,
            self.cfg.protocol.roles_in_prompts,
        )  # fmt: skip
        values = {**placeholders, "assistant_role": spec.assistant, "user_role": spec.instructor}
        prompt = spec.prompt.format(**values) + prompt_suffix
        cdh = self.cfg.protocol.cdh
        use_cdh = cdh.enabled and step.phase in cdh.phases
        if use_cdh:
            prompt += prompts.CDH_CLAUSE.replace("<QUESTION>", self.qmarker)
        instructor.said(prompt)  # the phase prompt is the instructor's own first turn
        dialogue: list[tuple[str, str]] = [(spec.instructor, prompt)]
        out = ChatOutcome(reply="", concluded=False, conclusion=None, dialogue=dialogue)
        message = prompt
        concluding: str | None = None
        for turn in range(1, turns + 1):
            out.turns = turn
            reply = self._assistant_step(assistant, instructor, message, kind, turn, use_cdh, out)
            out.reply = reply
            if self._concludes(reply):
                concluding = reply
                break
            if turns > 1:
                message = self.caller.call(
                    instructor, reply, kind=kind, role="instructor", turn=turn
                )
                dialogue.append((spec.instructor, message))
                if self._concludes(message):
                    concluding = message
                    break
        # bounded re-asks when the reply is unusable (no code, refused paths, ...)
        if validate is not None:
            out.problem = validate(out.reply)
            while out.problem and out.format_retries < self.cfg.protocol.format_retries:
                out.format_retries += 1
                reminder = prompts.FORMAT_REMINDER.format(problem=out.problem)
                dialogue.append((spec.instructor, reminder))
                reply = self.caller.call(
                    assistant, reminder, kind=kind, role="assistant", turn=out.turns + 1,
                    cdh_step="solve" if use_cdh else None,
                )  # fmt: skip
                dialogue.append((spec.assistant, reply))
                out.reply = reply
                out.problem = validate(reply)
        if concluding is not None:
            out.concluded = True
            out.conclusion = conclusion(concluding, self.marker)
        wants = (
            needs_reflection(out.reply, out.concluded) if needs_reflection else not out.concluded
        )
        if step.reflect and wants and reflection_question:
            out.conclusion = self.reflect(dialogue, reflection_question)
            out.reflected = True
        return out

    def _assistant_step(
        self,
        assistant: Agent,
        instructor: Agent,
        message: str,
        kind: str,
        turn: int,
        use_cdh: bool,
        out: ChatOutcome,
    ) -> str:
        """One assistant answer; with CDH, first the question/answer exchange (roles reversed)."""
        spec_a, spec_i = assistant.role, instructor.role
        if not use_cdh:
            reply = self.caller.call(assistant, message, kind=kind, role="assistant", turn=turn)
            out.dialogue.append((spec_a, reply))
            return reply
        max_q = self.cfg.protocol.cdh.max_questions
        asked = 0

        def classify(text: str) -> str:
            return "ask" if asked < max_q and is_question(text, self.qmarker) else "solve"

        while True:
            reply = self.caller.call(
                assistant, message, kind=kind, role="assistant", turn=turn, cdh_step=classify
            )
            out.dialogue.append((spec_a, reply))
            if not is_question(reply, self.qmarker):
                return reply
            if asked >= max_q:
                if message == prompts.CDH_NUDGE:
                    return reply  # asked again after the nudge: take what we have
                message = prompts.CDH_NUDGE
                continue
            asked += 1
            out.cdh_questions += 1
            question = re.sub(rf"^\s*{re.escape(self.qmarker)}\s*", "", reply.strip())
            answer = self.caller.call(
                instructor, prompts.CDH_ANSWER_HINT + question, kind="discussion",
                role="instructor", turn=turn, cdh_step="answer",
            )  # fmt: skip
            out.dialogue.append((spec_i, answer))
            message = answer

    def reflect(self, dialogue: list[tuple[str, str]], question: str) -> str:
        """Reflection: CEO <- Counselor answer `question` about the dialogue (one turn)."""
        spec = self.company.phases["Reflection"]
        saved = (self.caller.ctx.phase, self.caller.ctx.loop, self.caller.ctx.cycle)
        phase = self.caller.ctx.phase
        self.caller.ctx.phase = f"{phase}.Reflection"
        try:
            assistant, instructor = make_pair(
                self.company, spec.assistant, spec.instructor, self.task,
                self.cfg.protocol.roles_in_prompts,
            )  # fmt: skip
            conversations = "\n\n".join(f"{who}: {text}" for who, text in dialogue)
            prompt = spec.prompt.format(
                conversations=conversations, question=question.replace("<INFO>", self.marker),
                task=self.task, assistant_role=spec.assistant, user_role=spec.instructor,
            )  # fmt: skip
            instructor.said(prompt)
            reply = self.caller.call(
                assistant, prompt, kind="discussion", role="reflection", turn=1
            )
        finally:
            self.caller.ctx.phase, self.caller.ctx.loop, self.caller.ctx.cycle = saved
        return conclusion(reply, self.marker) if self.marker in reply else reply.strip()


def now() -> float:
    """Monotonic clock (one place, so tests can patch it)."""
    return time.monotonic()
