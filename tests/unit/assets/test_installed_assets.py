"""Checks on the really installed `mini` assets (skipped locally when missing; CI requires them).

Reproduces: offline-assets.md §3 (embedding sanity check), §2.2 (L3 parity with onnxruntime),
§2.4 (SmolLM2 fp32 copy loads as LlamaForCausalLM), §4-§5 (row counts of the data sets).
"""

from __future__ import annotations

import csv
import gzip
import json
from collections import Counter

import pytest

from tests.conftest import require_assets
from thunlp_repro.shared.assets import asset_path, gguf_path, group, model_dir, verify

pytestmark = pytest.mark.assets

SENTENCES = [
    "A man is playing a guitar.",
    "Someone is playing a musical instrument.",
    "The stock market fell sharply today.",
]


def _embed(name: str, sentences: list[str]):
    """Mean-pooled, L2-normalised sentence embeddings (offline-assets.md §2.1)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = model_dir(name)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    enc = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return model, torch.nn.functional.normalize(pooled, dim=-1)


def test_minilm_l6_embedding_sanity():
    require_assets("minilm-l6")
    model, emb = _embed("minilm-l6", SENTENCES)
    assert type(model).__name__ == "BertModel"
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (6, 384)
    instrument, stock = float(emb[0] @ emb[1]), float(emb[0] @ emb[2])
    # §3: guitar/instrument 0.667, guitar/stock market -0.054 (our instrument sentence: 0.70)
    assert instrument > 0.55
    assert abs(stock - (-0.054)) < 0.05
    assert instrument - stock > 0.5


def test_minilm_l3_matches_onnxruntime():
    require_assets("minilm-l3")
    from transformers import AutoTokenizer, BertModel

    from thunlp_repro.shared.assets.convert_onnx import parity_max_abs_diff

    folder = model_dir("minilm-l3")
    model = BertModel.from_pretrained(folder, add_pooling_layer=False).eval()
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (3, 384)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    onnx_bytes = (folder / "onnx" / "paraphrase-MiniLM-L3-v2.onnx").read_bytes()
    assert parity_max_abs_diff(model, tokenizer, onnx_bytes, tuple(SENTENCES)) < 1e-5
    _, emb = _embed("minilm-l3", SENTENCES)
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2]) + 0.3  # §3: 0.486 vs 0.096


def test_smollm2_hf_copy_loads_as_llama():
    require_assets("smollm2-135m")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = model_dir("smollm2-135m")
    assert folder == asset_path("smollm2-135m") / "hf"
    assert gguf_path("smollm2-135m").stat().st_size == 98_362_432
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert type(model).__name__ == "LlamaForCausalLM"
    cfg = model.config
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.vocab_size) == (30, 576, 49_152)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert tokenizer.chat_template
    ids = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        logits = model(**ids).logits
    assert logits.shape[-1] == 49_152 and torch.isfinite(logits).all()


def _sentiment_signs(name: str, filename: str) -> tuple[int, Counter]:
    path = asset_path(name) / filename
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == ["id", "sentiment", "text"]
    signs = Counter(
        "pos" if float(r[1]) > 0 else "neg" if float(r[1]) < 0 else "zero" for r in rows[1:]
    )
    return len(rows) - 1, signs


@pytest.mark.parametrize(
    ("name", "filename", "rows", "signs"),
    [
        ("vader-movie", "movieReviewSnippets_GroundTruth.txt", 10_605, (5_242, 5_326, 37)),
        ("vader-tweets", "tweets_GroundTruth.txt", 4_200, (2_897, 1_299, 4)),
        ("vader-amazon", "amazonReviewSnippets_GroundTruth.txt", 3_708, (2_128, 1_482, 98)),
        ("vader-nyt", "nytEditorialSnippets_GroundTruth.txt", 5_190, (2_204, 2_742, 244)),
    ],
)
def test_vader_row_counts(name, filename, rows, signs):
    require_assets(name)
    n, counts = _sentiment_signs(name, filename)
    assert n == rows
    assert (counts["pos"], counts["neg"], counts["zero"]) == signs


def test_trec_rows():
    require_assets("trec")
    lines = (asset_path("trec") / "question_labels.txt").read_bytes().splitlines()
    assert len(lines) == 15_452
    labels, questions = zip(*(ln.decode("latin-1").split(" ", 1) for ln in lines), strict=True)
    assert len(set(questions)) == 5_381
    assert {lab.split(":")[0] for lab in labels} == {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"}


def test_sms_spam_rows():
    require_assets("sms-spam")
    with open(asset_path("sms-spam") / "sms-spam.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["", "spam", "text"]
    assert Counter(r[1] for r in rows[1:]) == {"0": 4_199, "1": 638}


def test_movie_dialog_rows():
    require_assets("movie-dialog")
    folder = asset_path("movie-dialog")
    assert len((folder / "movie_dialog.txt").read_bytes().splitlines()) == 64_350
    with open(folder / "moviedialog.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["", "statement", "reply"] and len(rows) - 1 == 64_350


def test_bbc_news_articles():
    require_assets("bbc-news")
    folder = asset_path("bbc-news")
    counts = {d.name: len(list(d.glob("*.txt"))) for d in folder.iterdir() if d.is_dir()}
    # the package names the sport folder `sports`
    assert counts == {
        "business": 510,
        "entertainment": 386,
        "politics": 417,
        "sports": 511,
        "tech": 401,
    }


def test_humaneval_problems():
    require_assets("humaneval")
    with gzip.open(asset_path("humaneval") / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as fh:
        problems = [json.loads(line) for line in fh if line.strip()]
    assert len(problems) == 164
    assert {"task_id", "prompt", "test", "entry_point"} <= set(problems[0])


def test_shakespeare_plays():
    require_assets("shakespeare")
    plays = sorted((asset_path("shakespeare") / "plays").glob("*/*.md"))
    assert len(plays) == 38
    assert {p.parent.name for p in plays} == {
        "comedies",
        "histories",
        "problems",
        "roman",
        "romances",
        "tragedies",
    }
    words = sum(len(p.read_text(encoding="utf-8").split()) for p in plays)
    assert 800_000 < words < 1_000_000  # §5: 0.90M words


def test_kjv_verses():
    require_assets("kjv")
    lines = (asset_path("kjv") / "kjv.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 31_103
    first = json.loads(lines[0])
    assert first["citation"] == "Genesis 1:1" and first["text"].startswith("In the beginning")


def test_mini_group_verifies_clean():
    names = group("mini")
    require_assets(*names)
    assert verify(names) == {name: [] for name in names}
