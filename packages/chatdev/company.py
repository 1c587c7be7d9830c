"""Company configs: our built-in Default, native YAML, and the official CompanyConfig trio.

A company = background prompt, flags, recruited roles (role prompts), phases (assistant,
instructor, prompt, handler) and the chain (simple items and loops). `load_company` reads a
native YAML file or an official folder (`ChatChainConfig.json`, `PhaseConfig.json`,
`RoleConfig.json`; a missing file falls back to our Default, per file, as the repo falls back to
`CompanyConfig/Default/`). Every company is validated: roles recruited, placeholders known,
handlers registered, reflection questions defined, unsupported features named clearly. The
repo's Human (`HumanAgentInteraction`), Art (`Art`, `ArtDesign`, `ArtIntegration`) and memory
(`with_memory`) features load; only recruiting phases, `web_spider` and `self_improve` are
refused.

Reproduces: ChatDev §3.1 (chat chain); chatdev.md §2.3, §2.9, §2.12, pitfalls #19-#21.
"""

from __future__ import annotations

import copy
import json
import string
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from thunlp_repro.chatdev import prompts
from thunlp_repro.shared.errors import ConfigError
from thunlp_repro.shared.registry import did_you_mean

PHASE_PLACEHOLDERS = {
    "task", "description", "modality", "language", "ideas", "gui", "codes",
    "unimplemented_file", "comments", "test_reports", "error_summary", "requirements", "images",
    "assistant_role", "user_role",
}  # fmt: skip
REFLECTION_PLACEHOLDERS = {"conversations", "question"}
ROLE_PLACEHOLDERS = {"chatdev_prompt", "task", "assistant_role", "user_role"}
LOOPS = {"CodeCompleteAll", "CodeReview", "Test", "HumanAgentInteraction", "Art"}
UNSUPPORTED = {
    "Recruiting": "recruiting phases are not implemented",
}
FLAG_NAMES = (
    "clear_structure", "gui_design", "git_management", "incremental_develop", "self_improve",
    "web_spider", "with_memory",
)  # fmt: skip
DEFAULT_FLAGS = {
    "clear_structure": True, "gui_design": True, "git_management": False,
    "incremental_develop": False, "self_improve": False, "web_spider": False,
    "with_memory": False,
}  # fmt: skip
TRIO = ("ChatChainConfig.json", "PhaseConfig.json", "RoleConfig.json")


@dataclass
class PhaseSpec:
    """One phase: who talks to whom, with which prompt, handled by which handler."""

    assistant: str
    instructor: str
    prompt: str
    handler: str = ""


@dataclass
class StepSpec:
    """One SimplePhase occurrence in the chain (top level or inside a loop)."""

    phase: str
    turns: int = 1
    reflect: bool = False


@dataclass
class ChainItem:
    """A chain item: a SimplePhase (`steps` has one entry) or a loop over SimplePhases."""

    name: str
    kind: str  # "simple" | "loop"
    steps: list[StepSpec]
    cycles: int = 1


@dataclass
class Company:
    """A whole company config (native form)."""

    name: str
    background_prompt: str
    flags: dict[str, bool]
    recruitments: list[str]
    roles: dict[str, str]
    phases: dict[str, PhaseSpec]
    chain: list[ChainItem]
    protocol: dict[str, Any] = field(default_factory=dict)
    source: str = "builtin"
    originals: dict[str, str] = field(default_factory=dict)  # verbatim trio files

    # -------------------------------------------------------------- conversion
    def to_native(self) -> dict[str, Any]:
        """The native YAML document (chatdev.md §2.12 sketch)."""
        chain: list[dict[str, Any]] = []
        for item in self.chain:
            if item.kind == "simple":
                step = item.steps[0]
                chain.append({"phase": step.phase, "turns": step.turns, "reflect": step.reflect})
            else:
                chain.append({
                    "loop": item.name, "cycles": item.cycles,
                    "steps": [{"phase": s.phase, "turns": s.turns, "reflect": s.reflect}
                              for s in item.steps],
                })  # fmt: skip
        doc: dict[str, Any] = {
            "name": self.name,
            "background_prompt": self.background_prompt,
            "flags": dict(self.flags),
        }
        if self.protocol:
            doc["protocol"] = copy.deepcopy(self.protocol)
        doc["recruitments"] = list(self.recruitments)
        doc["roles"] = dict(self.roles)
        doc["phases"] = {name: {k: v for k, v in asdict(p).items() if v or k != "handler"}
                         for name, p in self.phases.items()}  # fmt: skip
        doc["chain"] = chain
        return doc

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_native(), sort_keys=False, allow_unicode=True, width=100)

    def item_names(self) -> list[str]:
        return [item.name for item in self.chain]

    def with_marker(self, marker: str, question_marker: str = "<QUESTION>") -> Company:
        """A copy whose prompts use `marker` in place of `<INFO>`."""
        if marker == "<INFO>":
            return self
        out = copy.deepcopy(self)
        out.roles = {k: v.replace("<INFO>", marker) for k, v in out.roles.items()}
        for spec in out.phases.values():
            spec.prompt = spec.prompt.replace("<INFO>", marker)
        return out


