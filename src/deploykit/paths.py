"""Where the shipped data folders are: inside the wheel (deploykit/_data/...) or, in a source checkout, the repo root."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Folder of shipped data ``name`` (hardware_profiles, model_catalog, templates, data).

    ``DEPLOYKIT_DATA_DIR`` points at another root holding the same folders (for site-specific catalogs).
    """
    override = os.environ.get("DEPLOYKIT_DATA_DIR")
    candidates = [Path(override) / name] if override else []
    candidates += [_PACKAGE / "_data" / name, _PACKAGE.parent.parent / name]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    from deploykit.errors import DataError

    raise DataError(f"data folder '{name}' not found (looked in {', '.join(str(c) for c in candidates)})",
                    fix="reinstall deploykit (pip install --force-reinstall deploykit) or set DEPLOYKIT_DATA_DIR")


def cache_dir() -> Path:
    """deploykit's cache folder: ``DEPLOYKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/deploykit``, else
    ``~/.cache/deploykit``. Nothing in it is precious: each entry can be rebuilt."""
    explicit = os.environ.get("DEPLOYKIT_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deploykit"
