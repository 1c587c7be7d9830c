"""Phase handlers: what each SimplePhase reads from the shared state and what it writes back.

Each handler (keyed by the repo's phase class name, so official PhaseConfig keys resolve) fills
the prompt placeholders from `ChatEnv` (`update_phase_env`) and parses the chat's outcome into
`ChatEnv` (`update_chat_env`): modality, language, codebook updates, review comments, error
summaries, requirements.txt, manual.md. Generic handlers (`discuss`, `code`, `doc`) serve custom
phases.

Reproduces: ChatDev §3.1 (phases, long-term memory = solutions carried forward);
chatdev.md §2.4, §2.9, §2.10 (requirements, manual, format failure), §2.12 (human review and
Art phases).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thunlp_repro.chatdev import prompts
from thunlp_repro.chatdev.art import images_text, parse_designs
from thunlp_repro.chatdev.chat import ChatOutcome
from thunlp_repro.chatdev.codebook import (
    Codebook,
    Extraction,
    clean_requirements,
    extract,
    normalise_language,
)
from thunlp_repro.shared.registry import Registry

logger = logging.getLogger(__name__)


@dataclass
class ChatEnv:
    """Shared state of one project (the repo's ChatEnv)."""

    task: str
    description: str = ""
    modality: str = ""
    language: str = ""
    ideas: str = ""
    gui: str = ""
    codebook: Codebook = field(default_factory=Codebook)
    requirements: list[str] = field(default_factory=list)
    requirements_set: bool = False
    manual: str | None = None
    comments: str = ""
    test_reports: str = ""
    error_summary: str = ""
    unimplemented_file: str = ""
    notes: list[str] = field(default_factory=list)  # parse notes for the next code prompt
    code_dir: Any = None  # Path of code/ (for symlink-safe path checks)
    proposed_images: dict[str, str] = field(default_factory=dict)  # ArtDesign: name -> desc
    images: dict[str, str] = field(default_factory=dict)  # pictures saved in code/
    max_images: int = 8

    def placeholders(self) -> dict[str, str]:
        return {
            "task": self.task,
            "description": self.description,
            "modality": self.modality,
            "language": self.language or "python",
            "ideas": self.ideas,
            "gui": self.gui,
            "codes": self.codebook.serialise(),
            "unimplemented_file": self.unimplemented_file,
            "comments": self.comments,
            "test_reports": self.test_reports,
            "error_summary": self.error_summary,
            "requirements": "\n".join(self.requirements),
            "images": images_text(self.images),
        }

    def extract(self, reply: str) -> Extraction:
        return extract(
            reply,
            existing=list(self.codebook.files),
            entry_file=self.codebook.entry_file,
            has_entry=self.codebook.entry_file in self.codebook.files,
            root=self.code_dir,
            parser=self.codebook.parser,
        )


@dataclass
class Applied:
    """What a handler changed (for events and git commits)."""

    changes: list[dict[str, str]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    failed: bool = False  # a required output is missing (Coding without files)


@dataclass
class Handler:
    """One phase kind.

    Attributes:
        name: Registry key (the repo's class name).
        kind: "discussion", "code" or "docs" (decides the output cap).
        apply: Parses the outcome into the env.
        reflection_question: The Reflection question, if the phase may reflect.
        code_required: Re-ask when a reply yields no usable file.
        needs_reflection: (reply, concluded) -> reflect?; default: when not concluded.
    """

    name: str
    kind: str
    apply: Callable[[ChatEnv, ChatOutcome], Applied]
    reflection_question: str | None = None
    code_required: bool = False
    needs_reflection: Callable[[str, bool], bool] | None = None


HANDLERS: Registry[Handler] = Registry("phase handler")


def _register(handler: Handler) -> Handler:
    HANDLERS.add(handler.name, handler)
    return handler


def code_problem(env: ChatEnv, reply: str) -> str | None:
    """Why a reply has no usable code (None when it has at least one file)."""
    got = env.extract(reply)
    if got.files:
        return None
    if got.rejected:
        return "every file name was refused (" + "; ".join(got.notes) + ")"
    if got.n_blocks == 0:
        return "it contains no file in the required format (file name line + fenced code block)"
    return "no code block had a usable file name"


def _apply_code(env: ChatEnv, outcome: ChatOutcome) -> Applied:
    got = env.extract(outcome.reply)
    env.notes = list(got.notes)
    changes = env.codebook.update(got.files)
    if got.requirements is not None:
        _set_requirements(env, got.requirements)
    return Applied(changes=changes, info={"files": sorted(got.files), "rejected": got.rejected,
                                          "notes": got.notes})  # fmt: skip


def _set_requirements(env: ChatEnv, text: str) -> list[str]:
    keep, dropped = clean_requirements(text)
    for warning in dropped:
        logger.warning("requirements: %s", warning)
    env.requirements = keep
    env.requirements_set = True
    return dropped


def _apply_modality(env: ChatEnv, outcome: ChatOutcome) -> Applied:
    text = outcome.conclusion if outcome.conclusion is not None else outcome.reply
    line = (text.strip().splitlines() or [""])[0]
    env.modality = line.lower().replace(".", "").strip().strip("\"'*_`").strip()
    return Applied(info={"modality": env.modality})


def _apply_language(env: ChatEnv, outcome: ChatOutcome) -> Applied:
    text = outcome.conclusion if outcome.conclusion is not None else outcome.reply
    line = (text.strip().splitlines() or [""])[0].strip().rstrip(".!,;:").strip("\"'*_`")
    language = normalise_language(line) if line and len(line.split()) <= 3 else ""
    env.language = language or "python"
    env.codebook.language = env.language
    return Applied(info={"language": env.language})


def _apply_comment(env: ChatEnv, outcome: ChatOutcome) -> Applied:
    env.comments = outcome.conclusion if outcome.concluded else outcome.reply
    return Applied(info={"finished": outcome.concluded})


def _apply_summary(env: ChatEnv, outcome: ChatOutcome) -> Applied:
    env.error_summary = outcome.reply
    return Applied()


def _apply_envdoc(env: ChatEnv, outcome: ChatOutcome) -> Applied:
    got = env.extract(outcome.reply)
    if got.requirements is not None:
        _set_requirements(env, got.requirements)
        return Applied(info={"requirements": env.requirements, "source": "block"})
    if outcome.reflected and outcome.conclusion:
        inner = env.extract(outcome.conclusion)
        _set_requirements(env, inner.requirements if inner.requirements is not None
                          else outcome.conclusion)  # fmt: skip
        return Applied(info={"requirements": env.requirements, "source": "reflection"})
    return Applied(info={"requirements": env.requirements, "source": "none"})


def _envdoc_needs_reflection(reply: str, concluded: bool) -> bool:
    return "requirements.txt" not in reply and not re.search(r"```[ \t]*\n", reply)


def _apply_manual(env: ChatEnv, outcome: ChatOutcome) -> Applied:
    got = env.extract(outcome.reply)
    env.manual = got.manual if got.manual is not None else outcome.reply.strip() + "\n"
    return Applied(info={"chars": len(env.manual)})


def _apply_designs(env: ChatEnv, outcome: ChatOutcome) -> Applied:
    text = outcome.reply
    if outcome.conclusion is not None:
        text += "\n" + outcome.conclusion
    env.proposed_images = parse_designs(text, env.max_images, env.code_dir)
    return Applied(info={"proposed_images": sorted(env.proposed_images)})


def _apply_discuss(env: ChatEnv, outcome: ChatOutcome) -> Applied:
    text = outcome.conclusion if outcome.conclusion is not None else outcome.reply
    env.ideas = text.strip()
    return Applied(info={"ideas": env.ideas})


_register(Handler("DemandAnalysis", "discussion", _apply_modality,
                  prompts.REFLECTION_QUESTIONS["DemandAnalysis"]))  # fmt: skip
_register(Handler("LanguageChoose", "discussion", _apply_language,
                  prompts.REFLECTION_QUESTIONS["LanguageChoose"]))  # fmt: skip
_register(Handler("Coding", "code", _apply_code, code_required=True))
_register(Handler("CodeComplete", "code", _apply_code, code_required=True))
_register(Handler("CodeReviewComment", "discussion", _apply_comment))
_register(Handler("CodeReviewModification", "code", _apply_code, code_required=True))
_register(Handler("TestErrorSummary", "discussion", _apply_summary))
_register(Handler("TestModification", "code", _apply_code, code_required=True))
_register(Handler("EnvironmentDoc", "docs", _apply_envdoc,
                  prompts.REFLECTION_QUESTIONS["EnvironmentDoc"],
                  needs_reflection=_envdoc_needs_reflection))  # fmt: skip
_register(Handler("Manual", "docs", _apply_manual))
_register(Handler("ModificationRequest", "code", _apply_code, code_required=True))
_register(Handler("Reflection", "discussion", lambda env, out: Applied()))
# human review and Art (chatdev.md §2.12, §2.15)
_register(Handler("CodeReviewHuman", "code", _apply_code, code_required=True))
_register(Handler("ArtDesign", "discussion", _apply_designs))
_register(Handler("ArtIntegration", "code", _apply_code, code_required=True))
# generic handlers for custom phases (chatdev.md §2.12)
_register(Handler("discuss", "discussion", _apply_discuss,
                  "What did they conclude? Reply with the conclusion only."))  # fmt: skip
_register(Handler("code", "code", _apply_code, code_required=True))
_register(Handler("doc", "docs", _apply_manual))
