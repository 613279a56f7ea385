"""Typed inputs and output of the planner. The Plan's JSON is the contract in shared/DESIGN.md."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from deploykit.catalog.schema import HardwareProfile

Engine = Literal["vllm", "ollama", "llamacpp"]


class Box(BaseModel):
    """The machine(s) to plan for: detected, or simulated from a profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: HardwareProfile
    gpus_per_node: int = Field(1, ge=1, description="accelerators per node (1 for Apple/CPU)")
    nodes: int = Field(1, ge=1, description="nodes joined by the network")
    memory_total_bytes: int = Field(..., gt=0, description="memory of one device (NVML total / unified / RAM)")
    memory_free_bytes: int | None = Field(None, ge=0, description="smallest free memory over the devices (detected)")
    nvlink_all: bool | None = Field(None, description="detected: every GPU pair is NVLink-connected")
    host_memory_bandwidth_gbps: float = Field(
        89.6, gt=0, description="host RAM bandwidth for layers llama.cpp leaves on the CPU "
        "(default: dual-channel DDR5-5600 as in the cpu-desktop profile)")
    host_memory_bytes: int | None = Field(
        None, gt=0, description="RAM of one node (unified memory on a Mac, counted once): where llama.cpp/Ollama "
        "keep the layers they cannot offload. None: unknown (partial offload is then never planned)")
    host_memory_source: str = Field("", description="where host_memory_bytes comes from (detected, profile, flag)")
    detected: bool = Field(False, description="read from this machine, not simulated")
    notes: list[str] = Field(default_factory=list, description="what the detection said about this box")

    @property
    def total_gpus(self) -> int:
        return self.gpus_per_node * self.nodes


class Workload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    context: int | None = Field(None, gt=0, description="tokens per request (prompt + output) to support")
    concurrency: int | None = Field(None, gt=0, description="requests in flight at full context to support")
    input_tokens: int = Field(1024, gt=0, description="prompt tokens of a typical request (estimates and cost)")
    output_tokens: int = Field(256, gt=0, description="generated tokens of a typical request (estimates and cost)")


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Engine | None = Field(None, description="force an engine (default: chosen by hardware)")
    quant: str = Field("auto", description="weight format: auto, or one of the catalog formats")
    kv_cache_dtype: str = Field("auto", description="auto (try 16-bit, then 8-bit), or a KV format to force")
    gpu_memory_utilization: float | None = Field(
        None, gt=0, le=0.98, description="vLLM budget share of each GPU (default 0.90, vLLM's own default)")
    use_all_gpus: bool = Field(
        False, description="the GPU count was asked for (--gpus): a plan leaving some idle is refused (exit 3) with "
        "the nearest count that is fully used")
    default_concurrency: int = Field(
        8, ge=1, description="when --concurrency is not given: full-length sequences the plan tries to hold "
        "(it settles for 1, vLLM's own start-up minimum, with a warning)")


class PerGPUMemory(BaseModel):
    weights_gib: float
    kv_cache_gib: float
    activation_gib: float
    overhead_gib: float = Field(..., description="non-torch (CUDA context, NCCL) + CUDA graphs / compute graph")
    budget_gib: float = Field(..., description="what the engine may use on one device")
    capacity_gib: float = Field(..., description="memory of one device")
    free_gib: float | None = Field(None, description="detected free memory before launch")


class Memory(BaseModel):
    per_gpu: PerGPUMemory
    kv_bytes_per_token: float = Field(..., description="KV bytes per token per GPU, all layers counted")
    kv_bytes_per_sequence_at_max_len: float


class Estimates(BaseModel):
    decode_tokens_per_s: float = Field(..., description="one sequence's decode speed (memory-bandwidth bound)")
    aggregate_tokens_per_s: float = Field(..., description="all replicas at the planned concurrency")
    ttft_s: float | None = Field(None, description="time to first token of a typical prompt on an idle replica")
    planned_concurrency: int
    time_to_load_s: float = Field(..., description="weights from local disk + engine start-up")
    assumptions: list[str] = Field(default_factory=list)


class Alternative(BaseModel):
    change: str = Field(..., description="what differs from the request")
    weights: str
    gpus_used: int
    nodes: int = 1
    tensor_parallel_size: int
    pipeline_parallel_size: int
    max_model_len: int
    kv_cache_dtype: str
    model: str
    max_concurrency_at_max_len: float
    gpu_layers: int | None = Field(None, description="llama.cpp/Ollama: layers on the GPU (None: all / vLLM)")
    decode_tokens_per_s: float | None = Field(None, description="one sequence's estimated decode speed")


class Plan(BaseModel):
    model: dict = Field(..., description="{name, hf_repo, revision}")
    hardware: dict = Field(..., description="{profile, gpus, nodes, gpu_memory_gib, detected}")
    engine: Engine
    weights: dict = Field(..., description="{dtype, artifact, size_gib}")
    kv_cache_dtype: str
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    data_parallel_size: int = 1
    expert_parallel: bool = False
    gpus_used: int = 1
    max_model_len: int = 0
    max_num_seqs: int = 1
    max_num_batched_tokens: int | None = None
    gpu_memory_utilization: float | None = None
    gpu_layers: int | None = Field(None, description="llama.cpp/Ollama: layers offloaded to the GPU")
    total_layers: int | None = None
    host_memory: dict | None = Field(
        None, description="llama.cpp/Ollama: {needed_gib, available_gib, source}: what lives in host RAM")
    rope_scaling: dict | None = Field(
        None, description="YaRN context extension the plan applies: {type, factor, original_max_position_embeddings}")
    workload: dict = Field(default_factory=dict, description="{context, concurrency, input_tokens, output_tokens}")
    task: Literal["generate", "embed", "rerank"] = Field(
        "generate", description="embed / rerank: a pooling model (vLLM --runner pooling, llama.cpp --embedding or "
        "--reranking, Ollama /api/embed): full context, batch capacity, no decode")
    serving: dict | None = Field(
        None, description="engine flags the model needs: {reasoning_parser, tool_call_parser, jinja, hf_overrides, source}")
    memory: Memory | None = None
    kv_cache_tokens: int = 0
    max_concurrency_at_max_len: float = 0.0
    estimates: Estimates | None = None
    fits: bool = False
    reasons: list[str] = Field(default_factory=list, description="why each number is what it is")
    warnings: list[str] = Field(default_factory=list)
    alternatives: list[Alternative] = Field(default_factory=list)
    license: dict = Field(default_factory=dict)
