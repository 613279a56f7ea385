"""Plans as artifacts: a lock file holding the plan plus what it was made for (model revision, engine version and
image, hardware). ``differences`` tells a later command whether the environment still matches."""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from pathlib import Path

import yaml

from deploykit import __version__, atomic
from deploykit.errors import OutputExistsError, PlanFileError
from deploykit.paths import data_dir
from deploykit.planning.types import Plan

LOCK_VERSION = 1


@lru_cache(maxsize=1)
def engine_versions() -> dict:
    return yaml.safe_load((data_dir("data") / "engines.yaml").read_text())


def lock_data(plan: Plan, inputs: dict) -> dict:
    engine = engine_versions()[plan.engine]
    return {"deploykit_lock": LOCK_VERSION, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "deploykit_version": __version__, "inputs": inputs,
            "engine": {"name": plan.engine, "version": engine["version"], "image": engine["image"]},
            "plan": plan.model_dump(mode="json")}


def write_lock(path: Path, plan: Plan, inputs: dict, force: bool = False) -> None:
    """Atomic write: a temporary file in the same folder, renamed over the target. Refuses to overwrite."""
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists", fix="pass --force to overwrite it, or choose another -o path")
    atomic.write_text(path, yaml.safe_dump(lock_data(plan, inputs), sort_keys=False))


def read_lock(path: Path) -> tuple[dict, Plan]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PlanFileError(f"cannot read plan file {path}: {exc}", fix="pass a file written by deploykit plan -o") from exc
    if not isinstance(data, dict) or data.get("deploykit_lock") != LOCK_VERSION:
        raise PlanFileError(f"{path} is not a deploykit plan lock (version {LOCK_VERSION})",
                            fix="re-create it with deploykit plan MODEL -o FILE")
    try:
        return data, Plan.model_validate(data["plan"])
    except Exception as exc:
        raise PlanFileError(f"{path}: the plan inside is invalid: {exc}", fix="re-create it with deploykit plan -o")\
            from exc


def differences(lock: dict, current: Plan) -> list[str]:
    """What differs between the locked plan and a plan made now for the same inputs (engine versions included)."""
    locked = Plan.model_validate(lock["plan"])
    out = []
    engine = engine_versions()[locked.engine]
    if lock["engine"]["version"] != engine["version"]:
        out.append(f"engine {locked.engine}: locked {lock['engine']['version']}, deploykit now targets "
                   f"{engine['version']}")
    for key in ("profile", "gpus", "nodes"):
        if locked.hardware.get(key) != current.hardware.get(key):
            out.append(f"hardware {key}: locked {locked.hardware.get(key)}, here {current.hardware.get(key)}")
    if abs(locked.hardware["gpu_memory_gib"] - current.hardware["gpu_memory_gib"]) > 0.5:
        out.append(f"GPU memory: locked {locked.hardware['gpu_memory_gib']} GiB, here "
                   f"{current.hardware['gpu_memory_gib']} GiB")
    if locked.model.get("revision") != current.model.get("revision"):
        out.append(f"model revision: locked {locked.model.get('revision')}, now {current.model.get('revision')}")
    for key in ("engine", "tensor_parallel_size", "pipeline_parallel_size", "max_model_len", "kv_cache_dtype"):
        if getattr(locked, key) != getattr(current, key):
            out.append(f"{key}: locked {getattr(locked, key)}, planned here {getattr(current, key)}")
    if locked.weights.get("dtype") != current.weights.get("dtype"):
        out.append(f"weights: locked {locked.weights.get('dtype')}, planned here {current.weights.get('dtype')}")
    if not current.fits:
        out.append("the locked configuration does not fit this machine")
    return out
