"""A small official-format CompanyConfig trio (official keys, our own texts) for tests."""

from __future__ import annotations

import json
from pathlib import Path

CHAIN = {
    "chain": [
        {"phase": "DemandAnalysis", "phaseType": "SimplePhase", "max_turn_step": -1,
         "need_reflect": "True"},
        {"phase": "LanguageChoose", "phaseType": "SimplePhase", "max_turn_step": 2,
         "need_reflect": "false"},
        {"phase": "Coding", "phaseType": "SimplePhase", "max_turn_step": 1,
         "need_reflect": False},
        {"phase": "CodeReview", "phaseType": "ComposedPhase", "cycleNum": 2, "Composition": [
            {"phase": "CodeReviewComment", "phaseType": "SimplePhase", "max_turn_step": 1,
             "need_reflect": "False"},
            {"phase": "CodeReviewModification", "phaseType": "SimplePhase", "max_turn_step": 1,
             "need_reflect": "False"}]},
        {"phase": "Manual", "phaseType": "SimplePhase", "max_turn_step": 1,
         "need_reflect": "False"},
    ],
    "recruitments": ["Chief Executive Officer", "Counselor", "Chief Product Officer",
                     "Chief Technology Officer", "Programmer", "Code Reviewer"],
    "clear_structure": "True",
    "gui_design": "False",
    "git_management": "False",
    "web_spider": "False",
    "incremental_develop": "False",
    "with_memory": "False",
    "background_prompt": "Tiny Co builds small tools with agents.",
}  # fmt: skip

PHASES = {
    "Coding": {
        "assistant_role_name": "Programmer",
        "user_role_name": "Chief Technology Officer",
        "phase_prompt": ["Task: {task}.", "Language: {language}.", "Write main.py as",
                         "main.py then a fenced block."],
    },
    "CodeReviewComment": {
        "assistant_role_name": "Code Reviewer",
        "user_role_name": "Programmer",
        "phase_prompt": ["Review this:", "{codes}", "Say <INFO> Finished if fine."],
    },
}  # fmt: skip

ROLES = {
    "Programmer": ["{chatdev_prompt}", "You write code for {task}.",
                   "You answer {user_role} as {assistant_role}."],
}  # fmt: skip


def write_trio(folder: Path, *, chain=True, phases=True, roles=True, chain_doc=None) -> Path:
    """Write the trio (or some of its files) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    if chain:
        (folder / "ChatChainConfig.json").write_text(json.dumps(chain_doc or CHAIN, indent=2))
    if phases:
        (folder / "PhaseConfig.json").write_text(json.dumps(PHASES, indent=2))
    if roles:
        (folder / "RoleConfig.json").write_text(json.dumps(ROLES, indent=2))
    return folder
