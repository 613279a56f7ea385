"""The validated catalog, kept on disk between runs so a command does not parse and validate every YAML file.

An entry is keyed by the data files it was built from (path, size, modification time), the catalog code that
validated them and the deploykit, Python and pydantic versions: any change to a data file rebuilds it. The cache
lives in ``paths.cache_dir()/catalog``; a folder that cannot be written, or an entry that cannot be read, only
means the catalog is built from YAML as before.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from deploykit import __version__
from deploykit.paths import cache_dir

T = TypeVar("T")
_CODE = [Path(__file__).with_name("schema.py"), Path(__file__).with_name("loader.py")]


def key(kind: str, files: list[Path], code: tuple[Path, ...] = ()) -> str:
    import pydantic

    parts = [kind, __version__, sys.version, pydantic.VERSION]
    for path in [*_CODE, *code, *files]:
        st = path.stat()
        parts.append(f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def cached(kind: str, files: list[Path], build: Callable[[], T], code: tuple[Path, ...] = ()) -> T:
    """``build()``'s result, from the disk cache when the files (and the ``code`` that reads them, besides the
    catalog's own) are unchanged since it was stored."""
    folder = cache_dir() / "catalog"
    path = folder / f"{kind}-{key(kind, files, code)}.pickle"
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh)
    except Exception:  # noqa: BLE001 - missing, truncated or from other code: rebuild
        pass
    value = build()
    _store(folder, path, kind, value)
    return value


def _store(folder: Path, path: Path, kind: str, value: object) -> None:
    import tempfile  # only when an entry is written (it imports random, ~2 ms)

    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for old in folder.glob(f"{kind}-*.pickle"):  # one entry per kind: older ones are stale
            old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{kind}-", suffix=".tmp")
    except OSError:
        return  # unwritable cache folder: the next run validates again
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except (OSError, pickle.PicklingError):
        Path(tmp).unlink(missing_ok=True)
