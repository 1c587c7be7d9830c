"""Paper scale checked before it spends GPU hours (issue #16): every paper preset's `--dry-run`.

Each dry run must exit 0 offline and print models, datasets, runs, steps, tokens and a cost, with
no socket opened and no weights loaded, in seconds; a misspelt model, task or accelerate key in a
`--set` exits 2 with one line; every shipped accelerate YAML validates; the `reproduce-all` paper
plan shows GPU hours per node. The numbers are checked against ki.md §3.1 / §3.6 and chatdev.md §3.
"""

from __future__ import annotations

import re
import socket
import time

import pytest
from typer.testing import CliRunner

from thunlp_repro.cli.main import app
from thunlp_repro.shared import dryrun
from thunlp_repro.shared.errors import UsageError

runner = CliRunner()


@pytest.fixture
def sealed(monkeypatch):
    """No network and no weights: a socket connect or a model/tokenizer load fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a dry run must not open a connection")

    def no_load(*args, **kwargs):
        raise AssertionError("a dry run must not load weights or tokenizers")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr("thunlp_repro.shared.models.load_model", no_load)
    monkeypatch.setattr("thunlp_repro.ki.data.load_tokenizer", no_load)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _dry(args: list[str]) -> str:
    start = time.monotonic()
    result = runner.invoke(app, args)
    took = time.monotonic() - start
    assert result.exit_code == 0, result.output
    assert took < 10, f"{' '.join(args)} took {took:.1f} s"
    return result.output


def _has_plan(out: str) -> None:
    for part in ("models (", "datasets (", "runs", "steps:", "tokens:", "GPU hours"):
        assert part in out, f"missing {part!r} in:\n{out}"
    assert "nothing downloaded" in out


def test_finetune_paper_dry_run(sealed):
    out = _dry(["finetune", "--preset", "paper", "--dry-run"])
    _has_plan(out)
    assert "roberta-base" in out and "would download from the Hugging Face hub" in out
    assert "sst2" in out and "nyu-mll/glue" in out
    assert "6,000 steps" in out and "H100 GPU-hours" in out and "estimate, not a measurement" in out
    assert "accelerate: single_gpu" in out and "valid" in out


KI_VERBS = [
    ["pretrain"], ["compare"], ["compare", "-e", "e5"], ["compare", "-e", "gpt"],
    ["sweep", "-e", "e2"], ["sweep", "-e", "e3"], ["sweep", "-e", "e4"], ["domain"],
    ["downstream"],
]  # fmt: skip


@pytest.mark.parametrize("verb", KI_VERBS, ids=" ".join)
def test_ki_paper_dry_runs(sealed, verb):
    out = _dry(["ki", *verb, "--preset", "paper", "--dry-run"])
    _has_plan(out)
    assert "accelerate: deepspeed_zero2" in out and "H100 GPU-hours" in out
    hub = "HuggingFaceTB/SmolLM2-135M" if "gpt" in verb else "FacebookAI/roberta-base"
    assert hub in out and "would download" in out
    corpus = "fineweb-edu" if "gpt" in verb else "wikimedia/wikipedia"
    assert corpus in out and "would stream with `datasets`" in out


def test_ki_e1_plan_matches_the_spec_cost_model():
    """ki.md §3.6: one release-size KI run ≈ 1.5e20 FLOPs (student ≈ 1.42e20), teacher ≈ 0.7e20."""
    from thunlp_repro.ki.dryrun import ki_plan

    plan = ki_plan("paper", "e1-ki-vs-scratch")
    flops = {r.label: r.train_flops() for r in plan.runs}
    assert flops["scratch s0"] == pytest.approx(1.42e20, rel=0.03)
    assert flops["KI s0"] == pytest.approx(1.5e20, rel=0.05)
    assert flops["teacher-roberta_base"] == pytest.approx(0.7e20, rel=0.1)
    assert plan.total_tokens == 3 * 125_000 * 2048 * 512
    # 1.5e20 / 400 TFLOP/s ≈ 104 H100-hours (§3.6: ≈ 4.4 days on one H100)
    ki_run = next(r for r in plan.runs if r.label == "KI s0")
    assert ki_run.gpu_hours("H100") == pytest.approx(104, rel=0.05)


def test_ki_param_counts_match_spec_and_built_models():
    import transformers

    from thunlp_repro.ki.archs import ARCHS, Arch, build_mlm, param_counts
    from thunlp_repro.ki.dryrun import arch_params
    from thunlp_repro.shared.models import tiny_tokenizer

    for arch, want in (("roberta_base", 125e6), ("roberta_base_plus", 211e6),
                       ("roberta_large", 355e6), ("llama-32x960", 362e6)):  # fmt: skip
        vocab = 49152 if arch.startswith("llama") else 50265
        assert arch_params(ARCHS.get(arch), vocab)[0] == pytest.approx(want, rel=0.02), arch
    tok = tiny_tokenizer()
    for arch in ("t-1x32", "llama-1x32"):
        counts = param_counts(build_mlm(arch, tok))
        total, non_emb = arch_params(ARCHS.get(arch), len(tok))
        assert (total, non_emb) == (counts["total"], counts["non_embedding"]), arch
    roberta = transformers.RobertaForMaskedLM(transformers.RobertaConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=514, type_vocab_size=1))  # fmt: skip
    small = Arch("roberta", 1, 32, 64, 2, positions=514)
    assert arch_params(small, len(tok))[0] == param_counts(roberta)["total"]


def test_chatdev_paper_dry_runs(sealed, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    csv = tmp_path / "srdd.csv"
    rows = [f"Task{i},Build program number {i},Cat{i % 4}" for i in range(12)]
    csv.write_text("Name,Description,Category\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = _dry(["chatdev", "batch", "--preset", "paper", "--dry-run", "--srdd", str(csv),
                "--per-category", "2"])  # fmt: skip
    for part in ("models (", "datasets (", "runs:", "steps:", "tokens:", "GPU hours: 0"):
        assert part in out, out
    assert "gpt-3.5-turbo-16k" in out and "8 of 12 task(s)" in out
    assert "8 chain item(s)" in out and "estimated API cost: ~$0.59" in out  # 8 x $0.0734
    assert "OPENAI_API_KEY is not set" in out
    one = _dry(["chatdev", "run", "--preset", "paper", "--dry-run", "-t", "a dice game",
                "-n", "dice", "--until", "Coding"])  # fmt: skip
    assert "1 task(s) x 3 chain item(s)" in one and "scaled by the chain up to Coding" in one


KI_SET = ["ki", "compare", "--preset", "paper", "--dry-run", "--set"]
MISSPELT = [
    (["finetune", "--preset", "paper", "--dry-run", "--set", "model.name=roberta-bsae"],
     "did you mean 'roberta-base'"),
    (["finetune", "--preset", "paper", "--dry-run", "--set", "model.name=FacebookAI/roberta-bsae"],
     "did you mean 'FacebookAI/roberta-base'"),
    (["finetune", "--preset", "paper", "--dry-run", "--set", "data.task=sst3"],
     "did you mean 'sst2'"),
    (["finetune", "--preset", "paper", "--dry-run", "--set", "accelerate.mixed_precison=bf16"],
     "did you mean 'mixed_precision'"),
    (["finetune", "--preset", "paper", "--dry-run", "--set", "accelerate.config=ddpp"],
     "did you mean 'ddp'"),
    ([*KI_SET, "teacher.name=FacebookAI/robrta-base"],
     "did you mean 'FacebookAI/roberta-base'"),
    ([*KI_SET, "accelerate.distributed_type=DEEPSPED"],
     "did you mean 'DEEPSPEED'"),
    ([*KI_SET, "accelerate.num_processes=7"],
     "not divisible"),
    (["ki", "sweep", "--preset", "paper", "--dry-run", "--set", "model.arch=roberta_bas_plus"],
     "did you mean 'roberta_base_plus'"),
    (["ki", "domain", "--preset", "paper", "--dry-run", "--set", "data.corpus=bioo"],
     "did you mean 'bio'"),
    (["ki", "downstream", "--preset", "paper", "--dry-run", "--set", "exp.tasks=[trec,sent-movi]"],
     "did you mean 'sent-movie'"),
    (["chatdev", "batch", "--preset", "paper", "--dry-run", "--set", "llm.model=gpt-3.5-trubo-16k"],
     "did you mean 'gpt-3.5-turbo-16k'"),
]  # fmt: skip


@pytest.mark.parametrize("args,hint", MISSPELT, ids=lambda a: a[-1] if isinstance(a, list) else "")
def test_misspelt_names_exit_2_with_one_line(sealed, args, hint):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert hint in lines[0]


@pytest.mark.parametrize("name", dryrun.shipped_accelerate_configs())
def test_every_shipped_accelerate_config_validates(name):
    check = dryrun.load_accelerate(name)
    dryrun.validate_accelerate(check)
    assert check.values["distributed_type"] in dryrun.DISTRIBUTED_TYPES


@pytest.mark.parametrize("name,over,message", [
    ("deepspeed_zero2", {"deepspeed_config.zero_stage": 4}, "zero_stage=4 is not accepted"),
    ("deepspeed_zero2", {"deepspeed_config.zero_stag": 2}, "did you mean 'zero_stage'"),
    ("deepspeed_zero2", {"deepspeed_config.offload_param_device": "cpu"}, "needs zero_stage 3"),
    ("deepspeed_zero2", {"deepspeed_config": None}, "needs a deepspeed_config section"),
    ("fsdp", {"distributed_type": "MULTI_GPU"}, "use distributed_type=FSDP"),
    ("ddp", {"mixed_precision": "bf17"}, "use one of no, fp16, bf16, fp8"),
    ("ddp", {"num_processes": 0}, "num_processes=0 must be an integer >= 1"),
    ("single_gpu", {"num_processes": 8}, "distributed_type=NO runs one process"),
    ("cpu", {"mixed_precision": "fp16"}, "fp16 needs a CUDA GPU"),
    ("cpu", {"use_cpus": True}, "did you mean 'use_cpu'"),
])  # fmt: skip
def test_bad_accelerate_values_name_the_value_and_what_is_accepted(name, over, message):
    with pytest.raises(UsageError, match="accelerate config") as err:
        dryrun.validate_accelerate(dryrun.load_accelerate(name, over))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_hub_ids_are_checked_offline_and_never_fetched(monkeypatch):
    with pytest.raises(UsageError, match="expected owner/name"):
        dryrun.check_hub_id("not/a/hub id")
    note = dryrun.check_hub_id("someorg/some-model", ("FacebookAI/roberta-base",))
    assert note and "shape checked only" in note
    assert dryrun.check_hub_id("FacebookAI/roberta-base", ("FacebookAI/roberta-base",)) is None

    def boom(*args, **kwargs):
        raise AssertionError("model_info must not be called offline")

    monkeypatch.setattr("huggingface_hub.HfApi.model_info", boom)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert dryrun._online_size_mb("someorg/some-model") is None
    entry = dryrun.model_entry("someorg/some-model", "test")
    assert entry.source == "hub" and entry.size_mb is None and "would download" in entry.download


def test_reproduce_all_paper_plan_shows_gpu_hours_or_api_cost_per_node(sealed, tmp_path):
    out = _dry(["reproduce-all", "--profile", "paper", "--dry-run", "--results", str(tmp_path)])
    nodes = [ln for ln in out.splitlines() if re.match(r"\s+\d+\. ", ln)]
    experiments = [ln for ln in nodes if " experiment " in ln]
    assert any("finetune/reference" in ln for ln in experiments)
    assert any("ki/e1-ki-vs-scratch" in ln for ln in experiments)
    for line in experiments:
        assert ("API" if "chatdev/table1" in line else "GPU-h") in line, line
    assert any("chatdev/table1" in ln for ln in experiments)  # its cost is API tokens, in USD
    assert "min on 2 CPU cores" not in out
    assert "H100 GPU-hours and ~$" in out and "estimate, not a measurement" in out
    assert "shared with earlier nodes" in out  # E2 reuses E1's runs: counted once


def test_render_is_plain_text_and_validate_checks_the_batch_split():
    plan = dryrun.DryRunPlan(
        "x", "paper", "cmd", runs=[dryrun.RunEntry("r", "m", 10, 1000, 100)],
        accelerate=dryrun.load_accelerate("ddp"), batch=(32, 8), precision="no",
    )  # fmt: skip
    with pytest.raises(UsageError, match=r"32 is not divisible .*\(8 x 8\)"):
        plan.validate()
    plan.batch = (64, 8)
    plan.validate()
    assert "differs from runtime.precision" in plan.render()
