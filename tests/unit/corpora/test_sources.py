"""The cleaners and unit builders of the corpus assets, on text we wrote ourselves."""

from __future__ import annotations

import json

from thunlp_repro.shared.corpora_sources import clean_play, dialog_units, kjv_chapters, norm

# Markdown hard line breaks are two trailing spaces, written here as "~~".
PLAY = """# The Tale of Nobody

## ACT I

### SCENE I. A road.

_Enter PIP and MOLL_

**PIP**~~
Good morrow, Moll: the sun is up,~~
And so am I, though late.

**MOLL**~~
*[Aside]* He talks of \\[sun\\] and lateness \\-- again.

_Exeunt_
""".replace("~~", "  ")


def test_clean_play_strips_markup_but_keeps_the_words():
    assert clean_play(PLAY) == [
        "Enter PIP and MOLL",
        "Good morrow, Moll: the sun is up,",
        "And so am I, though late.",
        "[Aside] He talks of [sun] and lateness -- again.",
        "Exeunt",
    ]


def test_kjv_chapters_group_verses_and_drop_excluded_text():
    rows = [
        {"book": "Numbers", "chapter": 1, "verse": 1, "text": "Count  the tents."},
        {"book": "Numbers", "chapter": 1, "verse": 2, "text": "Then count them again."},
        {"book": "Numbers", "chapter": 2, "verse": 1, "text": "Yes."},
    ]
    text = "\n".join(json.dumps(r) for r in rows)
    units, dropped = kjv_chapters(text, exclude=frozenset({norm("YES.")}))
    assert [(u.unit_id, u.text) for u in units] == [
        ("Numbers 1", "Count the tents.\nThen count them again.")
    ]
    assert dropped == 1 and units[0].domain == "kjv" and units[0].words == 7


def test_dialog_units_drop_reserved_duplicate_and_task_text():
    lines = [f"statement {i}.\treply {i}." for i in range(10)]
    lines[3] = lines[1]  # an exact duplicate line
    lines[5] = "what?\tfine, thanks."  # "what?" is a reserved turn; "fine, thanks." a task text
    lines[6] = "same.\tsame."  # consecutive repeats collapse
    units, stats = dialog_units(
        lines,
        reserved_lines=range(8, 10),
        reserved_texts=["what?"],
        exclude=frozenset({"fine, thanks."}),
        block_lines=4,
    )
    assert [u.unit_id for u in units] == ["lines-00000-00003", "lines-00004-00007"]
    first = units[0].text.split("\n")
    assert first == [
        "statement 0.",
        "reply 0.",
        "statement 1.",
        "reply 1.",
        "statement 2.",
        "reply 2.",
    ]
    assert units[1].text.split("\n") == [
        "statement 4.",
        "reply 4.",
        "same.",
        "statement 7.",
        "reply 7.",
    ]
    assert stats == {
        "lines": 10,
        "reserved_lines": 2,
        "duplicate_lines": 1,
        "reserved_turns_dropped": 1,
        "task_turns_dropped": 1,
    }
    assert all("statement 8" not in u.text for u in units)
