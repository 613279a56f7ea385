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
    except GatedRepoError as exc:
        raise GatedModelError(
            f"{repo} is gated: the hub refused access ({_status(exc)})",
            fix=f"accept the licence at https://huggingface.co/{repo} and export HF_TOKEN=<a token with read access>"
        ) from exc
    except RepositoryNotFoundError as exc:
        raise ModelConfigError(f"no Hugging Face repository '{repo}' (or it is private)",
                               fix="check the repo id, or export HF_TOKEN for a private repo") from exc
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
