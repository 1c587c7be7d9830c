"""The KI model zoo: trained teachers and students registered by name (ki.md §4.9).

Each entry is an HF `save_pretrained` folder (safetensors, config, tokenizer files, `meta.json`)
with its real MLM head, under `$THUNLP_REPRO_HOME/zoo/<name>/`. Other pipelines (APET, prompt
transfer) load them by name through `shared.models.load_model` (see `zoo_location`); they never
need to import the KI training code. `thunlp-repro ki zoo build` trains the missing runs (cached)
and installs the entries; `ki zoo list` shows them.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from thunlp_repro.shared.errors import AssetMissingError
from thunlp_repro.shared.paths import home
from thunlp_repro.shared.registry import Registry


@dataclass(frozen=True)
class ZooEntry:
    """A zoo name: what it is and which run produces it (`kind`: teacher | scratch | ki)."""

    name: str
    description: str
    kind: str
    arch: str
    corpus: str = "general"
    steps: int | None = None  # None: the preset's default for that kind


ZOO: Registry[ZooEntry] = Registry("ki zoo")
for _e in (
    ZooEntry("ki-mini-teacher", "G1 teacher t-2x128 (general, best of 2,000 steps)", "teacher",
             "t-2x128"),
    ZooEntry("ki-mini-teacher-news", "news domain teacher t-2x128-news (E6)", "teacher",
             "t-2x128", corpus="news"),
    ZooEntry("ki-mini-student", "KI student s-4x256 from ki-mini-teacher (E1, seed 0)", "ki",
             "s-4x256"),
    ZooEntry("ki-mini-student-6x384", "KI student s-6x384 chained from G2-KI (E5, seed 0)",
             "chain", "s-6x384"),
    ZooEntry("ki-mini-ladder-s", "self-learning 2x128, S = 1,000, seed 0", "scratch", "t-2x128"),
    ZooEntry("ki-mini-ladder-m", "self-learning 4x256, S = 1,000, seed 0 (E1 scratch)", "scratch",
             "s-4x256"),
    ZooEntry("ki-mini-ladder-l", "self-learning 6x384, S = 1,000, seed 0 (E5 scratch)", "scratch",
             "s-6x384"),
):  # fmt: skip
    ZOO.add(_e.name, _e)


def zoo_root() -> Path:
    return home() / "zoo"


def zoo_location(name: str) -> Path:
    """Folder of a zoo entry (may not exist yet)."""
    ZOO.get(name)
    return zoo_root() / name


def is_built(name: str) -> bool:
    return (zoo_location(name) / "config.json").is_file()


def zoo_path(name: str) -> Path:
    """Folder of a built zoo entry.

    Raises:
        AssetMissingError: the entry is not built (a known name; the message names the build
            command), as `shared.models.resolve_model` documents for models not on disk.
    """
    path = zoo_location(name)
    if not is_built(name):
        raise AssetMissingError(
            f"zoo model '{name}' is not built yet; run: thunlp-repro ki zoo build --preset mini"
        )
    return path


def install(name: str, src: Path, extra_meta: dict | None = None) -> Path:
    """Copy an HF folder into the zoo (atomically: temp folder, then rename)."""
    dst = zoo_location(name)
    tmp = dst.with_name(f".tmp-{name}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    meta_path = tmp / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    meta.update({"zoo_name": name, "tokenizer_id": "minilm-uncased-30522", **(extra_meta or {})})
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(dst, ignore_errors=True)
    tmp.rename(dst)
    return dst


def build(preset: str = "mini", names: list[str] | None = None) -> list[tuple[str, str]]:
    """Train (cached) and install the zoo entries; returns (name, folder) pairs."""
    from thunlp_repro.ki import runs

    done = []
    for name in names or ZOO.keys():
        e = ZOO.get(name)
        cfg = runs.make_cfg(preset)
        if e.kind == "teacher":
            steps = cfg.exp.domain_teacher_steps if e.corpus != "general" else None
            src, _ = runs.ensure_teacher(
                preset, e.arch if preset == "mini" else cfg.exp.teacher_arch,
                corpus=None if e.corpus == "general" else e.corpus, steps=steps,
            )  # fmt: skip
        elif e.kind == "scratch":
            arch = e.arch if preset == "mini" else cfg.model.arch
            src = str(runs.scratch_run(preset, arch, 0)[1] / "export")
        else:
            t_dir, _ = runs.ensure_teacher(preset, cfg.exp.teacher_arch)
            _, g2 = runs.ki_run(preset, 0, t_dir)
            src = str(g2 / "export")
            if e.kind == "chain":
                src = str(runs.chain_run(preset, 0, g2)[1] / "export")
        done.append((name, str(install(name, Path(src), {"preset": preset}))))
    return done
