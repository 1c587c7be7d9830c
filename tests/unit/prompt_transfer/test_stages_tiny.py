"""The `indicators` and `project` stages (prompt_transfer.md §2.9, §2.10, §5.1 M7-M10) on tiny
randomly initialised BERTs built in-process (no downloads): the stage files carry the expected
keys and numbers recomputed here by hand, a rerun skips, bad inputs exit 2 with one line."""

from __future__ import annotations

import math
import random

import pytest
import torch

from tests.unit.prompt_transfer.test_cli_inputs import _error_line, _invoke
from thunlp_repro.prompt_transfer import indicators as ind
from thunlp_repro.prompt_transfer import pipeline
from thunlp_repro.prompt_transfer.artefacts import load_prompt
from thunlp_repro.prompt_transfer.data import TaskData
from thunlp_repro.shared.errors import AssetMissingError

TASKS = {"sent-movie": 2, "sent-amazon": 2, "trec": 6, "nli-news": 3}
FAMILY = {"sent-movie": "sentiment", "sent-amazon": "sentiment", "trec": "question-type",
          "nli-news": "nli"}  # fmt: skip


def tiny_backbone(name: str, layers: int):
    from transformers import BertConfig, BertForMaskedLM

    from thunlp_repro.prompt_transfer.backbone import Backbone, _head_state, _tensor_sha256
    from thunlp_repro.shared.corpora import tokenizer_fingerprint
    from thunlp_repro.shared.models import tiny_tokenizer

    tok = tiny_tokenizer()
    torch.manual_seed(layers)
    # BERT's default init (std 0.02) gives label logits that barely vary with the input, so no
    # prompt beats step 0 and every task keeps the same init; std 0.2 makes the tasks learnable
    cfg = BertConfig(vocab_size=300, hidden_size=32, num_hidden_layers=layers,
                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=128,
                     pad_token_id=tok.pad_token_id, initializer_range=0.2)  # fmt: skip
    mlm = BertForMaskedLM(cfg).eval()
    for p in mlm.parameters():
        p.requires_grad_(False)
    info = {"backbone": name, "backbone_sha256": _tensor_sha256(mlm.base_model.state_dict()),
            "head": "restored", "head_sha256": _tensor_sha256(_head_state(mlm)), "width": 32,
            "layers": layers, "tokenizer": tokenizer_fingerprint(tok), "head_card": {}}  # fmt: skip
    return Backbone(name=name, head="restored", mlm=mlm, tokenizer=tok, info=info)


def tiny_task(name: str, k: int) -> TaskData:
    """Rows whose label is marked by a class token, so the tasks are learnable."""
    rng = random.Random(name)

    def rows(n):
        out = []
        for i in range(n):
            y = i % k
            ids = [2, 60 + y, *[rng.randrange(80, 140) for _ in range(5)], 3]
            out.append({"input_ids": ids, "token_type_ids": [0] * len(ids), "label": y})
        return out

    splits = {"train": rows(24), "dev": rows(12), "test": rows(18)}
    return TaskData(name=name, family=FAMILY[name], label_ids=list(range(10, 10 + k)),
                    splits=splits, majority={s: 1 / k for s in splits},
                    display_name=name)  # fmt: skip


SETS = ["train.max_steps=20", "train.eval_every=5", "optim.lr=0.5", "prompt.length=4",
        "exp.bootstrap=30",
        "project.pairs=[minilm-l3->minilm-l6,minilm-l6->mpnet-base]",
        "project.gate_pair=minilm-l3->minilm-l6", "project.steps=3", "project.batch_size=6",
        "project.hidden=16", "project.train_tasks=[sent-movie]",
        "project.eval_tasks=[sent-movie,sent-amazon,trec,nli-news]"]  # fmt: skip


def make(root, monkeypatch):
    monkeypatch.setattr(pipeline, "load_backbone", _refuse)
    study = pipeline.make_study("smoke", sets=SETS, root=root)
    study._backbones = {"minilm-l6": tiny_backbone("minilm-l6", 2),
                        "minilm-l3": tiny_backbone("minilm-l3", 1)}  # fmt: skip
    for bb in study._backbones:
        for t, k in TASKS.items():
            study._tasks[bb, t] = tiny_task(t, k)
    return study


def _refuse(cfg):
    raise AssetMissingError(f"asset '{cfg.model.name}' is not installed (test)")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("tiny-study")
    s = make(root, mp)
    for stage in ("train", "matrix", "indicators", "project"):
        pipeline.STAGE_RUNNERS[stage](s)
    yield s
    mp.undo()


