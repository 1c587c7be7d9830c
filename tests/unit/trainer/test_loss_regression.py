"""Seeded loss-curve regression on a tiny BERT classifier (conventions.md §2.9, item 2).

Expected values live in tests/fixtures/expected_losses.json; refresh them only deliberately with
`pytest --update-expected` and say why in the commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from thunlp_repro.shared.config import EvalConfig, OptimConfig, RuntimeConfig, TrainConfig
from thunlp_repro.shared.models import load_model
from thunlp_repro.shared.rundir import RunDir
from thunlp_repro.shared.trainer import DataBundle, Engine, EngineHooks, LossOutput

EXPECTED = Path(__file__).resolve().parents[2] / "fixtures" / "expected_losses.json"
WORDS_POS = ["good", "great", "fine", "nice", "happy", "bright"]
WORDS_NEG = ["bad", "awful", "poor", "sad", "grim", "dull"]


@dataclass
class Cfg:
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        global_batch_size=8, micro_batch_size=4, max_steps=10, eval_every=0, log_every=1,
        save_every=-1))  # fmt: skip
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=3e-3, warmup_steps=2))
    eval: EvalConfig = field(default_factory=EvalConfig)
    runtime: RuntimeConfig = field(default_factory=lambda: RuntimeConfig(seed=7))


class TinyClassify(EngineHooks):
    def build_model(self, cfg):
        self.model, self.tok = load_model("tiny-bert", "sequence-classification", num_labels=2)
        return self.model, None

    def build_data(self, cfg):
        texts, labels = [], []
        for i in range(48):
            pos = i % 2 == 0
            words = WORDS_POS if pos else WORDS_NEG
            texts.append(f"a {words[i % 6]} day, {words[(i // 2) % 6]} film")
            labels.append(int(pos))
        enc = self.tok(texts, padding="max_length", max_length=32, truncation=True,
                       return_tensors="pt")  # fmt: skip
        rows = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                 "labels": torch.tensor(labels[i])} for i in range(len(texts))]  # fmt: skip
        return DataBundle(train=rows, collate_fn=lambda b: {k: torch.stack([r[k] for r in b])
                                                             for k in b[0]})  # fmt: skip

    def compute_loss(self, batch, model, state):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss = torch.nn.functional.cross_entropy(logits, batch["labels"], reduction="sum")
        return LossOutput(loss_sum=loss)


def test_seeded_loss_curve_matches_expected(tmp_path, update_expected):
    run = RunDir.open("t", run_dir=tmp_path / "run")
    Engine(Cfg(), TinyClassify(), run).fit()
    losses = [r["train/loss"] for r in run.read_metrics() if "train/loss" in r]
    assert len(losses) == 10
    if update_expected:
        EXPECTED.parent.mkdir(parents=True, exist_ok=True)
        EXPECTED.write_text(json.dumps({"tiny-bert-classify": losses}, indent=2) + "\n")
        pytest.skip("expected losses rewritten")
    expected = json.loads(EXPECTED.read_text())["tiny-bert-classify"]
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(expected), rtol=1e-4, atol=0)
    assert losses[-1] < losses[0]  # it learns
