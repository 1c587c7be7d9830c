"""Source parsers on small texts we wrote ourselves (the real files are research-only)."""

from __future__ import annotations

import pytest

from thunlp_repro.shared.tasks.bbc import parse_article
from thunlp_repro.shared.tasks.dialog import BLOCK_LINES, reserved_blocks, reserved_line_indices
from thunlp_repro.shared.tasks.sentiment import binarize, parse_vader
from thunlp_repro.shared.tasks.sms import parse_sms
from thunlp_repro.shared.tasks.text import jaccard, split_sentences
from thunlp_repro.shared.tasks.trec import parse_trec


def test_vader_tsv_header_crlf_and_quotes_do_not_merge_rows():
    text = (
        "id\tsentiment\ttext\r\n"
        '1\t2.5\t"Great" fun, from start to end.\r\n'
        "2\t-0.4\tneither here nor there\r\n"
        "3\t-1.75\ta dull, slow film\r\n"
        "4\t0.5\tjust about fine\r\n"
    )
    rows = parse_vader(text)
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]  # the quote did not swallow lines
    ex = binarize(rows)
    assert [(e.text, e.label) for e in ex] == [
        ('"Great" fun, from start to end.', 1),
        ("a dull, slow film", 0),
        ("just about fine", 1),  # |0.5| is kept, |0.4| dropped
    ]
    with pytest.raises(ValueError, match="3 tab-separated"):
        parse_vader("id\tsentiment\ttext\n1\t1.0\n")


def test_trec_coarse_labels_and_dedupe():
    text = (
        "NUM:date When did the tall ship sail ?\n"
        "NUM:date When did the tall ship sail ?\n"
        "ABBR:exp What does XYZ stand for ?\n"
        "HUM:ind Who painted the blue door ?\n"
    )
    ex, counts = parse_trec(text)
    assert counts == {"lines": 4, "unique": 3, "conflicting": 0}
    assert [e.label for e in ex] == [5, 0, 3]
    with pytest.raises(ValueError, match="unknown TREC"):
        parse_trec("FOO:bar What ?\n")


def test_sms_csv_quoted_multiline():
    text = ',spam,text\n0,0,"hi there, see you\nlater"\n1,1,WIN a prize now\n'
    ex = parse_sms(text)
    assert [(e.text, e.label) for e in ex] == [
        ("hi there, see you later", 0),
        ("WIN a prize now", 1),
    ]
    with pytest.raises(ValueError, match="header"):
        parse_sms("a,b,c\n")


def test_bbc_article_title_paragraphs_first_sentence():
    a = parse_article(
        "tech/001",
        4,
        "Robots learn to paint\n\n"
        "A lab built robots that paint. They sell the art.\n\nMore soon.\n",
    )
    assert a.title == "Robots learn to paint"
    assert a.paragraphs == ("A lab built robots that paint. They sell the art.", "More soon.")
    assert a.sentences == ["A lab built robots that paint.", "They sell the art.", "More soon."]
    assert a.task_text == "Robots learn to paint. A lab built robots that paint."


def test_sentence_split_keeps_titles_and_initials():
    s = "Mr. Brown met J. Smith in town. They talked. Then they left!"
    assert split_sentences(s) == [
        "Mr. Brown met J. Smith in town.",
        "They talked.",
        "Then they left!",
    ]
    assert split_sentences("yes. i know. fine", lower=True) == ["yes.", "i know.", "fine"]
    assert jaccard("a b c", "a b d") == 0.5


def test_dialog_reservation_is_fixed_and_ten_percent():
    blocks = reserved_blocks(64_350)
    assert len(blocks) == 33 and blocks == reserved_blocks(64_350)
    lines = reserved_line_indices(64_350)
    assert len(lines) == 33 * BLOCK_LINES - (BLOCK_LINES - 150) * (321 in blocks)
    assert len(set(lines)) == len(lines) and max(lines) < 64_350
