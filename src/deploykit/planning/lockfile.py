"""Plans as artifacts: a lock file holding the plan plus what it was made for (model revision, engine version and
image, hardware). ``differences`` tells a later command whether the environment still matches.

A lock file is input from outside: it is read with a size limit, a YAML loader that refuses aliases (no "billion
laughs"), and a strict schema (``LockFile``): known keys only, typed, ranged, no free-form nesting, and every value
that reaches an engine's argv shaped so that it can never become a flag."""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from deploykit import __version__, atomic, validation
from deploykit.errors import DeploykitError, OutputExistsError, PlanFileError
from deploykit.paths import data_dir
from deploykit.planning.types import Plan

LOCK_VERSION = 1
MAX_LOCK_BYTES = 1024 * 1024  # a real lock is a few KB
MAX_GPUS = 4096
MAX_TOKENS = 100_000_000


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases: a lock never needs them, and nested ones expand exponentially."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed in a plan lock",
                                              event.start_mark)
        return super().compose_node(parent, index)


def _check(fn):  # noqa: ANN001, ANN202 - a validator from one of deploykit.validation's checks
    def run(value):  # noqa: ANN001, ANN202
        if value is None:
            return value
        try:
            return fn(value)
        except DeploykitError as exc:
            raise ValueError(exc.message) from None
    return AfterValidator(run)


def _one_line(value: str) -> str:
    if validation.CONTROL.search(value):
        raise ValueError("control characters (newline, escape...) are not allowed here")
    return value


