"""Install / verify on small fake payloads: manifest, idempotency, corruption, interruption."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from types import SimpleNamespace

import pytest

from thunlp_repro.shared.assets import (
    MANIFEST_NAME,
    AssetBuildError,
    AssetDownloadError,
    AssetIntegrityError,
    AssetMissingError,
    AssetSpec,
    asset_path,
    gguf_path,
    install,
    is_installed,
    model_dir,
    read_manifest,
    verify,
)
from thunlp_repro.shared.assets.extract import extract_member
from thunlp_repro.shared.errors import ConfigError, RegistryKeyError, UsageError
from thunlp_repro.shared.registry import Registry

from .conftest import FakePip, lock_entry, make_wheel

ROWS = b"alpha\nbeta\ngamma\n"
ROWS_SHA = hashlib.sha256(ROWS).hexdigest()


@pytest.fixture
def fake(tmp_path, home):
    """A registry with one data asset `fake` read from a fake wheel served by a fake pip."""
    index = tmp_path / "index"
    wheel = make_wheel(
        index, "fake-data", "1.0", {"fake_data/data/rows.txt": ROWS, "fake_data/__init__.py": b""}
    )
    lock = {"fake-data==1.0": lock_entry(wheel, "fake-data", "1.0")}
    state = SimpleNamespace(calls=[], fail=None)

    def builder(ctx):
        state.calls.append(ctx.spec.name)
        sha, size = extract_member(
            ctx.wheel("fake-data==1.0"), "fake_data/data/rows.txt", ctx.out / "rows.txt"
        )
        (ctx.out / "sub").mkdir()
        (ctx.out / "sub" / "derived.json").write_text('{"n": 3}')
        if state.fail is not None:
            raise state.fail
        ctx.payload("rows.txt", ctx.out / "rows.txt", sha256=sha, size=size)
        ctx.record("rows", 3)

    spec = AssetSpec(
        name="fake",
        kind="data",
        group="mini",
        description="three rows",
        license="MIT",
        packages=("fake-data==1.0",),
        builder=builder,
        payloads={"rows.txt": ROWS_SHA},
    )
    registry: Registry[AssetSpec] = Registry("asset")
    registry.add("fake", spec)
    pip = FakePip(index)

    def run(names="fake", **kwargs):
        kwargs.setdefault("runner", pip)
        return install(names, registry=registry, lock=lock, **kwargs)

    return SimpleNamespace(
        registry=registry, lock=lock, pip=pip, state=state, spec=spec, run=run, home=home
    )


def leftovers(home):
    """Hidden staging/scratch/old/incoming folders under the asset home."""
    found = [p.name for p in (home / "assets").glob(".*") if p.is_dir()]
    if (home / "wheels").is_dir():
        found += [p.name for p in (home / "wheels").glob(".incoming-*")]
    return found


def test_install_writes_files_and_manifest(fake):
    (result,) = fake.run(progress=lambda m: None)
    folder = fake.home / "assets" / "fake"
    assert result.status == "installed" and result.path == folder
    assert (folder / "rows.txt").read_bytes() == ROWS
    manifest = read_manifest(folder)
    assert manifest["asset"] == "fake"
    assert manifest["packages"] == [
        {
            "requirement": "fake-data==1.0",
            "file": "fake_data-1.0-py3-none-any.whl",
            "sha256": fake.lock["fake-data==1.0"].sha256,
        }
    ]
    assert manifest["payloads"][0]["sha256"] == ROWS_SHA
    assert manifest["payloads"][0]["path"] == "rows.txt"
    assert [f["path"] for f in manifest["files"]] == ["rows.txt", "sub/derived.json"]
    assert manifest["info"] == {"rows": 3}
    assert manifest["created_at"] and manifest["libraries"]["python"]
    assert (fake.home / "wheels" / "fake_data-1.0-py3-none-any.whl").is_file()
    assert is_installed("fake", registry=fake.registry)
    assert asset_path("fake", registry=fake.registry) == folder
    assert leftovers(fake.home) == []
    assert verify(registry=fake.registry) == {"fake": []}


def test_pip_is_called_with_no_deps_and_require_hashes(fake):
    fake.run()
    (cmd,) = fake.pip.calls
    assert cmd[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in cmd and "--require-hashes" in cmd
    sha = fake.lock["fake-data==1.0"].sha256
    assert fake.pip.requirements == [f"fake-data==1.0 --hash=sha256:{sha}"]


def test_second_install_is_skipped_and_force_rebuilds(fake):
    fake.run()
    (again,) = fake.run()
    assert again.status == "skipped"
    assert fake.state.calls == ["fake"]
    assert len(fake.pip.calls) == 1
    (forced,) = fake.run(force=True)
    assert forced.status == "rebuilt"
    assert fake.state.calls == ["fake", "fake"]
    assert len(fake.pip.calls) == 1  # the cached wheel was reused


def test_cached_wheel_is_reused_without_pip(fake):
    fake.run()
    (fake.home / "assets" / "fake" / MANIFEST_NAME).unlink()

    def no_pip(cmd):
        raise AssertionError("pip must not run when the cached wheel matches the lock")

    (result,) = fake.run(runner=no_pip)
    assert result.status == "rebuilt"


def test_corrupt_cached_wheel_is_downloaded_again(fake):
    fake.run()
    wheel = fake.home / "wheels" / "fake_data-1.0-py3-none-any.whl"
    wheel.write_bytes(b"truncated")
    fake.run(force=True)
    assert len(fake.pip.calls) == 2
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == fake.lock["fake-data==1.0"].sha256


def test_verify_detects_corruption_and_install_rebuilds(fake):
    fake.run()
    folder = fake.home / "assets" / "fake"
    (folder / "rows.txt").write_bytes(b"alpha\nBETA\ngamma\n")  # same size, other bytes
    report = verify(registry=fake.registry)
    assert len(report["fake"]) == 1 and "rows.txt" in report["fake"][0]
    assert "tampered" in report["fake"][0]
    assert is_installed("fake", registry=fake.registry)  # cheap check: manifest only

    (result,) = fake.run()
    assert result.status == "rebuilt" and result.problems == report["fake"]
    assert (folder / "rows.txt").read_bytes() == ROWS
    assert verify("fake", registry=fake.registry) == {"fake": []}


def test_verify_detects_missing_and_resized_files(fake):
    fake.run()
    folder = fake.home / "assets" / "fake"
    (folder / "sub" / "derived.json").unlink()
    (folder / "rows.txt").write_bytes(ROWS + b"delta\n")
    problems = verify("fake", registry=fake.registry)["fake"]
    assert any("missing file sub/derived.json" in p for p in problems)
    assert any(p.startswith("rows.txt:") and "bytes" in p for p in problems)


def test_verify_catches_a_consistently_tampered_manifest(fake):
    """Editing the file and its manifest hash together still fails against the catalogue."""
    fake.run()
    folder = fake.home / "assets" / "fake"
    evil = b"ALPHA\nBETA\nGAMMA\n"
    (folder / "rows.txt").write_bytes(evil)
    manifest = read_manifest(folder)
    for entry in manifest["files"]:
        if entry["path"] == "rows.txt":
            entry["sha256"] = hashlib.sha256(evil).hexdigest()
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    (problem,) = verify("fake", registry=fake.registry)["fake"]
    assert "catalogue" in problem


def test_verify_reports_unreadable_manifest_and_not_installed(fake):
    assert verify("fake", registry=fake.registry) == {"fake": ["not installed"]}
    assert verify(registry=fake.registry) == {}
    fake.run()
    (fake.home / "assets" / "fake" / MANIFEST_NAME).write_text("{not json")
    (problem,) = verify(registry=fake.registry)["fake"]
    assert "unreadable" in problem


def test_stale_revision_or_pins_are_reported(fake):
    fake.run()
    fake.registry.add("fake", replace(fake.spec, revision=2), replace=True)
    (problem,) = verify("fake", registry=fake.registry)["fake"]
    assert "stale" in problem and "revision" in problem


def test_interrupted_install_leaves_no_half_asset(fake):
    fake.state.fail = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        fake.run()
    assert not (fake.home / "assets" / "fake").exists()
    assert not is_installed("fake", registry=fake.registry)
    assert leftovers(fake.home) == []


def test_failing_builder_raises_build_error_and_installs_nothing(fake):
    fake.state.fail = RuntimeError("conversion exploded")
    with pytest.raises(AssetBuildError, match="conversion exploded"):
        fake.run()
    assert not (fake.home / "assets" / "fake").exists()
    assert leftovers(fake.home) == []


def test_failed_rebuild_keeps_the_previous_asset(fake):
    fake.run()
    fake.state.fail = RuntimeError("boom")
    with pytest.raises(AssetBuildError):
        fake.run(force=True)
    assert verify("fake", registry=fake.registry) == {"fake": []}
    assert (fake.home / "assets" / "fake" / "rows.txt").read_bytes() == ROWS


def test_leftovers_of_a_killed_install_are_cleaned(fake):
    assets = fake.home / "assets"
    half = assets / ".fake.tmp-killed"
    half.mkdir(parents=True)
    (half / "rows.txt").write_bytes(b"half")
    (assets / ".fake.work-killed").mkdir()
    assert not is_installed("fake", registry=fake.registry)
    fake.run()
    assert leftovers(fake.home) == []
    assert verify("fake", registry=fake.registry) == {"fake": []}


def test_payload_hash_mismatch_fails_install(fake):
    fake.registry.add("fake", replace(fake.spec, payloads={"rows.txt": "0" * 64}), replace=True)
    with pytest.raises(AssetIntegrityError, match="rows.txt"):
        fake.run()
    assert not (fake.home / "assets" / "fake").exists()


def test_pip_failure_is_reported(fake):
    fake.pip.returncode = 1
    fake.pip.stderr = "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES"
    with pytest.raises(AssetDownloadError, match="DO NOT MATCH THE HASHES"):
        fake.run()
    assert leftovers(fake.home) == []


def test_pip_output_with_wrong_hash_is_rejected(fake, tmp_path):
    make_wheel(fake.pip.index, "fake-data", "1.0", {"other": b"x"})  # overwrite the "index"
    with pytest.raises(AssetDownloadError, match="locked sha256"):
        fake.run()


def test_package_missing_from_lock_is_a_config_error(fake):
    fake.registry.add("fake", replace(fake.spec, packages=("unpinned==9.9",)), replace=True)
    with pytest.raises(ConfigError, match="assets.lock"):
        fake.run()


def test_unknown_asset_lists_known_ids(fake):
    for call in (
        lambda: fake.run("fak"),
        lambda: verify("nope", registry=fake.registry),
        lambda: asset_path("nope", registry=fake.registry),
        lambda: is_installed("nope", registry=fake.registry),
    ):
        with pytest.raises(RegistryKeyError, match="known: fake"):
            call()


def test_unknown_builtin_asset_lists_catalogue_ids():
    with pytest.raises(RegistryKeyError) as info:
        asset_path("minilm-l7")
    message = str(info.value)
    assert "did you mean 'minilm-l6'" in message
    for known in ("minilm-l3", "smollm2-135m", "vader-movie", "kjv"):
        assert known in message


def test_missing_asset_names_the_install_command(home):
    with pytest.raises(AssetMissingError) as info:
        asset_path("minilm-l6")
    assert str(info.value) == (
        "asset 'minilm-l6' is not installed; run: thunlp-repro assets install minilm-l6"
    )
    assert info.value.exit_code == 2
    assert not is_installed("minilm-l6")


def test_install_needs_names(fake):
    with pytest.raises(UsageError):
        fake.run(None)


def test_derived_asset_builds_after_its_requirement(fake):
    seen = {}

    def build_head(ctx):
        seen["backbone"] = ctx.dependency("fake")
        (ctx.out / "head.bin").write_bytes(b"\x00" * 8)
        ctx.record("gate", 0.9)

    head = AssetSpec(
        name="fake-mlm",
        kind="model",
        group="opt-in",
        description="head",
        license="MIT",
        requires=("fake",),
        builder=build_head,
        install_hint="thunlp-repro assets mlm-head fake",
    )
    fake.registry.add("fake-mlm", head)
    with pytest.raises(AssetMissingError, match="assets mlm-head fake"):
        asset_path("fake-mlm", registry=fake.registry)
    results = fake.run("fake-mlm")
    assert [(r.name, r.status) for r in results] == [
        ("fake", "installed"),
        ("fake-mlm", "installed"),
    ]
    assert seen["backbone"] == fake.home / "assets" / "fake"
    assert read_manifest(asset_path("fake-mlm", registry=fake.registry))["packages"] == []
    assert model_dir("fake-mlm", registry=fake.registry) == fake.home / "assets" / "fake-mlm"

    # An identical rebuild of the backbone keeps the head valid; a changed backbone makes it stale.
    fake.run("fake", force=True)
    assert verify("fake-mlm", registry=fake.registry) == {"fake-mlm": []}
    rows = fake.home / "assets" / "fake" / "rows.txt"
    # a different backbone (file and manifest changed together), e.g. a newer pin
    rows.write_bytes(b"other\n")
    manifest = read_manifest(fake.home / "assets" / "fake")
    for entry in manifest["files"]:
        if entry["path"] == "rows.txt":
            entry["sha256"] = hashlib.sha256(b"other\n").hexdigest()
            entry["bytes"] = len(b"other\n")
    (fake.home / "assets" / "fake" / MANIFEST_NAME).write_text(json.dumps(manifest))
    (problem,) = verify("fake-mlm", registry=fake.registry)["fake-mlm"]
    assert "stale" in problem and "fake" in problem
    # install repairs the backbone (its payload no longer matches the catalogue); the head was
    # built from exactly that content, so it is valid again and kept
    statuses = {r.name: r.status for r in fake.run("fake-mlm")}
    assert statuses == {"fake": "rebuilt", "fake-mlm": "skipped"}
    assert verify(registry=fake.registry) == {"fake": [], "fake-mlm": []}


def test_dependency_cycle_is_rejected(fake):
    fake.registry.add("fake", replace(fake.spec, requires=("fake",)), replace=True)
    with pytest.raises(UsageError, match="cycle"):
        fake.run()


def test_model_dir_and_gguf_path(fake):
    def build(ctx):
        (ctx.out / "hf").mkdir()
        (ctx.out / "hf" / "config.json").write_text("{}")
        (ctx.out / "m.gguf").write_bytes(b"GGUF")

    spec = AssetSpec(
        name="llm",
        kind="model",
        group="mini",
        description="d",
        license="MIT",
        builder=build,
        hf_subdir="hf",
        gguf="m.gguf",
    )
    fake.registry.add("llm", spec)
    fake.run("llm")
    root = fake.home / "assets" / "llm"
    assert model_dir("llm", registry=fake.registry) == root / "hf"
    assert gguf_path("llm", registry=fake.registry) == root / "m.gguf"
    with pytest.raises(UsageError, match="not a model"):
        model_dir("fake", registry=fake.registry)
    with pytest.raises(UsageError, match="no GGUF"):
        gguf_path("fake", registry=fake.registry)


def test_installed_tree_has_normal_permissions(fake):
    previous = os.umask(0o022)
    try:
        fake.run()
    finally:
        os.umask(previous)
    folder = fake.home / "assets" / "fake"
    assert folder.stat().st_mode & 0o777 == 0o755
    assert (folder / MANIFEST_NAME).stat().st_mode & 0o777 == 0o644
