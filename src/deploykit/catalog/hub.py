"""Reading config.json from a local directory, the Hugging Face cache, or the hub. The only huggingface_hub import."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from deploykit.errors import GatedModelError, ModelConfigError, NetworkError

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
OFFLINE_FIX = ("connect to the network; or set HF_HUB_OFFLINE=1 to use only the local Hugging Face cache, or pass a "
               "local model directory (or .gguf file) instead")
OFFLINE_SET_FIX = ("unset HF_HUB_OFFLINE where the hub is reachable, or pull it elsewhere (deploykit pull --local-dir "
                   "DIR) and pass DIR (or a .gguf file)")


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def require_hub(what: str) -> None:
    """One quick connection to the hub before huggingface_hub's retries (5 of them, ~25 s, when the network is
    down): unreachable is a NetworkError at once, with the offline fix."""
    import socket
    from urllib.parse import urlsplit

    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    parts = urlsplit(endpoint)
    host = parts.hostname or "huggingface.co"
    if offline():
        raise NetworkError(f"cannot reach {host} for {what}: HF_HUB_OFFLINE=1 (offline)", fix=OFFLINE_SET_FIX)
    try:
        with socket.create_connection((host, parts.port or (443 if parts.scheme == "https" else 80)), timeout=5):
            pass
    except OSError as exc:
        raise NetworkError(f"cannot reach {host} for {what} (offline?): {exc.strerror or exc}", fix=OFFLINE_FIX) \
            from None


MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a config.json is a few KB


def read_local_config(directory: Path) -> dict[str, Any]:
    path = directory / "config.json"
    if not path.is_file():
        raise ModelConfigError(f"{directory} has no config.json",
                               fix="point at a model directory (config.json + *.safetensors), or a GGUF file")
    return read_config_file(path)


def read_config_file(path: Path) -> dict[str, Any]:
    """config.json as a JSON object: bounded in size, UTF-8, not nested beyond reason."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ModelConfigError(f"cannot read {path}: {exc.strerror or exc}", fix="check the file's permissions") \
            from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ModelConfigError(f"{path} is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB: not a model config",
                               fix="point at the model's own config.json")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelConfigError(f"{path} is not UTF-8 text", fix="re-download the model") from exc
    except (ValueError, RecursionError) as exc:
        raise ModelConfigError(f"{path} is not valid JSON: {str(exc)[:200] or type(exc).__name__}",
                               fix="re-download the model") from None
    if not isinstance(data, dict):
        raise ModelConfigError(f"{path} is not a JSON object", fix="point at the model's own config.json")
    return data


def local_license(directory: Path) -> str | None:
    """The `license:` of a model card's YAML front matter, when the directory has a README.md."""
    readme = directory / "README.md"
    if not readme.is_file():
        return None
    m = re.search(r"^---\s*$(.*?)^---\s*$", readme.read_text(errors="replace"), re.S | re.M)
    if not m:
        return None
    found = re.search(r"^license:\s*(\S+)", m.group(1), re.M)
    return found.group(1).strip("'\"") if found else None


def fetch_hub_config(repo: str, revision: str = "main") -> tuple[dict[str, Any], str]:
    """config.json of a hub repo: the local cache first, then the hub (unless HF_HUB_OFFLINE=1).
    Returns the parsed JSON and where it was read."""
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    cached = try_to_load_from_cache(repo, "config.json", revision=revision)
    if isinstance(cached, str):
        return read_config_file(Path(cached)), cached
    if offline():
        raise NetworkError(f"cannot reach the hub for config.json of {repo}: HF_HUB_OFFLINE=1 (offline), and it is "
                           "not in the local Hugging Face cache", fix=OFFLINE_SET_FIX)
    require_hub(f"config.json of {repo}")
    try:
        path = hf_hub_download(repo, "config.json", revision=revision, token=os.environ.get("HF_TOKEN"))
    except (GatedRepoError, RepositoryNotFoundError) as exc:
        raise _hub_errors(repo, exc) from exc
    except RevisionNotFoundError as exc:
        raise ModelConfigError(f"{repo} has no revision '{revision}'", fix="use a branch, tag or commit") from exc
    except LocalEntryNotFoundError as exc:  # (a subclass of EntryNotFoundError: first)
        raise NetworkError(f"cannot reach the hub for config.json of {repo} (offline?), and it is not in the "
                           "local cache", fix=OFFLINE_FIX) from exc
    except EntryNotFoundError as exc:
        raise ModelConfigError(f"{repo} has no config.json", fix="deploykit plans transformers-format repos; "
                               "for a GGUF-only repo pass the downloaded .gguf file") from exc
    return read_config_file(Path(path)), f"https://huggingface.co/{repo}/blob/{revision}/config.json"