Text = Annotated[str, Field(max_length=4000), AfterValidator(_one_line)]
Line = Annotated[str, Field(max_length=256), _check(lambda v: validation.text("value", v))]
Slug = Annotated[str, _check(lambda v: validation.slug("name", v))]
ModelName = Annotated[str, _check(lambda v: validation.text("model name", v, max_len=200))]
RepoId = Annotated[str, _check(lambda v: validation.repo_id(v))]
Artifact = Annotated[str, _check(validation.artifact)]
OllamaTag = Annotated[str, _check(validation.ollama_tag)]
GgufFile = Annotated[str, _check(validation.gguf_file)]
Revision = Annotated[str, _check(validation.revision)]
Gib = Annotated[float, Field(ge=0, le=1_000_000)]
Count = Annotated[int, Field(ge=1, le=MAX_GPUS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class LockedModel(_Strict):
    name: ModelName = Field(..., description="catalog name of the model")
    hf_repo: RepoId = Field(..., description="the model's repository (local/<slug> for a directory)")
    revision: Revision | None = Field(None, description="branch, tag or commit")


class LockedHardware(_Strict):
    profile: Slug = Field(..., description="hardware profile name")
    gpus: Count = Field(1, description="devices per node")
    nodes: Count = Field(1, description="nodes")
    gpu_memory_gib: Gib = Field(..., gt=0, description="memory of one device")
    detected: bool = Field(False, description="read from the machine, not simulated")
    free_memory_gib: Gib | None = Field(None, description="detected free memory")
    kind: Literal["nvidia", "apple", "cpu"] | None = Field(None, description="kind of the profile")
    host_memory_gib: Gib | None = Field(None, description="RAM of one node the plan counted on")
    host_memory_source: Text | None = Field(None, description="where that figure came from")


class LockedWeights(_Strict):
    dtype: Slug = Field(..., description="weight format")
    artifact: Artifact | None = Field(None, description="checkpoint repo (or local path) the engine loads")
    size_gib: Gib = Field(0, description="weights size")
    online_quantization: bool = Field(False, description="vLLM quantizes at load time")
    ollama_tag: OllamaTag | None = Field(None, description="Ollama tag to pull")
    hf_repo: RepoId | None = Field(None, description="repository of the GGUF / checkpoint")
    gguf_file: GgufFile | None = Field(None, description="GGUF file inside hf_repo")


class LockedPerGPU(_Strict):
    weights_gib: Gib
    kv_cache_gib: Gib
    activation_gib: Gib
    overhead_gib: Gib
    budget_gib: Gib
    capacity_gib: Gib
    free_gib: Gib | None = None


class LockedMemory(_Strict):
    per_gpu: LockedPerGPU
    kv_bytes_per_token: float = Field(..., ge=0, le=1e12)
    kv_bytes_per_sequence_at_max_len: float = Field(..., ge=0, le=1e18)


class LockedEstimates(_Strict):
    decode_tokens_per_s: float = Field(..., ge=0, le=1e9)
    aggregate_tokens_per_s: float = Field(..., ge=0, le=1e12)
    planned_concurrency: int = Field(..., ge=0, le=MAX_TOKENS)
    time_to_load_s: float = Field(..., ge=0, le=1e7)
    ttft_s: float | None = Field(None, ge=0, le=1e7)
    assumptions: list[Text] = Field(default_factory=list, max_length=100)


class LockedAlternative(_Strict):
    change: Text
    weights: Slug
    gpus_used: Count
    nodes: Count = 1
    tensor_parallel_size: Count
    pipeline_parallel_size: Count
    max_model_len: int = Field(..., ge=0, le=MAX_TOKENS)
    kv_cache_dtype: Slug
    model: ModelName
    max_concurrency_at_max_len: float = Field(..., ge=0, le=1e9)
    gpu_layers: int | None = Field(None, ge=0, le=100_000)
    decode_tokens_per_s: float | None = Field(None, ge=0, le=1e9)


class LockedHostMemory(_Strict):
    needed_gib: Gib = Field(..., description="what llama.cpp/Ollama keep in host RAM")
    available_gib: Gib | None = Field(None, description="RAM of the node")
    source: Text | None = Field(None, description="where the RAM figure came from")


class LockedRopeScaling(_Strict):
    type: Literal["yarn"]
    factor: float = Field(..., gt=1, le=1024)
    original_max_position_embeddings: int = Field(..., ge=1, le=MAX_TOKENS)
    rope_theta: float = Field(..., gt=0, le=1e12)
    source: Text | None = None


class LockedWorkload(_Strict):
    context: int | None = Field(None, ge=1, le=MAX_TOKENS)
    concurrency: int | None = Field(None, ge=1, le=1_000_000)
    input_tokens: int = Field(1024, ge=1, le=MAX_TOKENS)
    output_tokens: int = Field(256, ge=1, le=MAX_TOKENS)


class LockedServing(_Strict):
    reasoning_parser: Slug | None = Field(None, description="vLLM --reasoning-parser")
    tool_call_parser: Slug | None = Field(None, description="vLLM --tool-call-parser")
    jinja: bool = Field(False, description="llama-server --jinja")
    hf_overrides: dict[Line, bool | Line | list[Line]] | None = Field(None, description="vLLM --hf-overrides")
    source: Text | None = None


class LockedLicense(_Strict):
    id: Line | None = None
    name: Text | None = None
    mau_limit: int | None = Field(None, ge=0)
    commercial_use: bool | None = None


class LockedPlan(_Strict):
    """The plan as a lock holds it: every field of deploykit's Plan, typed and ranged."""

    model: LockedModel
    hardware: LockedHardware
    engine: Literal["vllm", "ollama", "llamacpp"]
    weights: LockedWeights
    kv_cache_dtype: Slug
    tensor_parallel_size: Count = 1
    pipeline_parallel_size: Count = 1
    data_parallel_size: Count = 1
    expert_parallel: bool = False
    gpus_used: int = Field(1, ge=0, le=MAX_GPUS * MAX_GPUS)
    max_model_len: int = Field(0, ge=0, le=MAX_TOKENS)
    max_num_seqs: int = Field(1, ge=1, le=1_000_000)
    max_num_batched_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1)
    gpu_layers: int | None = Field(None, ge=0, le=100_000)
    total_layers: int | None = Field(None, ge=1, le=100_000)
    host_memory: LockedHostMemory | None = None
    rope_scaling: LockedRopeScaling | None = None
    workload: LockedWorkload = Field(default_factory=LockedWorkload)
    task: Literal["generate", "embed", "rerank"] = "generate"
    serving: LockedServing | None = None
    memory: LockedMemory | None = None
    kv_cache_tokens: int = Field(0, ge=0, le=10**13)
    max_concurrency_at_max_len: float = Field(0.0, ge=0, le=1e9)
    estimates: LockedEstimates | None = None
    fits: bool = False
    reasons: list[Text] = Field(default_factory=list, max_length=200)
    warnings: list[Text] = Field(default_factory=list, max_length=200)
    alternatives: list[LockedAlternative] = Field(default_factory=list, max_length=100)
    license: LockedLicense = Field(default_factory=LockedLicense)

    @model_validator(mode="after")
    def _consistent(self) -> LockedPlan:
        if self.fits and self.max_model_len < 1:
            raise ValueError("a plan that fits has max_model_len of at least 1")
        if self.gpu_layers is not None and self.total_layers is not None and self.gpu_layers > self.total_layers:
            raise ValueError(f"gpu_layers {self.gpu_layers} exceeds total_layers {self.total_layers}")
        return self


class LockedInputs(_Strict):
    model: Line | None = None
    profile: Slug | None = None
    gpus: Count | None = None
    nodes: Count | None = None
    context: int | None = Field(None, ge=1, le=MAX_TOKENS)
    concurrency: int | None = Field(None, ge=1, le=1_000_000)
    engine: Literal["vllm", "ollama", "llamacpp"] | None = None
    quant: Slug | None = None
    kv_cache_dtype: Slug | None = None


class LockedEngine(_Strict):
    name: Literal["vllm", "ollama", "llamacpp"]
    version: Line | None = None
    image: Line | None = None


class LockFile(_Strict):
    deploykit_lock: Literal[1] = Field(..., description="lock format version")
    created: Line | None = None
    deploykit_version: Line | None = None
    inputs: LockedInputs = Field(default_factory=LockedInputs)
    engine: LockedEngine
    plan: LockedPlan


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


def _read_text(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_LOCK_BYTES + 1)
    except OSError as exc:
        raise PlanFileError(f"cannot read plan file {path}: {exc.strerror or exc}",
                            fix="pass a file written by deploykit plan -o") from exc
    if len(raw) > MAX_LOCK_BYTES:
        raise PlanFileError(f"{path} is larger than {MAX_LOCK_BYTES // 1024} KiB: not a plan lock",
                            fix="pass a file written by deploykit plan -o (a few KB)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})",
                            fix="pass a file written by deploykit plan -o") from exc


def parse_lock(text: str, where: str = "the plan lock") -> tuple[dict, Plan]:
    """Parse and validate a lock's text: aliases refused, the strict schema applied, then deploykit's Plan."""
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PlanFileError(f"{where} is not valid YAML: {exc}", fix="pass a file written by deploykit plan -o") \
            from exc
    except RecursionError:
        raise PlanFileError(f"{where} nests too deeply to be a plan lock",
                            fix="pass a file written by deploykit plan -o") from None
    if not isinstance(data, dict) or data.get("deploykit_lock") != LOCK_VERSION:
        raise PlanFileError(f"{where} is not a deploykit plan lock (version {LOCK_VERSION})",
                            fix="re-create it with deploykit plan MODEL -o FILE")
    try:
        locked = LockFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}"
                             for e in exc.errors(include_url=False)[:5])
        more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
        raise PlanFileError(f"{where} does not match the lock schema: {problems}{more}",
                            fix="re-create it with deploykit plan MODEL -o FILE (edit only what the schema allows)") \
            from None
    except RecursionError:
        raise PlanFileError(f"{where} nests too deeply to be a plan lock",
                            fix="pass a file written by deploykit plan -o") from None
    clean = locked.model_dump(mode="json", exclude_unset=True)
    try:
        return clean, Plan.model_validate(clean["plan"])
    except ValidationError as exc:
        raise PlanFileError(f"{where}: the plan inside is invalid: {exc.errors(include_url=False)[0]['msg']}",
                            fix="re-create it with deploykit plan -o") from None


