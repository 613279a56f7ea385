"""Reading config.json from a local directory, the Hugging Face cache, or the hub. The only huggingface_hub import."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from deploykit.errors import GatedModelError, ModelConfigError

REPO_ID = re.compile(r"^[\w.\-]+/[\w.\-]+$")


def read_local_config(directory: Path) -> dict[str, Any]:
    path = directory / "config.json"
    if not path.is_file():
        raise ModelConfigError(f"{directory} has no config.json",
                               fix="point at a model directory (config.json + *.safetensors), or a GGUF file")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelConfigError(f"{path} is not valid JSON: {exc}", fix="re-download the model") from exc


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
        return json.loads(Path(cached).read_text()), cached
    try:
        path = hf_hub_download(repo, "config.json", revision=revision, token=os.environ.get("HF_TOKEN"))
    except (GatedRepoError, RepositoryNotFoundError) as exc:
        raise _hub_errors(repo, exc) from exc
    except RevisionNotFoundError as exc:
        raise ModelConfigError(f"{repo} has no revision '{revision}'", fix="use a branch, tag or commit") from exc
    except EntryNotFoundError as exc:
        raise ModelConfigError(f"{repo} has no config.json", fix="deploykit plans transformers-format repos; "
                               "for a GGUF-only repo pass the downloaded .gguf file") from exc
    except LocalEntryNotFoundError as exc:
        raise ModelConfigError(f"config.json of {repo} is not in the local cache and the hub cannot be reached",
                               fix="connect to the hub, or download the model and pass its directory") from exc
    return json.loads(Path(path).read_text()), f"https://huggingface.co/{repo}/blob/{revision}/config.json"


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
    return exc


def list_repo_files(repo: str, revision: str = "main") -> list[RepoFile]:
    """Every file of the repo with its size and published sha256 (LFS files)."""
    from huggingface_hub import HfApi
    try:
        info = HfApi().model_info(repo, revision=revision, files_metadata=True, token=os.environ.get("HF_TOKEN"))
    except Exception as exc:  # noqa: BLE001 - mapped to deploykit's errors, else re-raised
        raise _hub_errors(repo, exc) from exc
    return [RepoFile(s.rfilename, s.size, (s.lfs.sha256 if s.lfs else None)) for s in info.siblings or []]


def download(repo: str, files: list[str], *, revision: str = "main", local_dir: Path | None = None) -> Path:
    """The files into the HF cache (or ``local_dir``), resuming partial downloads; returns the folder."""
    from huggingface_hub import snapshot_download
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
