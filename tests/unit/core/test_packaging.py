"""Every importable folder is listed in pyproject (else it is silently left out of the wheel)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _expected_packages(pyproject: dict) -> set[str]:
    mapping = pyproject["tool"]["setuptools"]["package-dir"]
    expected = set()
    for module, folder in mapping.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if "__pycache__" in rel.parts:
                continue
            expected.add(".".join([module, *rel.parts]) if rel.parts else module)
        for preset in base.rglob("*.yaml") if folder == "configs" else []:
            rel = preset.parent.relative_to(base)
            expected.add(".".join([module, *rel.parts]) if rel.parts else module)
    return expected


def test_every_package_folder_is_listed():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(pyproject["tool"]["setuptools"]["packages"])
    missing = _expected_packages(pyproject) - listed
    assert not missing, f"add to [tool.setuptools].packages: {sorted(missing)}"
    assert "thunlp_repro" in listed and (ROOT / "cli/_root/__main__.py").is_file()


def test_each_paper_package_is_mapped():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = pyproject["tool"]["setuptools"]["package-dir"]
    for folder in (ROOT / "packages").iterdir():
        if (folder / "__init__.py").is_file():
            assert mapping.get(f"thunlp_repro.{folder.name}") == f"packages/{folder.name}"