def _status(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return f"HTTP {response.status_code}" if response is not None else type(exc).__name__


class RepoFile:
    """One file of a hub repo as the hub lists it: its size, and the sha256 it publishes for LFS files."""

    def __init__(self, name: str, size: int | None, sha256: str | None) -> None:
        self.name, self.size, self.sha256 = name, size, sha256


def _hub_errors(repo: str, exc: Exception) -> Exception:
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    if isinstance(exc, GatedRepoError):
        return GatedModelError(
            f"{repo} is gated: the hub refused access ({_status(exc)})",
            fix=f"accept the licence at https://huggingface.co/{repo}, then export HF_TOKEN=<a token with read "
                "access> and run again")
    if isinstance(exc, RepositoryNotFoundError):
        return ModelConfigError(f"no Hugging Face repository '{repo}' (or it is private)",
                                fix="check the repo id, or export HF_TOKEN for a private repo")
    if isinstance(exc, RevisionNotFoundError):
        return ModelConfigError(f"{repo}: no such revision", fix="use a branch, tag or commit that exists")
    if isinstance(exc, EntryNotFoundError):
        return ModelConfigError(f"{repo}: a file the plan needs is not in the repo ({exc})",
                                fix="the catalog may be out of date: pass a local path instead")
    if isinstance(exc, HfHubHTTPError):
        return ModelConfigError(f"the hub answered an error for {repo}: {exc}", fix="try again later")
    import httpx
    if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError)):
        return NetworkError(f"cannot reach the hub for {repo} (offline?): {type(exc).__name__}", fix=OFFLINE_FIX)
    return exc


def list_repo_files(repo: str, revision: str = "main") -> list[RepoFile]:
    """Every file of the repo with its size and published sha256 (LFS files)."""
    from huggingface_hub import HfApi
    require_hub(f"the file list of {repo}")
    try:
        info = HfApi().model_info(repo, revision=revision, files_metadata=True, token=os.environ.get("HF_TOKEN"))
    except Exception as exc:  # noqa: BLE001 - mapped to deploykit's errors, else re-raised
        raise _hub_errors(repo, exc) from exc
    return [RepoFile(s.rfilename, s.size, (s.lfs.sha256 if s.lfs else None)) for s in info.siblings or []]


def download(repo: str, files: list[str], *, revision: str = "main", local_dir: Path | None = None) -> Path:
    """The files into the HF cache (or ``local_dir``), resuming partial downloads; returns the folder."""
    from huggingface_hub import snapshot_download
    require_hub(f"the files of {repo}")
    try:
        return Path(snapshot_download(repo, revision=revision, allow_patterns=files, local_dir=local_dir,
                                      token=os.environ.get("HF_TOKEN")))
    except Exception as exc:  # noqa: BLE001
        raise _hub_errors(repo, exc) from exc


def cached_snapshot(repo: str, files: list[str], *, revision: str = "main", local_dir: Path | None = None,
                    required: list[str] | None = None) -> Path | None:
    """The folder holding these files (patterns) without touching the network, or None when one of ``required``
    (default: every literal name in ``files``) is missing."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError
    try:
        folder = Path(snapshot_download(repo, revision=revision, allow_patterns=files, local_dir=local_dir,
                                        local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    needed = required if required is not None else [f for f in files if not any(c in f for c in "*?[")]
    if not all((folder / f).exists() for f in needed):
        return None
    return folder
