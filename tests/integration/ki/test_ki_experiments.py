"""The KI experiments (E1, E5 and its control, E6, E7), the report and the zoo on the `smoke`
preset (ki.md §4.10).

This checks wiring, not the acceptance shapes: run sharing between experiments, the results
files, E7's model groups, the report's tables and the zoo export. The smoke preset reads the
real offline corpora and MiniLM's tokenizer; budgets are cut further here so the suite takes
about a minute.
"""

from __future__ import annotations

import pytest

from tests.conftest import require_assets

FAST = ["train.max_steps=6", "ki.stop_step=3", "train.eval_every=3", "train.log_every=1",
        "data.val_blocks=4", "data.max_train_tokens=8000", "optim.warmup_ratio=0.0",
        "exp.teacher_steps=6", "exp.teacher_eval_every=3", "exp.stops=[2,3,4]",
        "exp.finetune_train_limit=32"]  # fmt: skip

ASSETS = ("minilm-l6", "shakespeare", "kjv", "movie-dialog", "bbc-news", "trec", "vader-movie")


@pytest.fixture
def fast(monkeypatch, tmp_path, run_root):
    from thunlp_repro.ki import experiments as ex
    from thunlp_repro.ki import runs, zoo

    require_assets(*ASSETS)
    monkeypatch.setattr(zoo, "zoo_root", lambda: tmp_path / "zoo")
    with runs.user_settings(None, FAST):  # what `--set` does on the CLI, for every run
        yield ex


def _sets(sets: list[str]) -> list[str]:
    return [a for s in sets for a in ("--set", s)]


def _pretrain_runs(run_root) -> set[str]:
    return {p.name for p in (run_root / "ki").iterdir() if not p.name.startswith("ft-")}


