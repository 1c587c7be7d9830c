"""The official-prompt importer and gate P0 (prompt_transfer.md §2.5, §5.2, §7 pitfall 1): row 0
is dropped for RoBERTa/BERT and kept for T5, files load with weights_only, bad files exit 2 with
one line, imported prompts flow through the unchanged matrix stage, P0 judges a matrix against
the committed RoBERTa-base one."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch

from tests.unit.prompt_transfer.test_cli_inputs import _error_line, _invoke
from tests.unit.prompt_transfer.test_stages_tiny import TASKS, make
from thunlp_repro.prompt_transfer import official, pipeline
from thunlp_repro.prompt_transfer.artefacts import load_prompt
from thunlp_repro.prompt_transfer.evaluate import score
from thunlp_repro.prompt_transfer.gates import FAIL, PASS, compute_gates
from thunlp_repro.prompt_transfer.report import reference_matrix, write_study_report
from thunlp_repro.shared.errors import UsageError
from thunlp_repro.shared.tasks import get_task

NAMES = {t: t.replace("-", "") for t in TASKS}  # tiny tasks -> fake official prefixes


def _write(src, prefix, tag, tensor):
    folder = src / f"{prefix}Prompt{tag}"
    folder.mkdir(parents=True)
    torch.save(tensor, folder / "task_prompt")
    return folder / "task_prompt"


def test_row0_dropped_for_roberta_kept_for_t5(tmp_path):
    t = torch.randn(100, 8)
    path = _write(tmp_path, "IMDB", "Roberta", t)
    assert torch.equal(official.read_official(path, "Roberta", 8, 99), t[1:])
    path = _write(tmp_path, "IMDB", "T5", t)
    assert torch.equal(official.read_official(path, "T5", 8, 100), t)
    path = _write(tmp_path, "SST2", "Bert", t[None])  # a batch axis is accepted
    assert torch.equal(official.read_official(path, "Bert", 8, 99), t[1:])


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"not a torch file at all", "not a readable torch tensor file"),
        ({"model": [1, 2]}, "holds a dict"),
        (torch.randn(100, 6), "expected (n, 8)"),
        (torch.randn(50, 8), "49 trained rows"),
    ],
)
def test_bad_files_raise_one_line(tmp_path, payload, words):
    folder = tmp_path / "IMDBPromptRoberta"
    folder.mkdir()
    path = folder / "task_prompt"
    if isinstance(payload, bytes):
        path.write_bytes(payload)
    else:
        torch.save(payload, path)
    with pytest.raises(UsageError, match="IMDBPromptRoberta") as exc:
        official.read_official(path, "Roberta", 8, 99)
    assert words in str(exc.value) and "\n" not in str(exc.value)


class _Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_weights_only_refuses_a_crafted_pickle(tmp_path, capsys):
    folder = tmp_path / "IMDBPromptRoberta"
    folder.mkdir()
    torch.save(_Evil(), folder / "task_prompt")
    with pytest.raises(UsageError, match="not a readable torch tensor file"):
        official.read_official(folder / "task_prompt", "Roberta", 8, 99)
    assert "code ran" not in capsys.readouterr().out


def test_missing_task_names_what_is_there(tmp_path):
    _write(tmp_path, "IMDB", "Roberta", torch.randn(100, 8))
    with pytest.raises(UsageError, match=r"'sst2'.*found for Roberta: IMDBPromptRoberta"):
        official.official_file(tmp_path, "sst2", "Roberta")
    with pytest.raises(UsageError, match="no official prompt name"):
        official.official_file(tmp_path, "sent-movie", "Roberta")


def test_import_then_matrix_scores_the_trained_rows(tmp_path, monkeypatch):
    study = make(tmp_path / "study", monkeypatch)
    src = tmp_path / "task_prompt_emb"
    raw = {t: torch.randn(study.cfg.prompt.length + 1, 32) for t in TASKS}
    for t, tensor in raw.items():
        _write(src, NAMES[t], "Roberta", tensor)
    doc = official.import_official(study, src, "Roberta", names=NAMES)
    assert doc["init"] == "official" and doc["seeds"] == [0] and doc["n_runs"] == len(TASKS)
    prompt, meta = load_prompt(doc["runs"]["trec"]["0"]["prompt"])
    assert torch.equal(prompt, raw["trec"][1:]) and meta["dropped_rows"] == [0]
    assert meta["backbone_sha256"] == study.bb.info["backbone_sha256"]
    study.cfg = replace(study.cfg, exp=replace(study.cfg.exp, seeds=[0]))
    matrix = pipeline.run_matrix(study)
    assert matrix["status"] == "ok"
    task = study.task("sent-movie")
    hand = score(study.model(), study.bb.tokenizer, task, "test", 8, raw["trec"][1:])
    assert matrix["per_seed"]["0"]["acc"]["sent-movie"]["trec"] == pytest.approx(hand["accuracy"])
    (gate,) = compute_gates(study.root)
    assert gate["id"] == "P0" and gate["status"] == FAIL
    assert "no task of the committed" in gate["value"]
    report = write_study_report(study.root, [gate]).read_text()
    assert "imported from the official release" in report and "P0" in report


def _reference_matrix_doc():
    tasks = list(official.REFERENCE_COLUMNS)
    rt, rs, rv = reference_matrix()
    by_name = {name: t for t, name in official.REFERENCE_COLUMNS.items()}
    rel = {by_name[r]: {by_name[c]: v for c, v in zip(rs, row, strict=True) if c in by_name}
           for r, row in zip(rt, rv, strict=True)}  # fmt: skip
    return {"tasks": tasks, "seeds": [0], "family": {t: get_task(t).family for t in tasks},
            "per_seed": {"0": {"rel": rel}}}  # fmt: skip


def test_p0_passes_on_the_committed_matrix_and_fails_outside_tolerance():
    doc = _reference_matrix_doc()
    gate = official.p0(doc)
    assert gate["status"] == PASS, gate
    assert "same 80.8, cross 56.6" in gate["value"]
    loose = copy.deepcopy(doc)
    loose["per_seed"]["0"]["rel"]["imdb"]["sst2"] += 2.5  # within 3.0 on a non-GLUE target
    assert official.p0(loose)["status"] == PASS
    tight = copy.deepcopy(doc)
    tight["per_seed"]["0"]["rel"]["mnli"]["snli"] -= 1.5  # beyond 1.0 on a GLUE target
    gate = official.p0(tight)
    assert gate["status"] == FAIL and "mnli<-snli 1.5" in gate["value"]


def test_cli_bad_dir_exits_2(tmp_path):
    code, out = _invoke(["prompt-transfer", "import-official", "--dir", str(tmp_path / "nope"),
                         "--preset", "smoke", "--tag", "Roberta"])  # fmt: skip
    assert code == 2, out
    assert "nope" in _error_line(out)
