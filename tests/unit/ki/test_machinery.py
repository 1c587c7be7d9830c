"""Masking, masked-only logits, tokenizer contract, FLOP counter and compute-saved (ki.md §2.9
tests 6, 7, 10, 11, 12)."""

from __future__ import annotations

import pytest
import torch

from thunlp_repro.ki.analysis import (
    beats,
    crossing,
    savings,
    seed_savings,
    step_lead,
    step_saving_verdict,
)
from thunlp_repro.ki.archs import ARCHS, build_mlm, param_counts
from thunlp_repro.ki.flops import (
    FlopLedger,
    ModelShape,
    student_step_flops,
    teacher_run_steps,
    teacher_step_flops,
)
from thunlp_repro.ki.inheritance import get_schedule, masked_logits
from thunlp_repro.ki.masking import MaskSpec, mask_batch
from thunlp_repro.ki.tokenizer_contract import TokenizerMismatchError, check_same_tokenizer
from thunlp_repro.shared.models import tiny_tokenizer


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


def _ids(tok, n=8, s=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    body = torch.randint(5, len(tok), (n, s - 2), generator=g)
    return torch.cat([torch.full((n, 1), tok.cls_token_id), body,
                      torch.full((n, 1), tok.sep_token_id)], 1)  # fmt: skip


def test_masking_rates_specials_and_determinism(tok):
    spec = MaskSpec.from_tokenizer(tok)
    ids = _ids(tok, 64, 64)
    a = mask_batch(ids, spec, seed=3, epoch=0, indices=range(64))
    b = mask_batch(ids, spec, seed=3, epoch=0, indices=range(64))
    c = mask_batch(ids, spec, seed=3, epoch=1, indices=range(64))
    assert torch.equal(a["input_ids"], b["input_ids"]) and torch.equal(a["select"], b["select"])
    assert not torch.equal(a["select"], c["select"])
    sel = a["select"]
    assert sel.any(1).all()  # >= 1 per sequence
    assert not sel[:, 0].any() and not sel[:, -1].any()  # specials never selected
    rate = sel.float().mean().item() * 64 / 62
    assert 0.12 < rate < 0.18
    masked = (a["input_ids"][sel] == tok.mask_token_id).float().mean().item()
    assert 0.7 < masked < 0.9
    assert torch.equal(a["targets"], ids[sel])
    repl = a["input_ids"][sel & (a["input_ids"] != ids) & (a["input_ids"] != tok.mask_token_id)]
    assert not set(repl.tolist()) & set(tok.all_special_ids)


def test_masked_only_logits_equal_gathered_full_logits(tok):
    torch.manual_seed(0)
    model = build_mlm("t-1x32", tok, dropout=0.0).eval()
    ids = _ids(tok, 4, 20)
    sel = mask_batch(ids, MaskSpec.from_tokenizer(tok), 0, 0, range(4))["select"]
    with torch.no_grad():
        full = model(input_ids=ids).logits
        part = masked_logits(model, ids, None, sel)
    assert torch.allclose(part, full[sel], atol=1e-6)


def test_tokenizer_mismatch_fails_clearly(tok):
    from transformers import AutoTokenizer

    from thunlp_repro.shared.assets import is_installed, model_dir

    check_same_tokenizer(tok, tiny_tokenizer())  # identical: fine
    other = tiny_tokenizer()
    other.add_tokens(["zzzz"])
    with pytest.raises(TokenizerMismatchError, match="teacher tokenizer"):
        check_same_tokenizer(other, tok)
    if is_installed("minilm-l6"):
        mini = AutoTokenizer.from_pretrained(model_dir("minilm-l6"))
        with pytest.raises(TokenizerMismatchError, match="first differing id"):
            check_same_tokenizer(mini, tok)


def test_padded_teacher_output_layer_works(tok):
    """A teacher whose vocabulary is padded to a multiple of 64 is sliced, not rejected."""
    from transformers import BertConfig, BertForMaskedLM

    from thunlp_repro.ki.tokenizer_contract import check_logit_width

    cfg = BertConfig(vocab_size=192, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64)  # fmt: skip
    teacher = BertForMaskedLM(cfg).eval()
    width = check_logit_width(cfg.vocab_size, tok, "teacher")
    ids = _ids(tok, 2, 10)
    sel = torch.zeros_like(ids, dtype=torch.bool)
    sel[:, 3] = True
    logits = masked_logits(teacher, ids, None, sel)[:, :width]
    assert logits.shape == (2, len(tok))
    with pytest.raises(TokenizerMismatchError):
        check_logit_width(10, tok, "teacher")


def test_every_arch_builds_with_its_shape(tok):
    for key in ARCHS.keys():
        a = ARCHS.get(key)
        if a.family == "roberta":  # paper archs: config only (too big to build in a unit test)
            from thunlp_repro.ki.archs import arch_config

            c = arch_config(key, tok)
            assert (c.num_hidden_layers, c.hidden_size) == (a.layers, a.hidden)
            continue
        m = build_mlm(key, tok)
        assert (m.config.num_hidden_layers, m.config.hidden_size) == (a.layers, a.hidden)


def test_param_counts_match_spec_ladder(tok):
    class V:  # a 30,522-entry vocabulary, as the spec's counts assume
        pad_token_id = 0

        def __len__(self):
            return 30522

    m = build_mlm("t-2x128", V())
    c = param_counts(m)
    assert c["total"] == pytest.approx(4.37e6, rel=0.01)
    assert c["non_embedding"] == pytest.approx(0.44e6, rel=0.02)


def test_flop_counter_hand_computed_and_teacher_stops_at_T():
    m = ModelShape(non_embedding=1000, layers=2, hidden=8, vocab=50)
    # 6*B*S*(N + L*S*d) + 6*n*d*(V+d) with B=2, S=4, n=3
    assert student_step_flops(m, 2, 4, 3) == 6 * 2 * 4 * (1000 + 2 * 4 * 8) + 6 * 3 * 8 * 58
    assert teacher_step_flops(m, 2, 4, 3) == 2 * 2 * 4 * (1000 + 2 * 4 * 8) + 2 * 3 * 8 * 58
    runs = teacher_run_steps(get_schedule("linear-decay"), 10, 1.0, 30)
    assert runs == 10
    ledger = FlopLedger(100.0, 7.0, runs)
    assert ledger.at(5)["flops_teacher"] == 35.0
    assert ledger.at(25)["flops_teacher"] == 70.0 and ledger.at(25)["flops_student"] == 2500.0
    assert teacher_run_steps(get_schedule("none"), 10, 1.0, 30) is None


def test_crossing_and_savings_on_synthetic_curves():
    assert crossing([(0, 100.0), (10, 10.0)], 10.0) == 10.0
    # log-linear interpolation: halfway in log between 100 and 1 is 10
    assert crossing([(0, 100.0), (10, 1.0)], 10.0) == pytest.approx(5.0)
    assert crossing([(0, 100.0), (10, 50.0)], 10.0) is None

    def run(ppls, teacher=0.0):
        evals = [{"step": 10 * (i + 1), "ppl": p, "flops_student": 10.0 * (i + 1),
                  "flops_total": (10.0 + teacher) * (i + 1), "wall_s": float(i + 1)}
                 for i, p in enumerate(ppls)]  # fmt: skip
        return {"evals": evals, "steps": 10 * len(ppls)}

    scratch = [run([100, 50, 20, 10]), run([100, 50, 20, 10])]
    ki = [run([50, 10, 8, 7], teacher=1.0)]
    out = savings(scratch, ki)
    assert out["target_ppl"] == 10.0
    assert out["per_seed"][0]["steps_to_target"] == 20.0
    assert out["step_saving"]["mean"] == pytest.approx(0.5)
    assert out["flop_saving_with_teacher"]["mean"] == pytest.approx(1 - 22.0 / 40.0)
    assert out["flop_saving_without_teacher"]["mean"] == pytest.approx(0.5)

    # M1 / M11: the mean bound (<= 80% of S) and the per-seed bound (<= 90%); a miss fails
    fast, slow, never = run([50, 10, 8, 7]), run([60, 30, 12, 9.9]), run([90, 40, 15, 11])
    assert step_saving_verdict(savings(scratch, [fast, fast]), "t")["status"] == "PASS"
    # mean s/S = (20 + 39.5) / 2 / 40 = 0.744 passes the mean bound, but one seed is at 0.99
    mixed = step_saving_verdict(savings(scratch, [fast, slow]), "t")
    assert mixed["status"] == "FAIL" and mixed["value"] == pytest.approx(0.744, abs=1e-3)
    missed = step_saving_verdict(savings(scratch, [fast, never]), "t")
    assert (missed["status"], missed["value"]) == ("FAIL", None)
    assert missed["reason"] == "KI did not reach P* in 1 of 2 seeds"
    assert seed_savings(savings(scratch, [fast, never])) == [pytest.approx(0.5), 0.0]
    # seconds on a GPU do not compare with seconds on a CPU: no wall-clock saving across devices
    on_gpu = {**run([50, 10, 8, 7]), "device": "cuda"}
    cpu = [{**r, "device": "cpu"} for r in scratch]
    mixed = savings(cpu, [on_gpu])
    assert mixed["wall_saving"] is None and not mixed["same_device"]
    assert mixed["step_saving"]["mean"] == pytest.approx(0.5)
    assert savings(cpu, [{**on_gpu, "device": "cpu"}])["wall_saving"]["mean"] == pytest.approx(0.5)


def test_step_lead_reads_the_ki_ppl_off_the_mean_scratch_curve():
    def run(ppls):
        return {"evals": [{"step": 10 * (i + 1), "ppl": p} for i, p in enumerate(ppls)]}

    scratch = [run([100, 50, 20, 10]), run([100, 50, 20, 10])]
    ahead, behind, done = run([50, 20, 10, 8]), run([100, 100, 50, 20]), run([9, 8, 7, 6])
    # at step 20 `ahead` has PPL 20, which scratch reaches at step 30: 10 steps ahead
    assert step_lead(scratch, [ahead, behind, done], 20) == [10.0, -10.0, None]
    # between evaluations the KI PPL is log-interpolated: sqrt(50 * 20) ~ 31.6 at step 15
    assert step_lead(scratch, [ahead], 15)[0] == pytest.approx(25 - 15)


def test_beats_needs_the_margin_and_two_pooled_sds():
    # ki.md §5.1: mean difference > max(margin, 2 x pooled between-seed sd)
    assert beats([0.30, 0.32], [0.20, 0.22], margin=0.05)  # 0.10 > max(0.05, 2 x 0.014)
    assert not beats([0.30, 0.32], [0.27, 0.29], margin=0.05)  # 0.03: under the margin
    # 0.10 apart but one arm's seeds spread: pooled sd 0.10, so 2 sd = 0.20 > 0.10 is a tie
    assert not beats([0.25, 0.45], [0.25, 0.25])
    assert beats([310.0, 312.0], [300.0, 301.0])  # lower-is-better callers swap the arms
    assert not beats([0.2], [0.2])


def test_validation_nll_counts_every_token_of_a_partial_last_batch():
    """`gather_for_metrics` trims the last batch by rows; the per-key sums must not lose tokens."""
    from accelerate import Accelerator
    from torch.utils.data import DataLoader

    from thunlp_repro.ki.hooks import collate_eval, score_loader

    g = torch.Generator().manual_seed(0)
    rows = [{"input_ids": torch.randint(0, 50, (12,), generator=g),
             "select": torch.rand(12, generator=g) < 0.5,
             "targets": torch.randint(0, 50, (12,), generator=g), "key": i % 3}
            for i in range(40)]  # fmt: skip
    table = torch.randn(50, 50, generator=g)

    def forward(ids, sel):
        return table[ids][sel]

    acc = Accelerator(cpu=True)
    loader = acc.prepare(DataLoader(rows, batch_size=32, collate_fn=collate_eval))  # 32 + 8
    got = score_loader(forward, loader, acc, 50)
    for k in range(3):
        mine = [r for r in rows if r["key"] == k]
        logits = torch.cat([table[r["input_ids"]][r["select"]] for r in mine])
        tgt = torch.cat([r["targets"][r["select"]] for r in mine])
        nll = torch.nn.functional.cross_entropy(logits, tgt, reduction="sum")
        assert got[k][1] == int(sum(r["select"].sum() for r in mine))
        assert got[k][0] == pytest.approx(float(nll), rel=1e-5)


def test_report_plots_teacher_sweeps_and_lists_runs_once(tmp_path):
    from thunlp_repro.ki.report import ki_section

    def run(name, ppl, steps=4):
        return {"run": name, "seed": 0, "steps": steps, "stop_step": 2, "schedule": "linear-decay",
                "teacher_ppl": ppl, "s_per_step": 0.1, "wall_s": 0.4,
                "evals": [{"step": 4, "ppl": 100.0}]}  # fmt: skip

    def row(ppl, saving):
        step = None if saving is None else {"mean": saving, "sd": 0.0, "min": saving,
                                            "max": saving, "n": 1}  # fmt: skip
        return {"arch": "t-2x128", "corpus": "general", "fraction": 1.0, "teacher_ppl": ppl,
                "teacher_params": {"non_embedding": 1}, "final_ppl": 100.0,
                "savings": {"step_saving": step, "flop_saving_with_teacher": step},
                "runs": [run(f"ki-{ppl}", ppl)]}  # fmt: skip

    def doc(table, teachers):
        return {"run_info": {"table": table}, "config": {}, "meta": {},
                "metrics": {"teachers": teachers, "scratch": [run("scratch", None)]}}  # fmt: skip

    e3 = doc("e3-teacher-arch", {"a": row(300.0, 0.1), "b": row(280.0, None)})
    e4 = doc("e4-teacher-data", {"full": row(300.0, 0.1)})  # same runs as E3's "a"
    e4["meta"]["notes"] = ["its scratch runs shared the CPU with tests"]
    text = ki_section([e3, e4], tmp_path)
    assert "**e4-teacher-data:** its scratch runs shared the CPU with tests" in text
    assert (tmp_path / "f5.png").is_file() and "F5" in text
    t8 = text[text.index("### T8 provenance") :]
    assert [t8.count(n) for n in ("ki-300.0", "ki-280.0", "| scratch |")] == [1, 1, 1]
    assert "hardware not recorded" in text


def test_report_keeps_the_preset_table_and_lists_a_set_variant_beside_it(tmp_path):
    """A table run again with --set (saved under another file name) is a variant: the preset's
    own result stays the main one; the variant gets its own savings row and labelled verdicts."""
    from thunlp_repro.ki.report import ki_section, split_variants

    def sav(saving):
        ms = {"mean": saving, "sd": 0.0, "min": saving, "max": saving, "n": 1}
        return {"target_ppl": 300.0, "steps_to_target": ms, "step_saving": ms,
                "flop_saving_with_teacher": ms, "flop_saving_without_teacher": ms,
                "wall_saving": ms, "per_seed": [{"final_ppl": 290.0}]}  # fmt: skip

    def doc(user, saving, status):  # user: meta.user_settings as runs.settings_meta writes it
        return {"run_info": {"table": "e9-custom"}, "config": {},
                "meta": {"user_settings": user} if user else {},
                "metrics": {"savings": sav(saving), "teacher_ppl": 250.0,
                            "acceptance": {"M5": {"value": saving, "threshold": "<= 0.8",
                                                  "status": status}}}}  # fmt: skip

    variant = doc({"set": ["exp.teacher_steps=6000"]}, 0.3, "PASS")
    preset = doc({}, 0.1, "FAIL")
    by, variants = split_variants([variant, preset])
    assert by == {"e9-custom": preset} and variants == [variant]
    text = ki_section([variant, preset], tmp_path)
    assert "departs from the preset" not in text
    rows = text[text.index("### Variants") :].splitlines()
    assert rows[2].endswith("| lead at T (steps) | teacher pre-training / scratch run |")
    assert any(r.startswith("| e9-custom (--set exp.teacher_steps=6000) | 250.00 | 300.00")
               and "30.0% ± 0.0" in r for r in rows)  # fmt: skip
    t7 = text[text.index("### T7") :]
    assert "| M5 | e9-custom (--set exp.teacher_steps=6000) | 0.300 |" in t7
    assert "| M5 | e9-custom | 0.100 |" in t7


def test_report_draws_e2_and_its_variant_and_keeps_seconds_within_one_device(tmp_path):
    """Each E2 result (the preset's and a --variant) gets its section and F3; an arm trained on
    another device than scratch shows no wall-clock saving."""
    from thunlp_repro.ki.analysis import savings
    from thunlp_repro.ki.report import ki_section
    from thunlp_repro.shared.reporting.results import SOURCE_KEY

    ids = iter(range(100))

    def run(ppls, device="cpu"):
        evals = [{"step": 10 * (i + 1), "ppl": p, "flops_student": 10.0 * (i + 1),
                  "flops_total": 11.0 * (i + 1), "wall_s": float(i + 1)}
                 for i, p in enumerate(ppls)]  # fmt: skip
        return {
            "evals": evals,
            "steps": 40,
            "device": device,
            "teacher_ppl": 9.0,
            "s_per_step": 0.1,
            "wall_s": 4.0,
            "run": f"r{next(ids)}",
        }

    scratch = [run([100, 50, 20, 10]), run([100, 50, 20, 10])]

    def doc(path, user, arms):
        return {"run_info": {"table": "e2-schedule"}, "config": {"ki": {"stop_step": 20}},
                "meta": {"user_settings": user} if user else {}, SOURCE_KEY: {"path": path},
                "metrics": {"scratch": scratch, "runs": arms, "acceptance": {},
                            "arms": {k: savings(scratch, v) for k, v in arms.items()}}}  # fmt: skip

    main = doc(
        "results/mini/ki/e2-schedule.json",
        {},
        {"linear-decay T=20": [run([50, 10, 8, 7])], "kd-only": [run([50, 10, 8, 7], "cuda")]},
    )
    variant = doc(
        "results/mini/ki/e2-schedule--long-teacher.json",
        {"set": ["exp.teacher_steps=6000"]},
        {"linear-decay T=20": [run([40, 9, 8, 7])]},
    )
    text = ki_section([variant, main], tmp_path)
    assert "### E2 inheritance schedule\n" in text
    assert "### E2 inheritance schedule, variant e2-schedule (--set exp.teacher_steps=6000)" in text
    assert (tmp_path / "f3.png").is_file() and (tmp_path / "f3--long-teacher.png").is_file()
    rows = {r.split(" | ")[0]: r for r in text.splitlines() if r.startswith("| ")}
    assert "— (other device)" in rows["| kd-only"] and "50.0% ± 0.0" in rows["| kd-only"]
    assert "— (other device)" not in rows["| linear-decay T=20"]
    assert "| r3 | — | 40 | — | — | 9.00 | cuda | 0.100 | 4 |" in text  # T8: each run's device


def test_time_budget_sums_training_minutes_and_m18_can_only_fail_on_a_lower_bound():
    from thunlp_repro.ki.report import _time_budget

    def doc(table, walls):
        runs = [{"run": name, "steps": 1, "evals": [], "wall_s": w} for name, w in walls.items()]
        return {"run_info": {"table": table}, "metrics": {"runs": runs},
                "meta": {"hardware": {"gpus": [], "cpu_count": 2}}}  # fmt: skip

    e1 = doc("e1-ki-vs-scratch", {"teacher": 600.0, "ki": 1200.0, "scratch": 1200.0})
    e2 = doc("e2-schedule", {"scratch": 1200.0, "ki-T200": 600.0})  # scratch shared with E1
    text, m18 = _time_budget([e1, e2], e1)
    assert "each once: 60.0 min on CPU (2 cores)" in text
    assert "| e2-schedule | 2 | 1 | 30.0 | CPU (2 cores) |" in text
    assert m18[0] == "M18" and m18[2].startswith(">= 50.0 min") and m18[-1] == "FAIL"
    fast = doc("e1-ki-vs-scratch", {"teacher": 600.0, "ki": 600.0})
    # 20 min of training steps is under the bound, but evaluation is not in it: no PASS
    assert _time_budget([fast], fast)[1][-1] == "NOT TESTABLE"
    gpu = {**e1, "meta": {"hardware": {"gpus": ["1x H200"], "cpu_count": 16}}}
    assert _time_budget([gpu], gpu)[1][-1] == "NOT TESTABLE"  # M18 is a 2-core budget
    assert _time_budget([e2], None)[1][2] == "E1 not run"


def test_ki_report_writes_every_papers_section_like_the_top_level_report(tmp_path):
    """`ki report` rewrites reports/*.md for every paper: the others keep their own sections."""
    import shutil
    from pathlib import Path

    from typer.testing import CliRunner

    from thunlp_repro.cli import ki as ki_cli

    src = Path(__file__).parents[3] / "results" / "mini" / "finetune" / "reference.json"
    (tmp_path / "results" / "mini" / "finetune").mkdir(parents=True)
    shutil.copy(src, tmp_path / "results" / "mini" / "finetune" / "reference.json")
    res = CliRunner().invoke(ki_cli.app, ["report", "--results", str(tmp_path / "results"),
                                          "--out", str(tmp_path / "reports")])  # fmt: skip
    assert res.exit_code == 0, res.output
    text = (tmp_path / "reports" / "finetune.md").read_text()
    assert "### Reference fine-tune" in text and "No report section is registered" not in text