def test_all_experiments_share_runs_and_report(fast, tmp_path, run_root):
    from typer.testing import CliRunner

    from thunlp_repro.cli import ki as ki_cli
    from thunlp_repro.ki import zoo
    from thunlp_repro.ki.report import ki_section
    from thunlp_repro.shared.io import read_json
    from thunlp_repro.shared.models import load_model

    ex = fast
    # E1 through the CLI: its --set list is layered over the preset and recorded in the results
    res = CliRunner().invoke(ki_cli.app, ["compare", "--preset", "smoke", "--results",
                                          str(tmp_path / "cli"), *_sets(FAST)])  # fmt: skip
    assert res.exit_code == 0, res.output
    e1_cli = read_json(tmp_path / "cli" / "smoke" / "ki" / "e1-ki-vs-scratch.json")
    assert e1_cli["meta"]["user_settings"] == {"set": FAST}
    # the same settings rebuild the table from the cached runs; other settings may not replace it
    cli = ["compare", "--preset", "smoke", "--results", str(tmp_path / "cli")]
    assert CliRunner().invoke(ki_cli.app, [*cli, *_sets(FAST)]).exit_code == 0
    other = CliRunner().invoke(ki_cli.app, [*cli, *_sets([*FAST, "ki.alpha0=0.5"])])
    assert other.exit_code == 2 and "pass --variant NAME" in other.output.replace("\n", "")
    assert "--set exp.finetune_train_limit=32, not --set" in other.output.replace("\n", "")
    # --variant keeps it beside the preset's table; a bad name is refused before any training
    bad = CliRunner().invoke(ki_cli.app, [*cli, "--variant", "Half Alpha"])
    assert bad.exit_code == 2 and "--variant must be" in bad.output
    longer = [*cli, "--variant", "long-teacher", *_sets([*FAST, "exp.teacher_steps=8"])]
    assert CliRunner().invoke(ki_cli.app, longer).exit_code == 0
    kept = read_json(tmp_path / "cli" / "smoke" / "ki" / "e1-ki-vs-scratch--long-teacher.json")
    assert kept["run_info"]["table"] == "e1-ki-vs-scratch"
    assert kept["meta"]["user_settings"]["set"][-1] == "exp.teacher_steps=8"
    assert kept["metrics"]["scratch"] == e1_cli["metrics"]["scratch"]  # only the teacher differs
    docs = {}
    for table in ("e1-ki-vs-scratch", "e5-generations", "e6-domain", "e7-downstream"):
        out = tmp_path / "results" / f"{table}.json"
        ex.RUNNERS[table]("smoke", out, False)
        docs[table] = read_json(out)
        assert docs[table]["run_info"] == {"paper": "ki", "experiment": ex.TABLES[table]
                                           .split(":")[0], "table": table, "preset": "smoke",
                                           "status": "ok"} | {"created_at": docs[table]
                                           ["run_info"]["created_at"]}  # fmt: skip
    assert docs["e1-ki-vs-scratch"]["metrics"] == e1_cli["metrics"]  # the CLI's runs reused
    runs = _pretrain_runs(run_root)
    # E1: teacher + 2 seeds x (scratch, ki); E5: 2 x g3-chain (smoke's G3 has the student's
    # shape, so its scratch arm is E1's); E6: news teacher + 2 x 3 arms. Nothing else: E5, E6
    # and E7 reuse E1's runs. The long-teacher variant adds its teacher and 2 KI runs.
    tags = sorted(r.rsplit("-", 1)[0].removeprefix("smoke-") for r in runs)
    assert tags == sorted(["teacher-t-1x32", "teacher-t-1x32-news", "teacher-t-1x32", "ki-s0",
                           "ki-s1",
                           *(f"{a}-s{s}" for a in ("scratch", "ki", "g3-chain", "e6-plain",
                                                   "e6-ki-news", "e6-ki-general")
                             for s in (0, 1))]), tags  # fmt: skip

    e1 = docs["e1-ki-vs-scratch"]["metrics"]
    assert set(e1["acceptance"]) == {"M1", "M2", "M3", "M4"}
    assert len(e1["scratch"]) == len(e1["ki"]) == 2 and e1["teacher_ppl"] > 1
    e5 = docs["e5-generations"]["metrics"]
    assert e5["acceptance"]["M12"]["status"] == "NOT TESTABLE"
    gens = {g["generation"]: g for g in e5["generations"]}
    assert list(gens) == ["G1 teacher", "G2 scratch", "G2 KI from G1", "G3 scratch",
                          "G3 KI from G2-KI"]  # fmt: skip
    # G2 is E1's pair, so its saving is E1's; G3's is E5's own
    assert gens["G2 KI from G1"]["step_saving"] == e1["savings"]["step_saving"]
    assert gens["G3 KI from G2-KI"]["step_saving"] == e5["savings"]["step_saving"]
    assert gens["G1 teacher"]["final_ppl"]["n"] == 1 and gens["G3 scratch"]["final_ppl"]["n"] == 2
    e6 = docs["e6-domain"]["metrics"]
    assert set(e6["final"]) == {"plain", "ki-news", "ki-general"}
    assert all(v["news"] > 1 and v["general"] > 1 for v in e6["final"].values()), e6["final"]
    assert set(e6["acceptance"]) == {"M13", "M14"}

    # E7 fine-tunes E1's arms and the teacher on the tasks, G3 likewise, E6's arms on bbc only
    e7 = docs["e7-downstream"]["metrics"]
    assert e7["parts"] == ["e1", "e5", "e6"]
    acc = e7["accuracy"]
    for arm in ("teacher", "scratch", "ki", "g3-scratch", "g3-chain"):
        assert set(acc[arm]) == {"trec", "sent-movie"}
    for arm in ("e6-plain", "e6-ki-news", "e6-ki-general"):
        assert set(acc[arm]) == {"bbc"}
    assert all(0.0 <= a <= 1.0 for v in acc.values() for t in v.values() for a in t["per_seed"])
    m15 = e7["acceptance"]["M15"]
    assert set(m15["value"]) == {"ki vs scratch, trec", "ki vs scratch, sent-movie",
                                 "e6-ki-news vs e6-plain, bbc"}  # fmt: skip
    assert m15["status"] == ("PASS" if all(m15["value"].values()) else "FAIL")

    # a subset of parts runs only those groups; a bad part fails before any training
    sub = tmp_path / "results" / "e7-sub.json"
    ex.run_e7("smoke", sub, False, parts=["e6"])
    m = read_json(sub)["metrics"]
    assert set(m["accuracy"]) == {"e6-plain", "e6-ki-news", "e6-ki-general"}
    assert m["acceptance"]["M15"]["reason"] == "parts not run: e1"
    from thunlp_repro.shared.errors import UsageError

    with pytest.raises(UsageError, match="E7 parts must be among e1, e5, e6, got e9"):
        ex.run_e7("smoke", sub, False, parts=["e9"])

    # the zoo reuses the experiments' runs and installs loadable MLM folders
    built = dict(zoo.build("smoke"))
    assert set(built) == set(zoo.ZOO.keys()) and _pretrain_runs(run_root) == runs
    for name in built:
        meta = read_json(zoo.zoo_location(name) / "meta.json")
        assert meta["zoo_name"] == name and meta["preset"] == "smoke"
    model, tok = load_model("ki-mini-student", head="masked-lm")
    assert model.config.num_hidden_layers == 2 and tok.vocab_size == 30522

    # fine-tunes are keyed by their checkpoint's run folder: another checkpoint trains anew
    fts = sorted(p.name for p in (run_root / "ki").iterdir() if p.name.startswith("ft-"))
    assert len(fts) == 2 * (5 * 2 + 3) and all(len(n.rsplit("-", 1)[1]) == 12 for n in fts)

    text = ki_section([*docs.values(), kept], tmp_path)
    variants = text[text.index("### Variants") :]
    assert "| e1-ki-vs-scratch (--set train.max_steps=6" in variants
    assert "**e1-ki-vs-scratch departs from the preset:** --set train.max_steps=6" in text
    assert "T4 downstream" in text and "e6-ki-news" in text and "—" in text
    assert "| G2 KI from G1 |" in text
    assert "T3 domain adaptation" in text and "M15" in text and "bbc accuracy (E7)" in text
    figs = ("f1.png", "f4.png", "f6.png", "f7.png", "f7-general.png")
    assert all((tmp_path / f).is_file() for f in figs)
    assert len(docs["e1-ki-vs-scratch"]["metrics"]["diagnostics"]["alpha"]) == 6  # logged steps
    t8 = text[text.index("### T8 provenance") :]
    assert all(t8.count(r) == 1 for r in runs)  # every pre-training run once, shared ones too

    # M12's optional control: G3 learns from E1's scratch student; E5's other runs are reused
    from thunlp_repro.ki.runs import user_settings

    with user_settings(None, [*FAST, "exp.g3_control=true"]):
        ex.run_e5("smoke", tmp_path / "results" / "e5-control.json", False)
    control = read_json(tmp_path / "results" / "e5-control.json")["metrics"]
    assert control["generations"][-1]["generation"] == "G3 KI from G2-scratch (control)"
    assert set(control["acceptance"]["M12"]["value"]) == {"from G2-KI", "from G2-scratch"}
    new = sorted(r.rsplit("-", 1)[0] for r in _pretrain_runs(run_root) - runs)
    assert new == ["smoke-g3-control-s0", "smoke-g3-control-s1"]


def test_prepare_data_builds_the_variant_corpora(run_root):
    from typer.testing import CliRunner

    from thunlp_repro.cli import ki as ki_cli

    require_assets(*ASSETS)
    res = CliRunner().invoke(ki_cli.app, ["prepare-data", "--preset", "smoke", "-e", "e6"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if " blocks of 64 tokens" in ln]
    assert [ln.split(":")[0] for ln in lines] == ["news train", "news validation",
                                                   "general validation"]  # fmt: skip
    assert lines[0] == "news train: bbc-news 1,000 blocks of 64 tokens"  # 64,000-token cap