# ------------------------------------------------------------------ helpers
def as_bool(value: Any, key: str) -> bool:
    """JSON bool or the repo's string booleans ("True"/"False", any case) (pitfall #19)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ConfigError(f'{key} must be true or false (or "True"/"False"), got {value!r}')


def _placeholders(text: str) -> set[str]:
    try:
        return {f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(text) if f}
    except ValueError as exc:
        raise ConfigError(f"malformed placeholder ({exc})") from None


def builtin_company() -> Company:
    """Our Default company: the repo's default chain and roster, our prompt texts."""
    phases = {
        name: PhaseSpec(spec["assistant"], spec["instructor"], spec["prompt"], name)
        for name, spec in prompts.PHASES.items()
    }
    chain = [
        ChainItem("DemandAnalysis", "simple", [StepSpec("DemandAnalysis", -1, True)]),
        ChainItem("LanguageChoose", "simple", [StepSpec("LanguageChoose", -1, True)]),
        ChainItem("Coding", "simple", [StepSpec("Coding", 1, False)]),
        ChainItem("CodeCompleteAll", "loop", [StepSpec("CodeComplete", 1, False)], 10),
        ChainItem(
            "CodeReview",
            "loop",
            [StepSpec("CodeReviewComment", 1, False), StepSpec("CodeReviewModification", 1, False)],
            3,
        ),  # fmt: skip
        ChainItem(
            "Test",
            "loop",
            [StepSpec("TestErrorSummary", 1, False), StepSpec("TestModification", 1, False)],
            3,
        ),  # fmt: skip
        ChainItem("EnvironmentDoc", "simple", [StepSpec("EnvironmentDoc", 1, True)]),
        ChainItem("Manual", "simple", [StepSpec("Manual", 1, False)]),
    ]
    return Company(
        name="Default",
        background_prompt=prompts.BACKGROUND,
        flags=dict(DEFAULT_FLAGS),
        recruitments=list(prompts.RECRUITMENTS),
        roles=dict(prompts.ROLES),
        phases=phases,
        chain=chain,
    )


# ------------------------------------------------------------------ native YAML
def _parse_step(raw: Any, where: str) -> StepSpec:
    if isinstance(raw, str):
        return StepSpec(raw)
    if not isinstance(raw, dict) or "phase" not in raw:
        raise ConfigError(f"{where}: a chain step needs a 'phase' key, got {raw!r}")
    unknown = set(raw) - {"phase", "turns", "reflect"}
    if unknown:
        raise ConfigError(f"{where}: unknown step keys {sorted(unknown)} (phase, turns, reflect)")
    return StepSpec(
        str(raw["phase"]), int(raw.get("turns", 1)), as_bool(raw.get("reflect", False), where)
    )


def company_from_native(doc: dict[str, Any], source: str = "yaml") -> Company:
    """Build a Company from a native YAML document; missing sections come from our Default."""
    base = builtin_company()
    known = {"name", "background_prompt", "flags", "protocol", "recruitments", "roles", "phases",
             "chain"}  # fmt: skip
    unknown = set(doc) - known
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(
            f"{source}: unknown company key '{key}'{did_you_mean(key, sorted(known))}"
        )
    flags = dict(base.flags)
    for key, value in (doc.get("flags") or {}).items():
        if key not in FLAG_NAMES:
            raise ConfigError(
                f"{source}: unknown flag '{key}'{did_you_mean(key, list(FLAG_NAMES))}"
            )
        flags[key] = as_bool(value, f"flags.{key}")
    phases = dict(base.phases)
    for name, spec in (doc.get("phases") or {}).items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{source}: phases.{name} must be a mapping")
        prev = base.phases.get(name)
        prompt = spec.get("prompt", prev.prompt if prev else None)
        if isinstance(prompt, list):
            prompt = "\n\n".join(prompt)
        phases[name] = PhaseSpec(
            assistant=spec.get("assistant", prev.assistant if prev else ""),
            instructor=spec.get("instructor", prev.instructor if prev else ""),
            prompt=prompt or "",
            handler=spec.get("handler", name),
        )
    chain = base.chain
    if "chain" in doc:
        chain = []
        for i, raw in enumerate(doc["chain"] or []):
            where = f"{source}: chain[{i}]"
            if isinstance(raw, dict) and "loop" in raw:
                steps = [_parse_step(s, where) for s in raw.get("steps") or []]
                chain.append(ChainItem(str(raw["loop"]), "loop", steps, int(raw.get("cycles", 1))))
            else:
                step = _parse_step(raw, where)
                chain.append(ChainItem(step.phase, "simple", [step]))
    roles = dict(base.roles)
    for name, text in (doc.get("roles") or {}).items():
        roles[name] = "\n".join(text) if isinstance(text, list) else str(text)
    return Company(
        name=str(doc.get("name", "Custom")),
        background_prompt=str(doc.get("background_prompt", base.background_prompt)),
        flags=flags,
        recruitments=list(doc.get("recruitments", base.recruitments)),
        roles=roles,
        phases=phases,
        chain=chain,
        protocol=dict(doc.get("protocol") or {}),
        source=source,
    )


