"""Company configs: built-in Default, native YAML, official trio (chatdev.md §2.12, §5.1.4)."""

from __future__ import annotations

import copy

import pytest
import yaml

from thunlp_repro.chatdev import prompts
from thunlp_repro.chatdev.company import (
    builtin_company,
    company_from_native,
    load_company,
    validate,
)
from thunlp_repro.shared.errors import ConfigError

from .trio import CHAIN, write_trio


def test_builtin_default_chain():
    company = load_company(None)
    assert company.item_names() == [
        "DemandAnalysis", "LanguageChoose", "Coding", "CodeCompleteAll", "CodeReview", "Test",
        "EnvironmentDoc", "Manual",
    ]  # fmt: skip
    cycles = {i.name: i.cycles for i in company.chain if i.kind == "loop"}
    assert cycles == {"CodeCompleteAll": 10, "CodeReview": 3, "Test": 3}
    assert company.chain[0].steps[0].turns == -1 and company.chain[0].steps[0].reflect
    assert len(company.recruitments) == 9


def test_official_trio_loads_key_by_key(tmp_path):
    company = load_company(write_trio(tmp_path / "Tiny"))
    assert company.name == "Tiny" and company.source.startswith("trio:")
    assert company.item_names() == ["DemandAnalysis", "LanguageChoose", "Coding", "CodeReview",
                                    "Manual"]  # fmt: skip
    da, lc = company.chain[0].steps[0], company.chain[1].steps[0]
    assert (da.turns, da.reflect) == (-1, True)  # "True" string; -1 -> default turns at run time
    assert (lc.turns, lc.reflect) == (2, False)  # "false" string, any case
    assert company.chain[3].cycles == 2
    assert company.flags["gui_design"] is False and company.flags["clear_structure"] is True
    assert company.background_prompt == "Tiny Co builds small tools with agents."
    # "\n\n" joins for top-level phases, "\n" inside loops (the repo's difference)
    assert company.phases["Coding"].prompt == "Task: {task}.\n\nLanguage: {language}.\n\n" \
        "Write main.py as\n\nmain.py then a fenced block."  # fmt: skip
    assert company.phases["CodeReviewComment"].prompt == (
        "Review this:\n{codes}\nSay <INFO> Finished if fine."
    )
    assert company.roles["Programmer"].startswith("{chatdev_prompt}\nYou write code")
    # phases/roles the trio does not define fall back to ours
    assert company.phases["Manual"].prompt == prompts.PHASES["Manual"]["prompt"]
    assert company.roles["Code Reviewer"] == prompts.ROLES["Code Reviewer"]
    assert set(company.originals) == {"ChatChainConfig.json", "PhaseConfig.json",
                                      "RoleConfig.json"}  # fmt: skip


def test_trio_per_file_fallback(tmp_path):
    company = load_company(write_trio(tmp_path / "OnlyPhases", chain=False, roles=False))
    assert company.item_names() == builtin_company().item_names()
    assert company.phases["Coding"].prompt.startswith("Task: {task}.")


def test_trio_json_booleans_accepted(tmp_path):
    doc = copy.deepcopy(CHAIN)
    doc["gui_design"] = True
    doc["chain"][0]["need_reflect"] = False
    company = load_company(write_trio(tmp_path / "B", chain_doc=doc))
    assert company.flags["gui_design"] is True and company.chain[0].steps[0].reflect is False


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(web_spider="True"), "web_spider"),
        (
            lambda d: d["chain"].append({"phase": "Recruiting", "phaseType": "SimplePhase"}),
            "recruiting",
        ),
        (
            lambda d: d["chain"].append({"phase": "Artt", "phaseType": "ComposedPhase"}),
            "unknown loop 'Artt'.*did you mean 'Art'",
        ),
        (lambda d: d["chain"].append({"phase": "Dance", "phaseType": "SimplePhase"}), "Dance"),
        (lambda d: d["recruitments"].remove("Code Reviewer"), "not recruited"),
        (lambda d: d.update(gui_design="maybe"), "true or false"),
    ],
)
def test_trio_errors(tmp_path, change, message):
    doc = copy.deepcopy(CHAIN)
    change(doc)
    with pytest.raises(ConfigError, match=message):
        load_company(write_trio(tmp_path / "Bad", chain_doc=doc))