def read_lock(path: Path) -> tuple[dict, Plan]:
    return parse_lock(_read_text(Path(path)), str(path))


def machine_differences(lock: dict, hardware: dict) -> list[str]:
    """What differs between the machine the lock was made for and ``hardware`` (a plan's hardware dict for this
    machine), and between the lock's engine version and the one deploykit targets now."""
    locked = Plan.model_validate(lock["plan"])
    out = []
    engine = engine_versions()[locked.engine]
    if (lock.get("engine") or {}).get("version") != engine["version"]:
        out.append(f"engine {locked.engine}: locked {(lock.get('engine') or {}).get('version')}, deploykit now "
                   f"targets {engine['version']}")
    for key in ("profile", "gpus", "nodes"):
        if locked.hardware.get(key) != hardware.get(key):
            out.append(f"hardware {key}: locked {locked.hardware.get(key)}, here {hardware.get(key)}")
    if abs(locked.hardware["gpu_memory_gib"] - hardware["gpu_memory_gib"]) > 0.5:
        out.append(f"GPU memory: locked {locked.hardware['gpu_memory_gib']} GiB, here {hardware['gpu_memory_gib']} GiB")
    return out


def differences(lock: dict, current: Plan) -> list[str]:
    """What differs between the locked plan and a plan made now for the same inputs (engine versions included)."""
    locked = Plan.model_validate(lock["plan"])
    out = machine_differences(lock, current.hardware)
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