# ------------------------------------------------------------------ official trio
def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON ({exc.msg} at line {exc.lineno})") from None


def company_from_trio(folder: Path, default_turns: int = 10) -> Company:
    """Read an official ChatDev CompanyConfig folder key by key (chatdev.md §2.12).

    A file missing from `folder` falls back to our Default for that part. `max_turn_step <= 0`
    means `default_turns`; `need_reflect` may be a JSON bool or a string; phase prompts are joined
    with "\\n\\n" at top level and "\\n" inside loops, as the repo does (pitfall #20).
    """
    base = builtin_company()
    originals: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name in TRIO:
        path = folder / name
        if path.is_file():
            originals[name] = path.read_text(encoding="utf-8")
            data[name] = _read_json(path)
    if not data:
        raise ConfigError(f"{folder}: no ChatChainConfig.json, PhaseConfig.json or RoleConfig.json")

    flags = dict(base.flags)
    chain = base.chain
    recruitments = base.recruitments
    background = base.background_prompt
    in_loop: set[str] = set()
    top_level: set[str] = set()
    if "ChatChainConfig.json" in data:
        cc = data["ChatChainConfig.json"]
        where = f"{folder.name}/ChatChainConfig.json"
        for key in FLAG_NAMES:
            if key in cc:
                flags[key] = as_bool(cc[key], f"{where}: {key}")
        background = cc.get("background_prompt", background)
        recruitments = list(cc.get("recruitments", recruitments))
        chain = []
        for i, raw in enumerate(cc.get("chain", [])):
            name = raw.get("phase")
            kind = raw.get("phaseType", "SimplePhase")
            if name in UNSUPPORTED:
                raise ConfigError(
                    f"{where}: chain[{i}] '{name}' is unsupported ({UNSUPPORTED[name]})"
                )
            if kind == "ComposedPhase":
                steps = []
                for sub in raw.get("Composition", []):
                    if sub.get("phaseType", "SimplePhase") != "SimplePhase":
                        raise ConfigError(f"{where}: loops cannot nest ({name})")
                    steps.append(_trio_step(sub, default_turns, where))
                    in_loop.add(sub["phase"])
                chain.append(ChainItem(name, "loop", steps, int(raw.get("cycleNum", 1))))
            elif kind == "SimplePhase":
                step = _trio_step(raw, default_turns, where)
                top_level.add(step.phase)
                chain.append(ChainItem(name, "simple", [step]))
            else:
                raise ConfigError(f"{where}: chain[{i}] phaseType must be SimplePhase or "
                                  f"ComposedPhase, got {kind!r}")  # fmt: skip
    phases = dict(base.phases)
    if "PhaseConfig.json" in data:
        where = f"{folder.name}/PhaseConfig.json"
        for name, spec in data["PhaseConfig.json"].items():
            if name in UNSUPPORTED:
                continue  # only an error if the chain uses it
            lines = spec.get("phase_prompt", [])
            joiner = "\n" if name in in_loop and name not in top_level else "\n\n"
            phases[name] = PhaseSpec(
                assistant=spec.get("assistant_role_name", ""),
                instructor=spec.get("user_role_name", ""),
                prompt=joiner.join(lines) if isinstance(lines, list) else str(lines),
                handler=name,
            )
    roles = dict(base.roles)
    if "RoleConfig.json" in data:
        roles = dict(base.roles)
        for name, lines in data["RoleConfig.json"].items():
            roles[name] = "\n".join(lines) if isinstance(lines, list) else str(lines)
    return Company(
        name=folder.name,
        background_prompt=background,
        flags=flags,
        recruitments=recruitments,
        roles=roles,
        phases=phases,
        chain=chain,
        source=f"trio:{folder}",
        originals=originals,
    )


