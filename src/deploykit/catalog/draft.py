"""A catalog entry draft for a new model, from what its files say (scripts/catalog_draft.py writes it).

Derived: the architecture (config.json), the official weights' format and which layers it quantizes
(quantization_config, or a ModelOpt hf_quant_config.json), parameter counts computed from the architecture, the
download size (model.safetensors.index.json's total_size, the safetensors files, or the GGUF file). Not derivable, left
for a person: the card's parameter counts and their source, licence, origin, gating, uses. Those fields are written as
``TODO ...`` values that fail the catalog's own validation, so a draft cannot be merged before someone fills them in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deploykit.catalog.hf_config import read_quantization, spec_from_config
from deploykit.catalog.params import count_params
from deploykit.errors import ModelConfigError

TODO = "TODO (fill in from the model card)"


@dataclass
class Draft:
    family: dict[str, Any]
    derived: list[str] = field(default_factory=list)  # "what: value <- where from", for the header
    todo: list[str] = field(default_factory=list)  # fields a person must fill

    def to_yaml(self, origin: str) -> str:
        lines = [f"# DRAFT catalog entry for {origin}, written by scripts/catalog_draft.py.",
                 "# Derived from the model's own files (check each against the model card):"]
        lines += [f"#   {d}" for d in self.derived]
        lines += ["# Not derivable -- a person must fill these before the file can go into model_catalog/ (the loader",
                  "# rejects the TODO values; then tests/unit/test_catalog.py checks the card's counts against the",
                  "# architecture):"]
        lines += [f"#   {t}" for t in self.todo]
        return "\n".join(lines) + "\n" + yaml.safe_dump(self.family, sort_keys=False, width=118)


def safetensors_size(directory: Path) -> tuple[int | None, str | None]:
    """Bytes of the weights as stored: the index's metadata.total_size, else the .safetensors files' sizes."""
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        try:
            total = json.loads(index.read_text()).get("metadata", {}).get("total_size")
        except json.JSONDecodeError as exc:
            raise ModelConfigError(f"{index} is not valid JSON: {exc}", fix="re-download the model") from exc
        if isinstance(total, int) and total > 0:
            return total, f"{index.name} metadata.total_size"
    files = sorted(directory.glob("*.safetensors"))
    if files:
        return sum(f.stat().st_size for f in files), f"sum of {len(files)} .safetensors file(s)"
    return None, None


def draft_from_config(config: dict[str, Any], *, repo: str, source: str, size_bytes: int | None = None,
                      size_source: str | None = None, hub_repo: bool = False) -> Draft:
    """``hub_repo``: ``repo`` is a Hugging Face id (its config URL is the source); else a local name, and the
    repo id and the config.json URL are left for a person."""
    from deploykit.planning.memory import weight_bytes

    spec = spec_from_config(config, repo=repo, source=source)
    a = spec.architecture
    counted = count_params(a)
    quant = read_quantization(config)
    derived = [f"architecture: {a.num_layers} layers, hidden {a.hidden_size}, {a.num_attention_heads} heads / "
               f"{a.num_kv_heads} KV, head_dim {a.head_dim}, vocab {a.vocab_size}, attention {a.attention.kind}"
               + (f", MoE {a.moe.num_experts} experts x {a.moe.experts_per_token}" if a.moe else "")
               + f" <- {source}",
               f"params_total_b {counted.total / 1e9:.3f}, params_active_b {counted.active / 1e9:.3f} <- computed "
               "from the architecture (norms and biases left out)",
               f"native_dtype {spec.native_dtype}"
               + (f", quantized_layers {quant.scope}" if quant else "")
               + (f", group size {quant.group_size}" if quant and quant.group_size else "")
               + f" <- {quant.detail if quant else 'torch_dtype'}"]
    entry: dict[str, Any] = {
        "name": spec.name, "display_name": repo.split("/")[-1],
        "hf_repo": spec.hf_repo if hub_repo else "TODO: owner/name on the Hugging Face hub", "gated": False,
        "uses": ["chat"], "params_total_b": round(counted.total / 1e9, 3),
        "params_active_b": round(counted.active / 1e9, 3), "params_source": "TODO",
        "default_context": spec.default_context, "native_dtype": spec.native_dtype}
    if quant is not None and quant.scope != "linear":
        entry["quantized_layers"] = quant.scope
    if quant is not None and quant.group_size:
        entry["quant_group_size"] = quant.group_size
    entry["architecture"] = a.model_dump(mode="json", exclude_defaults=True)
    entry["architecture"]["source"] = source if hub_repo else f"TODO: the config.json URL on the hub (read from {source})"
    entry["artifacts"] = []
    estimate = weight_bytes(spec, spec.native_dtype).total if not spec.native_dtype.startswith("gguf") else None
    if size_bytes:
        derived.append(f"download size {size_bytes / 1e9:.1f} GB ({size_bytes * 8 / max(counted.total, 1):.2f} bits "
                       f"per counted parameter) <- {size_source}"
                       + (f"; deploykit sizes {spec.native_dtype} weights at {estimate / 1e9:.1f} GB" if estimate else ""))
    family = {
        "family": "TODO", "display_name": TODO, "origin": TODO, "origin_country": "TODO",
        "license_source": "TODO", "license": {"id": "TODO", "name": TODO, "url": "TODO", "commercial_use": False},
        "models": [entry]}
    todo = ["family (file stem, lower-case) and display_name", "origin, origin_country (ISO 3166 alpha-2)",
            "license: id, name, url, commercial_use, mau_limit, gotchas; license_source",
            "params_total_b / params_active_b: the model card's figures (the computed ones are placeholders), "
            "params_source (and params_active_excludes if the card's active count leaves out embeddings)",
            "gated (does the repo ask users to accept terms?), uses, aliases, default_context",
            "artifacts: official FP8 / AWQ / GGUF repos with their sources and sizes"]
    return Draft(family=family, derived=derived, todo=todo)


def draft_for(target: str, revision: str = "main") -> Draft:
    """Draft for a local model directory, a .gguf file or a Hugging Face repo id."""
    from deploykit.catalog import hub
    from deploykit.catalog.resolve import with_modelopt_sidecar

    path = Path(target).expanduser()
    if path.is_dir():
        config = with_modelopt_sidecar(hub.read_local_config(path), path)
        size, size_source = safetensors_size(path)
        return draft_from_config(config, repo=path.name, source=str((path / "config.json").resolve()),
                                 size_bytes=size, size_source=size_source)
    if path.is_file() and path.suffix.lower() == ".gguf":
        from deploykit.catalog.gguf import config_from_metadata, read_metadata
        config = config_from_metadata(read_metadata(path), path)
        draft = draft_from_config(config, repo=path.stem, source=f"{path} (GGUF metadata)",
                                  size_bytes=path.stat().st_size, size_source=f"{path.name} file size")
        draft.todo.append("native_dtype: the GGUF's source checkpoint format (the header only describes this file)")
        return draft
    if hub.REPO_ID.match(target):
        config, source = hub.fetch_hub_config(target, revision)
        sizes = [f.size for f in hub.list_repo_files(target, revision) if f.name.endswith(".safetensors") and f.size]
        return draft_from_config(config, repo=target, source=source, size_bytes=sum(sizes) or None,
                                 size_source=f"{len(sizes)} .safetensors files listed on the hub" if sizes else None,
                                 hub_repo=True)
    raise ModelConfigError(f"{target} is neither a model directory, a .gguf file nor a Hugging Face repo id",
                           fix="pass a directory holding config.json, a .gguf file, or owner/name")
