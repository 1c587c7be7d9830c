"""The synthetic generator on hand-written sentences (no source rows)."""

from __future__ import annotations

from collections import Counter

from thunlp_repro.shared.tasks.edits import Doc, Generator, wordlists
from thunlp_repro.shared.tasks.synthetic import (
    FALSE,
    NEUTRAL,
    NO,
    TRUE,
    YES,
    generate_nli,
    generate_para,
)

# Hand-written "articles" for the generator tests.
DOCS = [
    Doc(
        "a1",
        (
            "The new bridge over the river was opened by the mayor on a sunny morning.",
            "The mayor said the bridge would help local shops, and traffic fell quickly.",
            "Engineers had worked on the bridge for three long years before it opened.",
            "Some residents were not happy with the cost of the big project, which grew.",
            "The council will vote on a second bridge next spring, the mayor said.",
        ),
    ),
    Doc(
        "a2",
        (
            "The small team won the final match after a very long season of hard games.",
            "Their coach is happy with the young players and will keep the same squad.",
            "Fans did not expect the team to win the cup this year, the coach said.",
            "The players really enjoyed the big parade through the old town centre.",
            "Ticket prices rose again, and the club said demand was high for the final.",
        ),
    ),
    Doc(
        "a3",
        (
            "The museum opened a new gallery of old maps in the north wing of the building.",
            "Visitors can see maps that are more than four hundred years old in the gallery.",
            "The director is sure the gallery will attract many young visitors this summer.",
            "Some maps were damaged in a flood, but the team repaired them (slowly) by hand.",
            "The museum does not charge for entry, and the gallery is open every weekday.",
        ),
    ),
]


def _gen() -> Generator:
    return Generator(DOCS)


def test_wordlists_are_symmetric_and_loaded():
    w = wordlists()
    assert w.antonyms["good"] == "bad" and w.antonyms["bad"] == "good"
    assert w.synonyms["big"] == "large" and w.synonyms["large"] == "big"
    assert "is" in w.auxiliaries and "really" in w.removable_adverbs
    assert w.negations["don't"] == "do" and w.negations["not"] == ""


def test_yes_edits_delete_one_part_and_keep_most_words():
    g = _gen()
    s = "The players really enjoyed the big parade through the old town centre."
    edits = g.entailments(s)
    texts = {e.text for e in edits}
    assert "The players enjoyed the big parade through the old town centre." in texts
    assert "The players really enjoyed the parade through the old town centre." in texts
    for e in edits:
        assert e.op.startswith("yes:")
        kept = e.text.split()
        assert len(kept) < len(s.split()) and len(kept) >= 0.6 * len(s.split())
        assert set(w.lower() for w in kept) <= set(w.lower() for w in s.split()) | {"a", "an"}


def test_yes_clause_and_parenthesis_deletion():
    g = _gen()
    s = "Some of the old maps were damaged in a flood last year, but the team fixed them (slowly)."
    texts = {e.text: e.op for e in g.entailments(s)}
    assert texts.get("Some of the old maps were damaged in a flood last year.") == "yes:clause"
    assert (
        texts.get(
            "Some of the old maps were damaged in a flood last year, but the team fixed them."
        )
        == "yes:parenthesis"
    )
    # a deletion that would keep under 60% of the words is not made
    short = "Maps were damaged, but the team repaired all of them by hand in the old workshop."
    assert all(e.op != "yes:clause" for e in g.entailments(short))


def test_yes_never_deletes_inside_a_negation_scope_or_a_condition():
    g = _gen()
    s = "Fans did not expect the young team to win the cup this year at all."
    assert not any(e.op in ("yes:adverb", "yes:adjective") for e in g.entailments(s))
    s2 = "The team will play the final match in the old stadium, if it does not rain."
    assert not any(e.op == "yes:clause" for e in g.entailments(s2))


def test_no_edits_flip_polarity():
    g = _gen()
    ins = {e.text for e in g.contradictions("The bridge is open to cars on every weekday now.")}
    assert any(t.startswith("The bridge is not open") or "isn't open" in t for t in ins)
    rem = {e.text for e in g.contradictions("The museum did not need more money for the gallery.")}
    assert "The museum needed more money for the gallery." in rem
    rem3 = {e.text for e in g.contradictions("The old bridge was not open to cars last year.")}
    assert "The old bridge was open to cars last year." in rem3
    # the do-support negation gives the verb its form back, not an emphatic "does"
    rem2 = {e.text for e in g.contradictions("She doesn't know the way to the old town centre.")}
    assert "She knows the way to the old town centre." in rem2
    support = {e.text for e in g.contradictions("I think the new gallery will be open in May.")}
    assert any("not be open" in t or "won't be open" in t for t in support)


def test_neutral_candidates_come_from_the_same_document():
    g = _gen()
    doc = DOCS[0]
    s = doc.sentences[0]
    others = g.other_sentences(s, doc)
    assert others and all(o in doc.sentences and o != s for o in others)
    for e in g.neutrals(s, doc, "The new bridge over the river was opened by the mayor."):
        assert e.op.startswith("neutral:")


def test_paraphrase_edits_keep_meaning_words():
    g = _gen()
    s = "The mayor said the bridge would help local shops, and traffic on the road fell quickly."
    edits = {e.op: e.text for e in g.paraphrases(s, ("k",))}
    assert edits["true:reorder"] == (
        "Traffic on the road fell quickly, and the mayor said the bridge would help local shops."
    )
    assert edits["true:synonym"] != s
    s2 = "The museum does not charge for entry, and the gallery is open every weekday."
    ops = {e.op for e in g.paraphrases(s2, ("k",))}
    assert "true:contraction" in ops


def test_generate_nli_balanced_deterministic_premises_from_docs():
    g = _gen()
    a, stats = generate_nli(g, DOCS, 9, seed=13, salt="t", allow_short=True)
    b, _ = generate_nli(g, DOCS, 9, seed=13, salt="t", allow_short=True)
    assert a == b
    counts = Counter(e.label for e in a)
    assert len(set(counts.values())) == 1 and set(counts) <= {YES, NEUTRAL, NO}
    premises = {s for d in DOCS for s in d.sentences}
    assert all(e.text in premises and e.text_pair and e.text_pair != e.text for e in a)
    assert stats.premises_used >= 1


def test_generate_para_balanced_and_labels_do_what_they_say():
    g = _gen()
    out, _ = generate_para(g, DOCS, 6, seed=1, salt="p", allow_short=True)
    counts = Counter(e.label for e in out)
    assert counts[TRUE] == counts[FALSE] > 0
    for e in out:
        assert e.text_pair != e.text


def test_seed_changes_the_draw():
    g = _gen()
    a, _ = generate_para(g, DOCS, 4, seed=1, salt="p", allow_short=True)
    b, _ = generate_para(g, DOCS, 4, seed=2, salt="p", allow_short=True)
    assert a != b or len(a) == 0
