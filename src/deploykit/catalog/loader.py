"""Loading and validating the shipped catalogs, lazily and once per process.

Validation errors name the file and the field (``model_catalog/llama-3.1.yaml: models.0.architecture.head_dim:
Input should be greater than 0``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from deploykit.catalog import cache
from deploykit.catalog.schema import HardwareProfile, License, ModelEntry, ModelFamily
from deploykit.errors import DataError, UnknownNameError
from deploykit.paths import data_dir
from deploykit.suggest import did_you_mean

T = TypeVar("T", bound=BaseModel)


class ModelSpec(ModelEntry):
    """One servable model: a catalog entry with its family's facts resolved, or one read from a config.json."""

    family: str
    origin: str
    origin_country: str
    license: License  # type: ignore[assignment]  # resolved: never None here
    provenance: str = "catalog"  # catalog | hf-config | local-dir

    def artifacts_for(self, fmt: str) -> list:
        return [a for a in self.artifacts if a.format == fmt]


def read_yaml(path: Path) -> object:
    import yaml  # only when a catalog is built from its files (the validated catalog is cached on disk)

    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML: {exc}", fix="fix the YAML syntax at the line shown") from exc


def validate_file(path: Path, model: type[T], data: object | None = None) -> T:
    from pydantic import ValidationError

    data = read_yaml(path) if data is None else data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors())
        raise DataError(f"{path.parent.name}/{path.name}: {problems}",
                        fix="correct the field(s) named above; each figure needs its source") from exc


@lru_cache(maxsize=1)
def load_families() -> tuple[ModelFamily, ...]:
    folder = data_dir("model_catalog")
    families = []
    for path in sorted(folder.glob("*.yaml")):
        family = validate_file(path, ModelFamily)
        if family.family != path.stem:
            raise DataError(f"model_catalog/{path.name}: family '{family.family}' differs from the file name",
                            fix=f"rename the file to {family.family}.yaml or fix the family field")
        families.append(family)
    if not families:
        raise DataError(f"no model catalog files in {folder}", fix="reinstall deploykit")
    return tuple(families)


@lru_cache(maxsize=1)
def load_models() -> dict[str, ModelSpec]:
    """Every catalog model by name (validated once, then read from the on-disk cache until a file changes)."""
    folder = data_dir("model_catalog")
    return cache.cached("models", sorted(folder.glob("*.yaml")), _build_models)


def _build_models() -> dict[str, ModelSpec]:
    models: dict[str, ModelSpec] = {}
    for family in load_families():
        for entry in family.models:
            if entry.name in models:
                raise DataError(f"model_catalog/{family.family}.yaml: model name '{entry.name}' is used twice",
                                fix="give each catalog model a unique name")
            fields = entry.model_dump(exclude={"license"})
            models[entry.name] = ModelSpec.model_validate({
                **fields, "family": family.family, "origin": family.origin,
                "origin_country": family.origin_country,
                "license": (entry.license or family.license).model_dump(),
            })
    return models


@lru_cache(maxsize=1)
def _model_index() -> dict[str, str]:
    """Every accepted spelling (name, alias, repo id, artifact repo id), lower-cased -> catalog name."""
    index: dict[str, str] = {}
    for spec in load_models().values():
        keys = [spec.name, spec.hf_repo, *spec.aliases]
        keys += [a.hf_repo for a in spec.artifacts if a.hf_repo]
        keys += [a.ollama_tag for a in spec.artifacts if a.ollama_tag]
        for key in keys:
            index.setdefault(key.lower(), spec.name)
    return index


def find_model(name: str) -> ModelSpec | None:
    """The catalog model for a name, alias or repo id (case-insensitive), or None."""
    key = _model_index().get(name.strip().lower())
    return load_models()[key] if key else None


def get_model(name: str) -> ModelSpec:
    spec = find_model(name)
    if spec is None:
        raise UnknownNameError("model", name, did_you_mean(name, load_models()), "deploykit models")
    return spec


@lru_cache(maxsize=1)
def load_profiles() -> dict[str, HardwareProfile]:
    """Every hardware profile (and memory-size variant) by name, cached on disk like load_models."""
    folder = data_dir("hardware_profiles")
    return cache.cached("profiles", sorted(folder.glob("*.yaml")), _build_profiles)


def _build_profiles() -> dict[str, HardwareProfile]:
    folder = data_dir("hardware_profiles")
    profiles: dict[str, HardwareProfile] = {}
    for path in sorted(folder.glob("*.yaml")):
        profile = validate_file(path, HardwareProfile)
        if profile.name != path.stem:
            raise DataError(f"hardware_profiles/{path.name}: name '{profile.name}' differs from the file name",
                            fix=f"rename the file to {profile.name}.yaml or fix the name field")
        for variant in expand_memory_variants(profile):
            if variant.name in profiles:
                raise DataError(f"hardware_profiles/{path.name}: profile '{variant.name}' defined twice",
                                fix="give each profile a unique name")
            profiles[variant.name] = variant
    if not profiles:
        raise DataError(f"no hardware profiles in {folder}", fix="reinstall deploykit")
    return profiles


def expand_memory_variants(profile: HardwareProfile) -> list[HardwareProfile]:
    """Apple chips (and the CPU profiles) are sold with several memory sizes: one profile per size,
    named ``<chip>-<N>gb``. The bare chip name stays, with the largest size."""
    if not profile.memory_options_gib:
        return [profile]
    variants = [profile.model_copy(update={"memory_gib": float(max(profile.memory_options_gib))})]
    for size in sorted(profile.memory_options_gib):
        update = {"name": f"{profile.name}-{size}gb", "display_name": f"{profile.display_name} {size} GB",
                  "memory_gib": float(size), "memory_options_gib": [], "variant_of": profile.name}
        if profile.kind == "apple":
            update["gpu_memory_share"] = apple_gpu_share(size, profile.gpu_memory_share)
        variants.append(profile.model_copy(update=update))
    return variants


# macOS lets Metal wire about 2/3 of unified memory on Macs with 36 GB or less and about 3/4 above (values of
# recommendedMaxWorkingSetSize printed by llama.cpp: 10922.67 MB on 16 GB, 49152 MiB on 64 GB; quotes in
# data/gguf_memory.yaml). The profile's own share is the large-memory figure.
APPLE_SMALL_MEMORY_GIB = 36


def apple_gpu_share(memory_gib: float, large_share: float | None) -> float:
    small = 2 / 3
    if memory_gib <= APPLE_SMALL_MEMORY_GIB:
        return min(small, large_share or small)
    return large_share or 0.75


def get_profile(name: str) -> HardwareProfile:
    profiles = load_profiles()
    key = name.strip().lower()
    if key in profiles:
        return profiles[key]
    raise UnknownNameError("hardware profile", name, did_you_mean(name, profiles), "deploykit profiles")