def test_indicator_stage_numbers(study):
    doc = study.read_stage("indicators")
    assert doc["status"] == "ok" and doc["tasks"] == list(TASKS)
    seed = doc["per_seed"]["0"]
    assert set(seed["rho"]) == {"E_avg", "E_tok", "E_pair", "Euclidean", "ON_all", "ON_0-1",
                                "ON_raw", "ON_task", "oracle"}  # fmt: skip
    train, matrix = study.read_stage("train"), study.read_stage("matrix")
    prompts = {t: load_prompt(train["runs"][t]["0"]["prompt"])[0] for t in TASKS}
    rel = matrix["per_seed"]["0"]["rel"]
    for i, (s, t) in enumerate(doc["pairs"]):
        assert math.isclose(seed["values"]["E_tok"][i], ind.e_tok(prompts[s], prompts[t]),
                            rel_tol=1e-6)  # fmt: skip
        assert seed["R"][i] == rel[t][s]
        assert seed["values"]["oracle"][i] == float(FAMILY[s] == FAMILY[t])
    assert all(0.0 < v <= 1.0 + 1e-6 for v in seed["values"]["ON_task"])
    assert math.isclose(seed["rho"]["E_tok"]["pooled"],
                        ind.spearman(seed["values"]["E_tok"], seed["R"]))  # fmt: skip
    gates = {g["id"]: g for g in doc["gates"]}
    assert gates["M7"]["status"] in ("PASS", "FAIL")
    assert f"{doc['mean']['ON_all']['pooled']['mean']:.2f}" in gates["M7"]["value"]
    assert gates["M10"]["status"] == "report-only"
    assert (study.root / "indicators" / "indicator_scatter_ON_all.png").stat().st_size > 1000


def test_project_stage_numbers(study):
    from safetensors.torch import load

    from thunlp_repro.prompt_transfer.evaluate import score
    from thunlp_repro.prompt_transfer.projector import Projector
    from thunlp_repro.shared.io import read_json

    doc = study.read_stage("project")
    mp = doc["pairs"]["minilm-l6->mpnet-base"]
    assert mp["status"] == "not run" and "mpnet-base" in mp["reason"]
    pair = doc["pairs"]["minilm-l3->minilm-l6"]
    assert pair["status"] == "ok" and set(pair["modes"]) == {"task", "distance"}
    assert pair["groups"] == {"sent-movie": "train", "sent-amazon": "held-out", "trec": "other",
                              "nli-news": "other"}  # fmt: skip
    assert set(pair["identity_matrices"]) == {"minilm-l3->minilm-l6", "minilm-l6->minilm-l3"}
    # identity R by hand: L3's prompt on L6 over L6's own prompt (train stage), test split
    train = study.read_stage("train")
    own = load_prompt(train["runs"]["trec"]["0"]["prompt"])[0]
    l3 = sorted((study.root / "project" / "prompts").glob("trec-s0-pt-*"))[0]
    src = load_prompt(l3 / "export")[0]
    model, task = study.model("minilm-l6"), study.task("trec")
    acc = score(model, None, task, "test", 64, src)["accuracy"]
    ref = score(model, None, task, "test", 64, own)["accuracy"]
    assert math.isclose(pair["identity"]["trec"], 100 * acc / ref)
    assert (
        pair["identity_matrices"]["minilm-l3->minilm-l6"]["rel"]["trec"]["trec"]
        == (pair["identity"]["trec"])
    )
    # task-tuned R by hand from the stored projector
    (card,) = [p for p in (study.root / "project" / "projectors").glob("*.json")
               if read_json(p)["mode"] == "task"]  # fmt: skip
    proj = Projector(4, 32, 32, 16)
    proj.load_state_dict(load(card.with_suffix(".safetensors").read_bytes()))
    with torch.no_grad():
        acc = score(model, None, task, "test", 64, proj(src))["accuracy"]
    assert math.isclose(pair["modes"]["task"]["R"]["trec"], 100 * acc / ref)
    assert read_json(card)["steps"] == 3
    gates = {g["id"]: g for g in doc["gates"]}
    assert gates["M8"]["status"] in ("PASS", "FAIL") and gates["M9"]["status"] in ("PASS", "FAIL")
    held = pair["modes"]["task"]["R"]["sent-amazon"]
    assert f"held-out same-family R {held:.1f}" in gates["M8"]["value"]
    assert "cross-depth minilm-l3->minilm-l6" in gates["M10"]["value"]
    # tpt-model: L6's PT from the task-tuned g(P^L3_t), against L6's vanilla curve by hand
    from thunlp_repro.prompt_transfer.tpt import compare, median

    tpt = pair["tpt_model"]
    assert set(tpt) == set(TASKS)
    (arm,) = (study.root / "project" / "prompts").glob("trec-s0-tpt-model-*")
    arm_metrics = read_json(arm / "results.json")["metrics"]
    vanilla = train["runs"]["trec"]["0"]
    assert tpt["trec"] == {**compare(vanilla["curve"], arm_metrics["curve"]),
                           "final_arm": arm_metrics["test_accuracy"],
                           "final_vanilla": vanilla["test_accuracy"]}  # fmt: skip
    init = sorted((study.root / "project" / "tpt-model-init").glob("trec-*"))[0]
    with torch.no_grad():
        assert torch.equal(load_prompt(init)[0], proj(src))  # the run starts at g(P^L3_trec)
    sp = median([r["speedup_95"] for r in tpt.values()])
    assert f"tpt-model: minilm-l3->minilm-l6 median speedup_95 {sp:.2f}" in gates["M10"]["value"]
    assert "minilm-l6->mpnet-base not run" in gates["M10"]["value"]


