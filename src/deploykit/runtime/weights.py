"""Where the engine finds the weights: a local path as given, the Hugging Face cache, or the hub (when online).
vLLM downloads a repo itself; llama.cpp needs the one GGUF file on disk."""

from __future__ import annotations

from pathlib import Path

from deploykit.errors import ModelConfigError
from deploykit.planning.types import Plan


def gguf_file(plan: Plan, local: Path | None, *, download: bool = True) -> str:
    """The GGUF the plan chose, as a local file: the path the user gave, else the hub cache / a download. Without
    ``download`` (a dry run) nothing is fetched: a file not in the cache is named as where it would be."""
    if local is not None:
        return str(local.resolve())
    repo, filename = plan.weights.get("hf_repo"), plan.weights.get("gguf_file")
    if not (repo and filename):
        raise ModelConfigError(f"the plan's weights ({plan.weights.get('artifact')}) are not a GGUF file llama.cpp "
                               "can load", fix="pass the .gguf file itself as MODEL, or use --engine ollama")
    from deploykit.catalog.hub import cached_snapshot
    from deploykit.runtime import pull

    from deploykit.catalog.gguf import gguf_shards

    folder = cached_snapshot(repo, gguf_shards(filename))  # llama.cpp opens the first shard, finds the rest
    if folder is not None:
        return str(folder / filename)
    if not download:
        return f"<Hugging Face cache>/{repo}/{filename} (not downloaded yet: up downloads it first)"
    try:
        report = pull.pull(plan)
    except ModelConfigError as exc:
        raise ModelConfigError(f"{filename} from {repo} is not in the Hugging Face cache and cannot be fetched here "
                               f"({exc.message})",
                               fix="download it where the hub is reachable and pass the .gguf path as MODEL (or copy "
                                   "the HF cache; HF_HUB_OFFLINE=1 then finds it)") from exc
    return str(Path(report.folder) / filename)
