"""Token-level edits and the edit generator behind the synthetic NLI / paraphrase tasks.

Reproduces: prompt_transfer.md §4.2 "Synthetic construction": the edits each label is made of
(deletions for *yes*, polarity edits for *no*, same-document sentences for *neutral*, synonym /
clause / contraction edits for *true*, hard negatives and frequency-band swaps for *false*). The
rules, and the artefact control that decides which edit is used, are documented once, in
`synthetic.py`'s docstring; this module only proposes candidate edits for a sentence, and
`synthetic.py` picks among them, balances labels and builds the splits.

Every choice is ``stable_hash``-seeded (nothing uses `random`), so candidates are deterministic.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from thunlp_repro.shared.tasks.splitting import stable_hash
from thunlp_repro.shared.tasks.text import jaccard, split_sentences, words

WORDLIST_PATH = Path(__file__).with_name("wordlists.yaml")

MIN_WORDS, MAX_WORDS = 8, 40
KEEP_FRACTION = 0.6
HARD_NEGATIVE_JACCARD = 0.3
#: Clauses appended for *neutral* start with one of these ("and" / "but" are left out: the
#: *yes* deletions remove such clauses, so they would mark *neutral*).
APPEND_CONNECTORS = frozenset(
    "while as after before when with including although though because since where who which "
    "according until".split()
)


# ------------------------------------------------------------------------------------ word lists


@dataclass(frozen=True)
class WordLists:
    """The hand-made lists of ``wordlists.yaml`` (see the file for what each is for)."""

    auxiliaries: frozenset[str]
    negations: dict[str, str]
    negation_guard: frozenset[str]
    contracted_negations: dict[str, str]
    do_support_verbs: dict[str, str]
    do_support_past: dict[str, str]
    subject_pronouns: frozenset[str]
    antonyms: dict[str, str]
    synonyms: dict[str, str]
    contractions: dict[str, str]
    expansions: dict[str, str]
    participles_after_s: frozenset[str]
    removable_adverbs: frozenset[str]
    removable_adjectives: frozenset[str]
    determiners: frozenset[str]
    monotonicity_blockers: frozenset[str]
    clause_blockers: frozenset[str]
    subordinators: frozenset[str]
    discourse_markers: frozenset[str]
    coordinators: frozenset[str]
    stopwords: frozenset[str]

    @classmethod
    def load(cls, path: Path = WORDLIST_PATH) -> WordLists:
        """Read the YAML word lists.

        Raises:
            ValueError: a pair list entry does not have two words.
        """
        import yaml

        raw = yaml.safe_load(path.read_text(encoding="utf-8"))

        def pairs(key: str) -> dict[str, str]:
            out: dict[str, str] = {}
            for pair in raw[key]:
                if len(pair) != 2:
                    raise ValueError(f"{key}: expected a pair, got {pair!r}")
                a, b = (str(w).lower() for w in pair)
                out.setdefault(a, b)
                out.setdefault(b, a)
            return out

        def fs(key: str) -> frozenset[str]:
            return frozenset(str(w).lower() for w in raw[key])

        contractions = {str(k).lower(): str(v).lower() for k, v in raw["contractions"].items()}
        expansions = {v: k for k, v in contractions.items()}
        expansions["can't"] = "cannot"
        return cls(
            auxiliaries=fs("auxiliaries"),
            negations={str(k).lower(): str(v or "").lower() for k, v in raw["negations"].items()},
            negation_guard=fs("negation_guard"),
            do_support_verbs={
                str(k).lower(): str(v).lower() for k, v in raw["do_support_verbs"].items()
            },
            subject_pronouns=fs("subject_pronouns"),
            do_support_past={
                str(k).lower(): str(v).lower() for k, v in raw["do_support_past"].items()
            },
            contracted_negations={
                str(k).lower(): str(v).lower() for k, v in raw["contracted_negations"].items()
            },
            antonyms=pairs("antonyms"),
            synonyms=pairs("synonyms"),
            contractions=contractions,
            expansions=expansions,
            participles_after_s=fs("participles_after_s"),
            removable_adverbs=fs("removable_adverbs"),
            removable_adjectives=fs("removable_adjectives"),
            determiners=fs("determiners"),
            monotonicity_blockers=fs("monotonicity_blockers"),
            clause_blockers=fs("clause_blockers"),
            subordinators=fs("subordinators"),
            discourse_markers=fs("discourse_markers"),
            coordinators=fs("coordinators"),
            stopwords=fs("stopwords"),
        )


@functools.lru_cache(maxsize=1)
def wordlists() -> WordLists:
    """The packaged word lists (read once)."""
    return WordLists.load()


# ------------------------------------------------------------------------------ token-level edits


class Tok(NamedTuple):
    """A token of a sentence: lower-cased form (’ -> ') and its character span."""

    norm: str
    start: int
    end: int

    def raw(self, s: str) -> str:
        """The token as written in `s`."""
        return s[self.start : self.end]

    @property
    def is_word(self) -> bool:
        """Letters/digits (with inner apostrophes), not punctuation."""
        return self.norm[:1].isalnum()


_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*|\S")


def tokenize(s: str) -> list[Tok]:
    """Word and punctuation tokens with spans."""
    return [
        Tok(m.group().lower().replace("’", "'"), m.start(), m.end()) for m in _TOKEN.finditer(s)
    ]


def match_case(src: str, repl: str) -> str:
    """`repl` with the capitalisation pattern of `src` (UPPER, Title or lower)."""
    if not repl:
        return repl
    if len(src) > 1 and src.isupper():
        return repl.upper()
    if src[:1].isupper():
        return repl[:1].upper() + repl[1:]
    return repl


def delete_span(s: str, start: int, end: int) -> str:
    """Delete ``s[start:end]`` and one adjacent space; re-capitalise if the sentence start moved."""
    if start > 0 and s[start - 1] == " ":
        return s[: start - 1] + s[end:]
    rest = s[end:].lstrip()
    if s[start:end][:1].isupper():
        rest = rest[:1].upper() + rest[1:]
    return s[:start] + rest


def replace_span(s: str, start: int, end: int, repl: str) -> str:
    """Replace ``s[start:end]`` by `repl` written in the case of the original."""
    return s[:start] + match_case(s[start:end], repl) + s[end:]


def balanced(s: str) -> bool:
    """Even number of double quotes and matched brackets."""
    return s.count('"') % 2 == 0 and s.count("(") == s.count(")") and s.count("[") == s.count("]")


def final_punct(s: str) -> str:
    """The sentence's final '.' or '!' ('' if it has none)."""
    s = s.rstrip()
    return s[-1] if s[-1:] in (".", "!") else ""


def _proper_like(t: Tok, s: str) -> bool:
    """Capitalised but not sentence-initial: probably a name ("May", "Best"), not the word."""
    return t.start > 0 and t.raw(s)[:1].isupper() and t.norm != "i"


@dataclass(frozen=True)
class Edit:
    """A generated second text and the operation that made it.

    Attributes:
        text: The second text.
        op: ``"<label>:<operation>"``, e.g. ``"no:antonym"``.
        detail: For antonym swaps ``"<from>><to>"``, used to balance swap directions.
    """

    text: str
    op: str
    detail: str = ""


@dataclass(frozen=True)
class Doc:
    """A source document: an article or a dialog scene.

    Attributes:
        doc_id: Stable id (``"business/001"``, ``"dialog/1200"``).
        sentences: Its sentences in order (all of them; premises are filtered from these).
    """

    doc_id: str
    sentences: tuple[str, ...]


def _changed(s: str, edits: list[Edit]) -> list[Edit]:
    """The edits whose text is non-empty and differs from `s` (whitespace-insensitive)."""
    norm = " ".join(s.split())
    return [e for e in edits if e.text.strip() and " ".join(e.text.split()) != norm]


def choose(options: Sequence[Any], *key: object) -> Any:
    """The option a stable hash of `key` picks (deterministic, seed-free)."""
    return options[stable_hash(*key) % len(options)]


class Generator:
    """Edits that turn a premise into a labelled second text (see the module docstring).

    Args:
        docs: All documents of the domain (their words give the frequency bands).
        lists: Word lists (default: the packaged ones).
    """

    def __init__(
        self,
        docs: Iterable[Doc],
        lists: WordLists | None = None,
        vocab_texts: Iterable[str] | None = None,
    ) -> None:
        self.w = lists or wordlists()
        self._entail_memo: dict[str, list[Edit]] = {}
        self._memo: dict[tuple[str, ...], Any] = {}
        counts: Counter[str] = Counter()
        self._left: dict[str, set[str]] = {}
        self._right: dict[str, set[str]] = {}
        texts = (s for d in docs for s in d.sentences) if vocab_texts is None else vocab_texts
        for s in texts:
            ws = words(s)
            counts.update(ws)
            for a, b in zip(ws, ws[1:], strict=False):
                self._right.setdefault(a, set()).add(b)
                self._left.setdefault(b, set()).add(a)
        self.counts = counts
        # share of contracted negations among "not" + "n't" tokens (for negation insertion)
        nt = sum(c for w, c in counts.items() if w.endswith("n't"))
        self.contracted_share = nt / (nt + counts.get("not", 0)) if nt + counts.get("not", 0) else 0
        self._bands: dict[tuple[int, str, bool], list[str]] = {}
        for word in sorted(counts):
            key = self._band_key(word)
            if key is not None:
                self._bands.setdefault(key, []).append(word)

    # -- helpers ---------------------------------------------------------------------------

    def _band_key(self, word: str) -> tuple[int, str, bool] | None:
        c = self.counts.get(word, 0)
        if c == 0:
            return None
        band = int(math.log2(c))
        if word.isdigit():
            return (band, str(len(word)), True)
        if word.isalpha() and len(word) >= 3 and word not in self.w.stopwords:
            return (band, word[-2:], False)
        return None

    def profile(self, s: str) -> tuple[int, int, int, int]:
        """Surface profile used to match neutral hypotheses to the others.

        (has a negation, has an antonym-list word, has a listed auxiliary, length bucket of 5
        words).
        """
        toks = tokenize(s)
        norms = {t.norm for t in toks}
        return (
            int(self.has_negation(s)),
            int(bool(norms & self.w.antonyms.keys())),
            int(bool(norms & self.w.auxiliaries)),
            len(s.split()) // 5,
        )

    def same_band(self, a: str, b: str) -> bool:
        """Whether words `a` and `b` are within a factor of 2 in domain frequency."""
        ca, cb = self.counts.get(a, 0), self.counts.get(b, 0)
        return ca > 0 and cb > 0 and abs(math.log2(ca) - math.log2(cb)) <= 1

    def content_words(self, s: str) -> set[str]:
        """Lower-cased words of `s` that are not stopwords and have >= 3 characters."""
        key = ("content", s)
        if key not in self._memo:
            self._memo[key] = {x for x in words(s) if x not in self.w.stopwords and len(x) >= 3}
        return self._memo[key]

    def has_negation(self, s: str) -> bool:
        """Whether `s` contains a negation ("not", "n't", "never", "no", "nothing", ...)."""
        neg = self.w.negations
        return any(
            t.norm in neg or t.norm.endswith("n't") or t.norm in {"no", "nothing", "nobody", "none"}
            for t in tokenize(s)
        )

    def _undo_support(self, do: str, verb: str) -> str | None:
        """The verb form that replaces "do/does/did (not) VERB" (None if VERB is not listed)."""
        if verb not in self.w.do_support_verbs:
            return None
        if do == "do":
            return verb
        if do == "does":
            return self.w.do_support_verbs[verb]
        past = {b: p for p, b in reversed(list(self.w.do_support_past.items()))}
        return past.get(verb)

    def _first_blocker(self, toks: list[Tok]) -> int:
        """Index of the first downward-monotone / conditional token (len(toks) if none)."""
        b = self.w.monotonicity_blockers
        for i, t in enumerate(toks):
            if t.norm in b or t.norm.endswith("n't"):
                return i
        return len(toks)

    def is_premise(self, s: str) -> bool:
        """A usable premise: 8-40 words, not a question, balanced quotes/brackets."""
        n = len(s.split())
        return MIN_WORDS <= n <= MAX_WORDS and not s.rstrip().endswith("?") and balanced(s)

    @staticmethod
    def _keeps(premise: str, hyp: str) -> bool:
        return len(hyp.split()) >= KEEP_FRACTION * len(premise.split()) and balanced(hyp)

    # -- yes ------------------------------------------------------------------------------

    def entailments(self, s: str) -> list[Edit]:
        """All *yes* edits of `s` (deletions that keep >= 60% of the words); memoised."""
        if s not in self._entail_memo:
            self._entail_memo[s] = _changed(s, self._entailments(s))
        return self._entail_memo[s]

    def _entailments(self, s: str) -> list[Edit]:
        out: list[Edit] = []
        toks = tokenize(s)
        # a parenthesis
        for m in re.finditer(r"\s*\([^()]{1,200}\)", s):
            hyp = s[: m.start()] + s[m.end() :]
            if self._keeps(s, hyp):
                out.append(Edit(hyp, "yes:parenthesis"))
        # the trailing clause after the last comma ("X, but Y" entails X; "X, if Y" does not)
        cut = s.rfind(", ")
        if cut > 0:
            clause = s[cut + 2 :]
            ctoks = [t for t in tokenize(clause) if t.is_word]
            main = s[:cut].rstrip()
            hyp = main + final_punct(s)
            mtoks = [t for t in tokenize(main) if t.is_word]
            if (
                ctoks
                and ctoks[0].norm not in self.w.clause_blockers
                and len(mtoks) >= 5
                and mtoks[0].norm not in self.w.subordinators
                and self._keeps(s, hyp)
                and main[-1:].isalnum()
            ):
                out.append(Edit(hyp, "yes:clause"))
        # a leading discourse marker ("well, ...", "however, ...")
        if len(toks) > 2 and toks[0].norm in self.w.discourse_markers and toks[1].norm == ",":
            rest = s[toks[1].end :].lstrip()
            hyp = match_case(s[: toks[0].end], rest[:1]) + rest[1:]
            if self._keeps(s, hyp):
                out.append(Edit(hyp, "yes:marker"))
        # the last or the first sentence of a multi-sentence dialog turn
        sents = split_sentences(s, lower=True)
        if len(sents) > 1:
            first_end = s.find(sents[0]) + len(sents[0])
            rest = s[s.find(sents[1], first_end) :].lstrip()
            for hyp in (s[: s.rfind(sents[-1])].rstrip(), rest):
                if len(hyp.split()) >= 5 and self._keeps(s, hyp):
                    out.append(Edit(hyp, "yes:sentence"))
        # an adverb or attributive adjective before any downward-monotone word (outside its scope)
        stop = self._first_blocker(toks)
        for i, t in enumerate(toks[:stop]):
            prev = toks[i - 1].norm if i > 0 else ""
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            if t.norm in self.w.removable_adverbs and "," not in (prev, nxt and nxt.norm):
                if nxt is None or not nxt.is_word:
                    continue
                hyp = delete_span(s, t.start, t.end)
                if self._keeps(s, hyp):
                    out.append(Edit(hyp, "yes:adverb"))
            elif (
                t.norm in self.w.removable_adjectives
                and prev in self.w.determiners
                and nxt is not None
                and nxt.is_word
                and nxt.norm not in self.w.stopwords
                and not _proper_like(t, s)
            ):
                hyp = delete_span(s, t.start, t.end)
                if prev in ("a", "an"):  # fix the article for the new next word
                    art = toks[i - 1]
                    new_art = "an" if nxt.norm[:1] in "aeiou" else "a"
                    hyp = replace_span(hyp, art.start, art.end, new_art)
                if self._keeps(s, hyp):
                    out.append(Edit(hyp, "yes:adjective"))
        return out

    # -- no -------------------------------------------------------------------------------

    def contradictions(self, s: str) -> list[Edit]:
        """All *no* edits of `s`: negation insertion, negation removal, antonym swap (memoised)."""
        key = ("no", s)
        if key not in self._memo:
            self._memo[key] = _changed(s, self._contradictions(s))
        return self._memo[key]

    def _contradictions(self, s: str) -> list[Edit]:
        out: list[Edit] = []
        toks = tokenize(s)
        neg = self.w.negations
        # insert "not" after the first listed auxiliary / copula (or write its contracted form);
        # with no auxiliary, negate "pronoun + listed verb" with do-support
        contracted = stable_hash(s, "contract") % 1000 < 1000 * self.contracted_share
        aux = [i for i, t in enumerate(toks) if t.norm in self.w.auxiliaries]
        aux = [i for i in aux if not _proper_like(toks[i], s)]
        if aux:
            i = aux[0]
            t = toks[i]
            nxt = toks[i + 1].norm if i + 1 < len(toks) else ""
            participle = t.norm.endswith("'s") and nxt in self.w.participles_after_s
            if nxt not in neg and not nxt.endswith("n't") and nxt != "no" and not participle:
                short = self.w.contracted_negations.get(t.norm)
                if short and contracted:
                    hyp = replace_span(s, t.start, t.end, short)
                    token = short.split()[-1]
                else:
                    hyp = s[: t.end] + " not" + s[t.end :]
                    token = "not"
                out.append(Edit(hyp, "no:insert-not", f"+{token}"))
        else:
            third = {v: k for k, v in self.w.do_support_verbs.items()}
            for i in range(len(toks) - 1):
                subj, verb = toks[i], toks[i + 1]
                if subj.norm not in self.w.subject_pronouns:
                    continue
                singular = subj.norm in ("he", "she", "it")
                base = (
                    third.get(verb.norm)
                    if singular
                    else (verb.norm if verb.norm in self.w.do_support_verbs else None)
                )
                if base is not None:
                    aux_word = (
                        ("doesn't" if contracted else "does not")
                        if singular
                        else ("don't" if contracted else "do not")
                    )
                elif verb.norm in self.w.do_support_past:
                    base = self.w.do_support_past[verb.norm]
                    aux_word = "didn't" if contracted else "did not"
                else:
                    continue
                hyp = s[: verb.start] + aux_word + " " + base + s[verb.end :]
                out.append(Edit(hyp, "no:insert-not", f"+{aux_word.split()[-1]}"))
                break
        # remove the first negation (unless part of a fixed phrase such as "not only"); a
        # do-support negation takes its verb's form back ("doesn't know" -> "knows"), never an
        # emphatic "does know"
        for i, t in enumerate(toks):
            if t.norm not in neg:
                continue
            nxt = toks[i + 1].norm if i + 1 < len(toks) else ""
            if nxt in self.w.negation_guard:
                break
            prev = toks[i - 1].norm if i > 0 else ""
            if t.norm in ("don't", "doesn't", "didn't") or (
                t.norm == "not" and prev in ("do", "does", "did")
            ):
                do = t.norm[:-3] if t.norm != "not" else prev
                start = t.start if t.norm != "not" else toks[i - 1].start
                if i + 1 < len(toks):
                    verb = self._undo_support(do, toks[i + 1].norm)
                    if verb:
                        hyp = s[:start] + match_case(s[start:], verb) + s[toks[i + 1].end :]
                        out.append(Edit(hyp, "no:remove-negation", f"-{t.norm}"))
                break
            repl = neg[t.norm]
            hyp = (
                delete_span(s, t.start, t.end)
                if not repl
                else replace_span(s, t.start, t.end, repl)
            )
            out.append(Edit(hyp, "no:remove-negation", f"-{t.norm}"))
            break
        # swap one word for its antonym, if both are about as frequent in the domain (within a
        # factor of 2): else the rarer word would mark "no" hypotheses
        for t in toks:
            if (
                t.norm in self.w.antonyms
                and not _proper_like(t, s)
                and self.same_band(t.norm, self.w.antonyms[t.norm])
            ):
                hyp = replace_span(s, t.start, t.end, self.w.antonyms[t.norm])
                out.append(Edit(hyp, "no:antonym", f"{t.norm}>{self.w.antonyms[t.norm]}"))
        return out

    # -- neutral --------------------------------------------------------------------------

    def other_sentences(self, s: str, doc: Doc) -> list[str]:
        """Sentences of `doc` other than `s` that share a content word and are no near-copy."""
        key = ("other", doc.doc_id, s)
        if key not in self._memo:
            self._memo[key] = self._other_sentences(s, doc)
        return self._memo[key]

    def _other_sentences(self, s: str, doc: Doc) -> list[str]:
        mine = self.content_words(s)
        out = []
        for o in doc.sentences:
            if o == s or len(o.split()) < 5 or not balanced(o) or o.rstrip().endswith("?"):
                continue
            if s in o or o in s or jaccard(s, o) >= 0.5:
                continue
            if mine & self.content_words(o):
                out.append(o)
        return out

    def appendable_clauses(self, s: str, doc: Doc) -> list[str]:
        """Trailing clauses (3-12 words, after a comma) of the document's other sentences."""
        out = []
        for o in doc.sentences:
            if o == s or not balanced(o):
                continue
            cut = o.rfind(", ")
            if cut <= 0:
                continue
            clause = o[cut + 2 :].rstrip().rstrip(".!?").rstrip()
            cw = clause.split()
            if 3 <= len(cw) <= 12 and cw[0].lower() in APPEND_CONNECTORS and balanced(clause):
                if clause.lower() not in s.lower():
                    out.append(clause)
        return out

    def neutrals(self, s: str, doc: Doc, yes_hyp: str | None) -> list[Edit]:
        """*neutral* second texts: other sentences, or `yes_hyp` with another clause appended.

        An other sentence enters through one of its own *yes* deletions (which it entails, so the
        text stays neutral to the premise): *neutral* hypotheses then carry the same kind of
        deletion as *yes* and *no* ones, and come from premise-like sentences.
        """
        key = ("neutral", doc.doc_id, s)
        if key not in self._memo:
            self._memo[key] = [
                Edit(e.text, "neutral:other-sentence")
                for o in self.other_sentences(s, doc)
                if self.is_premise(o)
                for e in self.entailments(o)
                if e.text != s
            ]
        out = list(self._memo[key])
        if yes_hyp:
            base = yes_hyp.rstrip()
            end = final_punct(base)
            base = base[: len(base) - len(end)] if end else base
            for c in self.appendable_clauses(s, doc):
                out.append(Edit(f"{base}, {c}{end}", "neutral:append-clause"))
        return out

    # -- paraphrase -------------------------------------------------------------------------

    def paraphrases(self, s: str, key: Sequence[object] = ()) -> list[Edit]:
        """*true* edits: synonym swap(s), clause reordering around ", and ", contraction change."""
        return _changed(s, self._paraphrases(s, key))

    def _paraphrases(self, s: str, key: Sequence[object]) -> list[Edit]:
        out: list[Edit] = []
        toks = tokenize(s)
        syn = [t for t in toks if t.norm in self.w.synonyms and not _proper_like(t, s)]
        if syn:
            first = choose(syn, *key, "syn1")
            hyp = replace_span(s, first.start, first.end, self.w.synonyms[first.norm])
            rest = [t for t in syn if t.start > first.end]
            if rest and stable_hash(*key, "syn2") % 2:
                # a second swap; spans after `first` shift by the length change
                second = choose(rest, *key, "syn2pick")
                shift = len(hyp) - len(s)
                hyp = replace_span(
                    hyp, second.start + shift, second.end + shift, self.w.synonyms[second.norm]
                )
            out.append(Edit(hyp, "true:synonym"))
        # reorder two clauses around ", and "
        hits = list(re.finditer(r",\s+(and)\s+", s))
        if len(hits) == 1 and '"' not in s:
            m = hits[0]
            end = final_punct(s)
            left, right = s[: m.start()], s[m.end() : len(s.rstrip()) - len(end)]
            if len(left.split()) >= 4 and len(right.split()) >= 4 and "," not in right:
                lw = left.split()[0]
                if lw.lower() in self.w.stopwords and lw != "I":
                    left = left[:1].lower() + left[1:]
                right = right[:1].upper() + right[1:] if s[:1].isupper() else right
                out.append(Edit(f"{right}, and {left}{end}", "true:reorder"))
        # contraction change: contract a listed pair of words, or expand a contraction
        low = s.lower().replace("’", "'")
        for full, short in self.w.contractions.items():
            m = re.search(rf"\b{re.escape(full)}\b(?=\s+[A-Za-z])", low)
            if m:
                out.append(Edit(replace_span(s, m.start(), m.end(), short), "true:contraction"))
                break
        else:
            for i, t in enumerate(toks):
                if t.norm in self.w.expansions:
                    nxt = toks[i + 1].norm if i + 1 < len(toks) else ""
                    if t.norm.endswith("'s") and nxt in self.w.participles_after_s:
                        continue
                    hyp = replace_span(s, t.start, t.end, self.w.expansions[t.norm])
                    out.append(Edit(hyp, "true:expansion"))
                    break
        return out

    def non_paraphrases(self, s: str, doc: Doc) -> list[Edit]:
        """*false* second texts: hard negatives from the document, or a same-band word swap."""
        key = ("false", doc.doc_id, s)
        if key not in self._memo:
            self._memo[key] = _changed(s, self._non_paraphrases(s, doc))
        return self._memo[key]

    def _non_paraphrases(self, s: str, doc: Doc) -> list[Edit]:
        out: list[Edit] = []
        for o in doc.sentences:
            if o != s and balanced(o) and HARD_NEGATIVE_JACCARD <= jaccard(s, o) < 0.9:
                out.append(Edit(o, "false:hard-negative"))
        toks = tokenize(s)
        for i, t in enumerate(toks):
            if not t.is_word or _proper_like(t, s) or t.start == 0:
                continue
            key = self._band_key(t.norm)
            if key is None or t.norm in self.w.stopwords:
                continue
            banned = {t.norm, self.w.synonyms.get(t.norm), self.w.antonyms.get(t.norm)}
            # the replacement must have been seen after the same word and before the same word
            # in the domain's text, so it reads naturally in place (a model that sees the
            # second text alone should not spot it)
            prev = toks[i - 1].norm if toks[i - 1].is_word else None
            nxt = toks[i + 1].norm if i + 1 < len(toks) and toks[i + 1].is_word else None
            pool = [
                x
                for x in self._bands.get(key, [])
                if x not in banned
                and (prev is None or prev in self._left.get(x, ()))
                and (nxt is None or nxt in self._right.get(x, ()))
            ]
            if pool:
                repl = choose(pool, s, t.start, "band")
                out.append(Edit(replace_span(s, t.start, t.end, repl), "false:replace"))
        return out
