"""MODEL on the command line -> ModelSpec: a catalog name, a Hugging Face repo id, or a local model directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deploykit.catalog import hub
from deploykit.catalog.loader import ModelSpec, find_model, load_models
from deploykit.errors import ModelConfigError, UnknownNameError
from deploykit.suggest import did_you_mean

SPDX_HINTS = {"apache-2.0": "Apache License 2.0", "mit": "MIT License"}


def resolve_model(name: str, revision: str = "main") -> ModelSpec:
    spec = find_model(name)
    if spec is not None:
        return spec
    path = Path(name).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        from deploykit.catalog.gguf import spec_from_gguf
        known = _catalog_for_gguf(path)
        return known if known is not None else spec_from_gguf(path)
    if path.is_dir():
        license_id = hub.local_license(path)
        license = None
        if license_id:
            license = {"id": license_id, "name": SPDX_HINTS.get(license_id, license_id),
                       "url": f"file://{(path / 'README.md').resolve()}"}
        return spec_from_config(with_modelopt_sidecar(hub.read_local_config(path), path), repo=str(path.resolve()),
                                source=str((path / "config.json").resolve()), provenance="local-dir",
                                license=license)
    if name.startswith(("/", "./", "../", "~")) or name in (".", "..") or path.exists():
        raise ModelConfigError(f"{name} is neither a model directory nor a .gguf file"
                               + ("" if path.exists() else " (it does not exist)"),
                               fix="pass a directory holding config.json (and *.safetensors), a .gguf file, a "
                                   "catalog name (deploykit models) or a Hugging Face repo id")
    if hub.REPO_ID.match(name):
        config, source = hub.fetch_hub_config(name, revision)
        return spec_from_config(config, repo=name, source=source, revision=revision)
    raise UnknownNameError("model", name, did_you_mean(name, load_models()), "deploykit models")


def spec_from_config(config: dict[str, Any], **kw: Any) -> ModelSpec:
    """hf_config's reader, imported when a model is not in the catalog (its validators cost ~40 ms to build)."""
    from deploykit.catalog.hf_config import spec_from_config as read

    return read(config, **kw)


def with_modelopt_sidecar(config: dict[str, Any], directory: Path) -> dict[str, Any]:
    """NVIDIA ModelOpt exports (nvidia/*-FP8, *-FP4) may describe their quantization only in hf_quant_config.json
    ({"producer": {"name": "modelopt"}, "quantization": {"quant_algo": "NVFP4", ...}}): fold it into the config."""
    sidecar = directory / "hf_quant_config.json"
    if config.get("quantization_config") or not sidecar.is_file():
        return config
    try:
        quant = json.loads(sidecar.read_text()).get("quantization")
    except (json.JSONDecodeError, AttributeError) as exc:
        raise ModelConfigError(f"{sidecar} is not a ModelOpt quantization file: {exc}",
                               fix="re-download the model") from exc
    if not isinstance(quant, dict):
        raise ModelConfigError(f"{sidecar} has no 'quantization' object", fix="re-download the model")
    return {**config, "quantization_config": {"quant_method": "modelopt", **quant}}


def _catalog_for_gguf(path: Path) -> ModelSpec | None:
    """The catalog model that publishes this GGUF file name (a file carried in by hand keeps its catalog facts)."""
    name = path.name.lower()
    for spec in load_models().values():
        if any(a.gguf_file and a.gguf_file.lower() == name for a in spec.artifacts):
            return spec
    return None
