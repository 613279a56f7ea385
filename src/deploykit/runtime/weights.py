"""Where the engine finds the weights: a local path as given, the Hugging Face cache, or the hub (when online).
vLLM downloads a repo itself; llama.cpp needs the one GGUF file on disk."""

from __future__ import annotations

import os
from pathlib import Path

from deploykit.errors import GatedModelError, ModelConfigError
from deploykit.planning.types import Plan


def gguf_file(plan: Plan, local: Path | None) -> str:
    """The GGUF the plan chose, as a local file: the path the user gave, else the hub cache / a download."""
    if local is not None:
        return str(local.resolve())
    repo, filename = plan.weights.get("hf_repo"), plan.weights.get("gguf_file")
    if not (repo and filename):
        raise ModelConfigError(f"the plan's weights ({plan.weights.get('artifact')}) are not a GGUF file llama.cpp "
                               "can load", fix="pass the .gguf file itself as MODEL, or use --engine ollama")
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    cached = try_to_load_from_cache(repo, filename)
    if isinstance(cached, str):
        return cached
    try:
        return hf_hub_download(repo, filename, token=os.environ.get("HF_TOKEN"))
    except GatedRepoError as exc:
        raise GatedModelError(f"{repo} is gated", fix=f"accept the licence at https://huggingface.co/{repo} and "
                                                      "export HF_TOKEN") from exc
    except (LocalEntryNotFoundError, RepositoryNotFoundError, OSError) as exc:
        raise ModelConfigError(f"{filename} from {repo} is not in the Hugging Face cache and cannot be downloaded "
                               f"here ({type(exc).__name__})",
                               fix="download it where the hub is reachable and pass the .gguf path as MODEL "
                                   "(or copy the HF cache; HF_HUB_OFFLINE=1 then finds it)") from exc