def _trio_step(raw: dict[str, Any], default_turns: int, where: str) -> StepSpec:
    turns = int(raw.get("max_turn_step", 1))
    return StepSpec(
        phase=raw["phase"],
        turns=turns,
        reflect=as_bool(raw.get("need_reflect", False), f"{where}: {raw['phase']}.need_reflect"),
    )


# ------------------------------------------------------------------ load + validate
def load_company(source: str | Path | None, *, ignore_unsupported: bool = False) -> Company:
    """Our Default (None), a native YAML file, or an official trio folder; validated."""
    if source is None:
        company = builtin_company()
    else:
        path = Path(source)
        if path.is_dir():
            company = company_from_trio(path)
        elif path.is_file():
            try:
                doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(f"{path}: invalid YAML ({exc.__class__.__name__})") from None
            if not isinstance(doc, dict):
                raise ConfigError(f"{path}: a company file must be a mapping")
            company = company_from_native(doc, str(path))
        else:
            raise ConfigError(f"company config not found: {path}")
    validate(company, ignore_unsupported=ignore_unsupported)
    return company


def validate(company: Company, *, ignore_unsupported: bool = False) -> None:
    """Check a company before any call is made.

    `with_memory` and `incremental_develop` are checked when a run starts (they need a memory
    file or a base folder, which the company does not name).

    Raises:
        ConfigError: unknown handler or loop, unrecruited role, unknown placeholder, a reflect
            step without a reflection question, nested loops, or an unsupported feature.
    """
    from thunlp_repro.chatdev.phases import HANDLERS

    for flag, why in (("web_spider", "needs internet access to Wikipedia"),
                      ("self_improve", "prompt self-improvement is not implemented")):  # fmt: skip
        if company.flags.get(flag) and not ignore_unsupported:
            raise ConfigError(
                f"{flag} is unsupported ({why}); set it to false or pass --ignore-unsupported"
            )
    recruited = set(company.recruitments)
    for name, text in company.roles.items():
        bad = _placeholders(text) - ROLE_PLACEHOLDERS
        if bad and name in recruited:
            raise ConfigError(f"role '{name}': unknown placeholder(s) {sorted(bad)}")
    needs_reflection = False
    seen_steps: set[str] = set()
    for item in company.chain:
        if item.kind == "loop":
            if item.name in UNSUPPORTED:
                raise ConfigError(f"loop '{item.name}' is unsupported ({UNSUPPORTED[item.name]})")
            if item.name not in LOOPS:
                hint = did_you_mean(item.name, sorted(LOOPS))
                raise ConfigError(f"unknown loop '{item.name}'{hint}"
                                  f"; known loops: {', '.join(sorted(LOOPS))}")  # fmt: skip
            if item.cycles < 1:
                raise ConfigError(f"loop '{item.name}': cycles must be >= 1")
        for step in item.steps:
            seen_steps.add(step.phase)
            if step.phase not in company.phases:
                raise ConfigError(
                    f"chain uses phase '{step.phase}' that no phase config defines"
                    f"{did_you_mean(step.phase, sorted(company.phases))}"
                )
            spec = company.phases[step.phase]
            handler = spec.handler or step.phase
            if handler not in HANDLERS:
                raise ConfigError(
                    f"phase '{step.phase}': unknown handler '{handler}'"
                    f"{did_you_mean(handler, HANDLERS.keys())}; known: {', '.join(HANDLERS.keys())}"
                )
            for role in (spec.assistant, spec.instructor):
                if role not in recruited:
                    raise ConfigError(f"phase '{step.phase}': role '{role}' is not recruited")
                if role not in company.roles:
                    raise ConfigError(f"phase '{step.phase}': role '{role}' has no role prompt")
            bad = _placeholders(spec.prompt) - PHASE_PLACEHOLDERS
            if bad:
                raise ConfigError(f"phase '{step.phase}': unknown placeholder(s) {sorted(bad)}")
            if step.reflect:
                needs_reflection = True
                if not HANDLERS.get(handler).reflection_question:
                    raise ConfigError(
                        f"phase '{step.phase}' has reflect on but its handler '{handler}' "
                        "defines no reflection question"
                    )
    if needs_reflection:
        spec = company.phases.get("Reflection")
        if spec is None:
            raise ConfigError("reflection is used but no 'Reflection' phase is defined")
        for role in (spec.assistant, spec.instructor):
            if role not in recruited or role not in company.roles:
                raise ConfigError(f"Reflection needs the role '{role}' (recruited, with a prompt)")
        bad = _placeholders(spec.prompt) - REFLECTION_PLACEHOLDERS - PHASE_PLACEHOLDERS
        if bad:
            raise ConfigError(f"phase 'Reflection': unknown placeholder(s) {sorted(bad)}")