def test_gates_and_report_read_the_stages(study):
    from thunlp_repro.prompt_transfer.gates import compute_gates
    from thunlp_repro.prompt_transfer.report import write_study_report

    by = {g["id"]: g for g in compute_gates(study.root, n_boot=20)}
    assert by["M7"]["status"] != "not run" and by["M8"]["status"] != "not run"
    assert "ON by window" in by["M10"]["value"] and "cross-depth" in by["M10"]["value"]
    md = write_study_report(study.root, list(by.values())).read_text()
    assert "Transferability indicators" in md and "Cross-model projector" in md
    assert "| indicators |" in md and "| project |" in md  # wall time rows
    assert (study.root / "report" / "indicator_scatter_E_avg.png").is_file()


def test_rerun_skips_and_budget_marks_partial(study):
    before = {p: p.stat().st_mtime_ns for p in (study.root / "stages").glob("*.json")}
    assert pipeline.STAGE_RUNNERS["indicators"](study)["reused"]
    assert pipeline.STAGE_RUNNERS["project"](study).get("reused") is None  # mpnet retried
    assert before[study.stage_path("indicators")] == study.stage_path(
        "indicators").stat().st_mtime_ns  # fmt: skip
    runs = sorted((study.root / "project" / "prompts").iterdir())
    study.budget = pipeline.Budget(-1)  # no new work: finished artefacts still load
    doc = pipeline.STAGE_RUNNERS["project"](study)
    assert doc["status"] == "ok" and sorted((study.root / "project" / "prompts").iterdir()) == runs
    (study.root / "project" / "cells").rename(study.root / "project" / "cells-moved")
    assert pipeline.STAGE_RUNNERS["project"](study)["status"] == "partial"
    study.budget = pipeline.Budget(None)


@pytest.mark.parametrize("verb", ["indicators", "project"])
def test_missing_train_stage_exits_2_with_one_line(run_root, verb):
    code, out = _invoke(["prompt-transfer", verb, "--preset", "smoke"])
    assert code == 2, out
    assert "stage 'train' has not run" in _error_line(out)


def test_unknown_pair_exits_2_naming_the_accepted(run_root):
    code, out = _invoke(["prompt-transfer", "project", "--preset", "smoke", "--set",
                         "project.pairs=[minilm-l6->bert]"])  # fmt: skip
    assert code == 2, out
    line = _error_line(out)
    assert "minilm-l6->bert" in line and "accepted: minilm-l6->mpnet-base" in line


def test_active_fractions_ignore_padding_and_average_the_inputs(study):
    from thunlp_repro.prompt_transfer.data import collate
    from thunlp_repro.prompt_transfer.neurons import active_fractions

    model, tok = study.model(), study.bb.tokenizer
    rows = [dict(r) for r in study.task("trec").splits["dev"][:3]]
    rows[1] = {**rows[1], "input_ids": rows[1]["input_ids"][:4], "token_type_ids": [0] * 4}
    prompt = load_prompt(study.read_stage("train")["runs"]["trec"]["0"]["prompt"])[0]

    def fractions(rs):
        batch = collate(tok, rs)
        batch.pop("labels")
        return active_fractions(model, prompt, batch)

    together = fractions(rows)  # row 1 is padded to the others' length here
    alone = [fractions([r]) for r in rows]
    for layer, frac in enumerate(together):
        want = sum(a[layer] for a in alone) / len(rows)
        assert torch.allclose(frac, want, atol=1e-6)
        assert set(torch.unique(alone[0][layer]).tolist()) <= {0.0, 1.0}
