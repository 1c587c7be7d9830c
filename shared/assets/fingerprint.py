"""What a result cites about the assets it used: packages and payload sha256 (offline-assets §0)."""

from __future__ import annotations

from typing import Any

from thunlp_repro.shared.assets.locate import asset_path, is_installed
from thunlp_repro.shared.assets.manifest import read_manifest
from thunlp_repro.shared.assets.spec import ASSETS


def asset_fingerprints(names: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """For each registered, installed asset among `names`: its packages and payload hashes.

    Names that are not assets (hub ids, tiny models, local folders) are skipped.
    """
    out: dict[str, Any] = {}
    for name in names:
        if name not in ASSETS or not is_installed(name):
            continue
        manifest = read_manifest(asset_path(name))
        out[name] = {
            "packages": [p.get("requirement") for p in manifest.get("packages", [])],
            "payloads": {p["name"]: p["sha256"] for p in manifest.get("payloads", [])},
            "revision": manifest.get("revision"),
        }
    return out