def test_web_spider_can_be_ignored(tmp_path):
    doc = copy.deepcopy(CHAIN)
    doc["web_spider"] = "True"
    load_company(write_trio(tmp_path / "W", chain_doc=doc), ignore_unsupported=True)


def test_unknown_placeholder_names_the_phase():
    company = builtin_company()
    company.phases["Coding"].prompt += " {colour}"
    with pytest.raises(ConfigError, match="phase 'Coding'.*colour"):
        validate(company)


def test_reflect_without_question_is_an_error():
    company = builtin_company()
    company.chain[2].steps[0].reflect = True  # Coding has no reflection question
    with pytest.raises(ConfigError, match="reflection question"):
        validate(company)


def test_native_yaml_round_trip(tmp_path):
    company = builtin_company()
    text = company.to_yaml()
    again = company_from_native(yaml.safe_load(text))
    assert again.to_yaml() == text
    path = tmp_path / "co.yaml"
    path.write_text(
        "name: Mine\nflags: {gui_design: false}\nchain:\n  - phase: Coding\n"
        "  - {loop: Test, cycles: 2, steps: [TestErrorSummary, TestModification]}\n"
    )
    mine = load_company(path)
    assert mine.item_names() == ["Coding", "Test"] and mine.chain[1].cycles == 2
    assert mine.flags["gui_design"] is False


def test_native_unknown_key(tmp_path):
    path = tmp_path / "co.yaml"
    path.write_text("nmae: x\n")
    with pytest.raises(ConfigError, match="did you mean 'name'"):
        load_company(path)


def test_marker_substitution():
    company = builtin_company().with_marker("<SOLUTION>")
    assert "<INFO>" not in company.phases["DemandAnalysis"].prompt
    assert "<SOLUTION>" in company.phases["DemandAnalysis"].prompt


HUMAN_LOOP = {"phase": "HumanAgentInteraction", "phaseType": "ComposedPhase", "cycleNum": 5,
              "Composition": [{"phase": "CodeReviewHuman", "phaseType": "SimplePhase",
                               "max_turn_step": 1, "need_reflect": "False"}]}  # fmt: skip
ART_LOOP = {"phase": "Art", "phaseType": "ComposedPhase", "cycleNum": 1, "Composition": [
    {"phase": "ArtDesign", "phaseType": "SimplePhase", "max_turn_step": 1, "need_reflect": "False"},
    {"phase": "ArtIntegration", "phaseType": "SimplePhase", "max_turn_step": 1,
     "need_reflect": "False"}]}  # fmt: skip


def test_official_human_art_and_memory_configs_load(tmp_path):
    doc = copy.deepcopy(CHAIN)
    doc["chain"].insert(3, copy.deepcopy(ART_LOOP))
    doc["chain"].insert(5, copy.deepcopy(HUMAN_LOOP))
    doc["recruitments"].append("Chief Creative Officer")
    doc["with_memory"] = "True"
    company = load_company(write_trio(tmp_path / "Full", chain_doc=doc))
    assert company.item_names() == ["DemandAnalysis", "LanguageChoose", "Coding", "Art",
                                    "CodeReview", "HumanAgentInteraction", "Manual"]  # fmt: skip
    art = company.chain[3]
    assert art.kind == "loop" and [s.phase for s in art.steps] == ["ArtDesign", "ArtIntegration"]
    human = company.chain[5]
    assert human.cycles == 5 and human.steps[0].phase == "CodeReviewHuman"
    assert company.flags["with_memory"] is True
    # our texts fill the phases the trio does not define
    assert "{comments}" in company.phases["CodeReviewHuman"].prompt
    assert "{images}" in company.phases["ArtIntegration"].prompt


def test_art_needs_the_creative_officer(tmp_path):
    doc = copy.deepcopy(CHAIN)
    doc["chain"].insert(3, copy.deepcopy(ART_LOOP))  # CCO not recruited in the tiny trio
    with pytest.raises(ConfigError, match="ArtDesign.*Chief Creative Officer.*not recruited"):
        load_company(write_trio(tmp_path / "NoCCO", chain_doc=doc))
