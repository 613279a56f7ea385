"""Typed schemas for the two data catalogs: model_catalog/*.yaml and hardware_profiles/*.yaml.

Every figure in a data file carries its source: blocks that hold figures have a required ``source`` field
(a URL to the config.json, model card or vendor datasheet it was read from).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WeightFormat = Literal[
    "bf16", "fp16", "fp8", "int8", "awq-int4", "gptq-int4", "mxfp4",
    "gguf-f16", "gguf-q8_0", "gguf-q6_k", "gguf-q5_k_m", "gguf-q4_k_m", "gguf-q4_0", "gguf-q3_k_m", "gguf-q2_k",
    # llama.cpp file types added for the late-2026 ladder, and unsloth's dynamic (UD) mixes for large MoE models
    "gguf-bf16", "gguf-q4_k_s", "gguf-iq4_xs", "gguf-mxfp4_moe", "gguf-iq3_m", "gguf-iq3_xxs", "gguf-iq2_m",
    "gguf-iq2_xxs", "gguf-iq1_s", "gguf-ud-q4_k_xl", "gguf-ud-q3_k_xl", "gguf-ud-q2_k_xl", "gguf-ud-iq2_xxs", "gguf-ud-iq1_m", "gguf-ud-iq1_s",
]
KVFormat = Literal["bf16", "fp16", "fp8", "q8_0", "q4_0"]
# Formats an official safetensors checkpoint is published in (config.json torch_dtype / quantization_config).
NativeFormat = Literal["bf16", "fp16", "fp32", "fp8", "int8", "mxfp4", "nvfp4", "w4a16", "awq-int4", "gptq-int4",
                       "nf4", "bnb-int8"]
# Which layers a quantized checkpoint quantizes: every linear layer (embeddings and LM head stay 16-bit), or only the
# MoE experts (gpt-oss MXFP4, Kimi K2 Thinking INT4: attention, router, shared experts and dense layers stay BF16).
QuantScope = Literal["linear", "experts"]
# The quantized safetensors formats of data/weight_formats.yaml beyond the list above (issue 12); nested Literals
# flatten, so WeightFormat stays one flat set of names.
WeightFormat = Literal[WeightFormat, "nvfp4", "w4a16", "nf4", "bnb-int8"]  # type: ignore[misc,valid-type]
Use = Literal["chat", "code", "reasoning", "embeddings", "rerank", "vision"]
# Uses served by a pooling runner (no decode): embedding models and rerankers (query-document relevance scores).
POOLING_USES = frozenset({"embeddings", "rerank"})
NAME_RE = r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$"


class Strict(BaseModel):
    # defer_build: the validators are built when a file is first validated, not at import; a run that reads the
    # catalog from its on-disk cache (catalog/cache.py) never needs them.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# --------------------------------------------------------------------------------------------------- models
class Attention(Strict):
    kind: Literal["full", "sliding", "chunked", "mla", "dsa", "hybrid"] = Field(
        "full", description="full: every layer attends to the whole context; sliding: local layers keep a window; "
        "chunked: Llama 4 local layers keep one chunk; mla: DeepSeek multi-head latent attention; dsa: DeepSeek "
        "sparse attention (MLA plus a lightning indexer with its own key cache); hybrid: only attention_layers "
        "layers keep a KV cache, state_layers linear-attention / Mamba2 layers keep a fixed per-sequence state")
    window: int | None = Field(None, gt=0, description="sliding-window size (tokens) of the local layers")
    chunk: int | None = Field(None, gt=0, description="attention chunk size (tokens) of Llama 4's chunked layers")
    global_every: int | None = Field(
        None, ge=1, description="every Nth layer is a global (full-context) layer; the others are local. "
        "Gemma 3: 6 (5 local : 1 global); Llama 4: 4. None with sliding/chunked means all layers are local")
    kv_lora_rank: int | None = Field(None, gt=0, description="MLA compressed KV latent size per token per layer")
    qk_rope_head_dim: int | None = Field(None, gt=0, description="MLA decoupled RoPE key size per token per layer")
    qk_nope_head_dim: int | None = Field(None, gt=0, description="MLA per-head non-RoPE query/key size")
    v_head_dim: int | None = Field(None, gt=0, description="MLA per-head value size")
    q_lora_rank: int | None = Field(None, gt=0, description="MLA query low-rank size (None: no query compression)")
    index_head_dim: int | None = Field(None, gt=0, description="dsa: indexer key size per token per layer")
    index_n_heads: int | None = Field(None, gt=0, description="dsa: indexer query heads (weights only, no cache)")
    index_topk: int | None = Field(None, gt=0, description="dsa: tokens each query attends to (compute, not cache)")
    attention_layers: int | None = Field(
        None, ge=0, description="hybrid: layers with full attention (and a KV cache)")
    state_layers: int | None = Field(
        None, ge=0, description="hybrid: Gated DeltaNet / Mamba2 layers holding a fixed per-sequence state")
    state_kind: Literal["gated-deltanet", "mamba2"] | None = Field(
        None, description="hybrid: the recurrent layer type (Qwen3-Next: gated-deltanet; Nemotron-H, Granite 4, "
        "Jamba-style: mamba2)")
    state_heads: int | None = Field(
        None, gt=0, description="hybrid: value heads (linear_num_value_heads) or Mamba heads (mamba_num_heads)")
    state_key_heads: int | None = Field(
        None, gt=0, description="hybrid: key heads (linear_num_key_heads) or Mamba groups (n_groups)")
    state_key_dim: int | None = Field(
        None, gt=0, description="hybrid: key head size (linear_key_head_dim) or SSM state size (ssm_state_size)")
    state_value_dim: int | None = Field(
        None, gt=0, description="hybrid: value head size (linear_value_head_dim) or Mamba head size (mamba_head_dim)")
    conv_kernel: int | None = Field(
        None, gt=1, description="hybrid: causal conv width (linear_conv_kernel_dim / conv_kernel)")
    state_dtype_bytes: float | None = Field(
        None, gt=0, description="hybrid: bytes per recurrent (SSM) state element when the config pins it "
        "(mamba_ssm_cache_dtype float32: 4); None: the model dtype (2). The conv state is always the model dtype")

    @model_validator(mode="after")
    def _consistent(self) -> Attention:
        if self.kind == "sliding" and not self.window:
            raise ValueError("attention.kind 'sliding' needs attention.window")
        if self.kind == "chunked" and not self.chunk:
            raise ValueError("attention.kind 'chunked' needs attention.chunk")
        if self.kind in ("mla", "dsa") and not (self.kv_lora_rank and self.qk_rope_head_dim):
            raise ValueError(f"attention.kind '{self.kind}' needs kv_lora_rank and qk_rope_head_dim")
        if self.kind == "dsa" and not self.index_head_dim:
            raise ValueError("attention.kind 'dsa' needs index_head_dim")
        if self.kind == "hybrid":
            needed = ("attention_layers", "state_layers", "state_kind", "state_heads", "state_key_heads",
                      "state_key_dim", "state_value_dim", "conv_kernel")
            missing = [f for f in needed if getattr(self, f) is None]
            if missing:
                raise ValueError(f"attention.kind 'hybrid' needs {', '.join(missing)}")
        return self


class MoE(Strict):
    num_experts: int = Field(..., ge=2, description="routed experts per MoE layer")
    experts_per_token: int = Field(..., ge=1, description="routed experts active per token")
    shared_experts: int = Field(0, ge=0, description="always-active shared experts per MoE layer")
    expert_intermediate_size: int = Field(..., gt=0, description="FFN inner size of one expert")
    shared_intermediate_size: int | None = Field(
        None, gt=0, description="FFN inner size of one shared expert (default: expert_intermediate_size)")
    moe_layers: int = Field(..., ge=1, description="how many decoder layers are MoE (the rest are dense)")

    @model_validator(mode="after")
    def _consistent(self) -> MoE:
        if self.experts_per_token > self.num_experts:
            raise ValueError("moe.experts_per_token exceeds moe.num_experts")
        return self


class Architecture(Strict):
    """Figures read from the model's config.json."""

    num_layers: int = Field(..., gt=0, description="decoder layers (num_hidden_layers)")
    hidden_size: int = Field(..., gt=0, description="model width (hidden_size)")
    intermediate_size: int = Field(..., gt=0, description="dense FFN inner size (intermediate_size)")
    num_attention_heads: int = Field(..., gt=0, description="query heads (num_attention_heads)")
    num_kv_heads: int = Field(..., gt=0, description="key/value heads (num_key_value_heads); = heads without GQA")
    head_dim: int = Field(..., gt=0, description="per-head size (head_dim, else hidden_size / heads)")
    vocab_size: int = Field(..., gt=0, description="vocabulary size")
    max_context: int = Field(..., gt=0, description="maximum context (max_position_embeddings or the card's figure)")
    tie_word_embeddings: bool = Field(False, description="input embedding shared with the LM head")
    attention: Attention = Field(default_factory=Attention, description="attention kind and its parameters")
    moe: MoE | None = Field(None, description="mixture-of-experts layout; None for dense models")
    ffn_gated: bool = Field(True, description="gated FFN (SwiGLU/GeGLU, 3 matrices) or plain (2 matrices)")
    ffn_layers: int | None = Field(
        None, ge=0, description="layers carrying a dense FFN when not every non-MoE layer does (Nemotron-H: only its "
        "'-' layers; its Mamba and attention layers have none); None: num_layers - moe.moe_layers")
    source: str = Field(..., min_length=8, description="where these figures come from (config.json URL)")

    @model_validator(mode="after")
    def _consistent(self) -> Architecture:
        if self.num_attention_heads % self.num_kv_heads:
            raise ValueError(f"num_attention_heads {self.num_attention_heads} is not a multiple of "
                             f"num_kv_heads {self.num_kv_heads}")
        if self.moe and self.moe.moe_layers > self.num_layers:
            raise ValueError("moe.moe_layers exceeds num_layers")
        return self


class Artifact(Strict):
    """A published weight artifact: the official checkpoint, an FP8/AWQ/GPTQ repo, or a GGUF / Ollama tag."""

    format: WeightFormat = Field(..., description="weight format of this artifact")
    hf_repo: str | None = Field(None, description="Hugging Face repo id holding it")
    gguf_file: str | None = Field(
        None, description="file name inside hf_repo for GGUF artifacts; for a split GGUF the first shard "
        "(NAME-00001-of-0000N.gguf, llama.cpp's gguf-split naming), which llama.cpp loads and finds the rest beside")
    gguf_parts: int | None = Field(
        None, ge=2, description="shard count of a split GGUF (the N of -00001-of-0000N); None for a single file")
    ollama_tag: str | None = Field(None, description="Ollama library tag serving it (e.g. llama3.1:8b)")
    size_gb: float | None = Field(None, gt=0, description="download size in GB (10^9 bytes) as published")
    official: bool = Field(False, description="published by the model's own authors")
    block_size: int | None = Field(
        None, gt=0, description="block-quantized FP8 checkpoints: weight block edge (weight_block_size, e.g. 128)")
    quantized_layers: QuantScope | None = Field(
        None, description="which layers it quantizes (None: the format's usual scope, data/weight_formats.yaml)")
    group_size: int | None = Field(
        None, gt=0, description="values per scale when it differs from the format's usual group (config.json)")
    source: str = Field(..., min_length=8, description="page that shows this artifact and its size")

    @model_validator(mode="after")
    def _where(self) -> Artifact:
        if not (self.hf_repo or self.ollama_tag):
            raise ValueError("an artifact needs hf_repo or ollama_tag")
        split = re.search(r"-00001-of-(\d{5})\.gguf$", self.gguf_file or "")
        if self.gguf_parts and (not split or int(split.group(1)) != self.gguf_parts):
            raise ValueError(f"gguf_parts {self.gguf_parts}: gguf_file must be the first shard "
                             f"NAME-00001-of-{self.gguf_parts:05d}.gguf")
        if split and not self.gguf_parts:
            raise ValueError(f"{self.gguf_file} is the first shard of a split GGUF: set gguf_parts")
        return self


class RopeScaling(Strict):
    """A context extension the model's publisher documents (the user adds it at serving time)."""

    type: Literal["yarn"] = Field("yarn", description="rope scaling method")
    factor: float = Field(..., gt=1, description="scaling factor the publisher gives (e.g. 4.0)")
    original_max_position_embeddings: int = Field(..., gt=0, description="native context the factor multiplies")
    rope_theta: float = Field(..., gt=0, description="the config's rope_theta (vLLM's rope_parameters override "
                              "replaces the whole dict, so the base frequency must be restated)")
    source: str = Field(..., min_length=8, description="model card section that documents it")
    quality_note: str = Field("", description="the publisher's caveat (static YaRN can hurt short texts)")

    @property
    def max_context(self) -> int:
        return int(self.original_max_position_embeddings * self.factor)


class Serving(Strict):
    """Engine flags a model needs to serve its documented features (catalog facts with their source)."""

    reasoning_parser: str | None = Field(None, pattern=r"^[a-z0-9_\-]+$",
                                         description="vLLM --reasoning-parser for reasoning models")
    tool_call_parser: str | None = Field(None, pattern=r"^[a-z0-9_\-]+$",
                                         description="vLLM --tool-call-parser (with --enable-auto-tool-choice)")
    hf_overrides: dict[str, bool | str | list[str]] | None = Field(
        None, description="vLLM --hf-overrides the checkpoint needs (e.g. the original Qwen3-Reranker, a causal LM, "
        "loaded as a sequence classifier over its 'no'/'yes' logits)")
    source: str = Field(..., min_length=8, description="vLLM recipe / model card that gives these flags")


class License(Strict):
    id: str = Field(..., description="SPDX id, or the licence's own short name (llama3.1, gemma, qwen)")
    name: str = Field(..., description="full licence name")
    url: str = Field(..., min_length=8, description="licence text")
    commercial_use: bool = Field(True, description="commercial use allowed")
    mau_limit: int | None = Field(None, gt=0, description="monthly active users above which a separate licence is needed")
    gotchas: list[str] = Field(default_factory=list, description="terms a platform team must know")


class ModelEntry(Strict):
    name: str = Field(..., pattern=NAME_RE, description="catalog name used on the command line")
    display_name: str = Field(..., description="human name")
    hf_repo: str = Field(..., pattern=r"^[\w.\-]+/[\w.\-]+$", description="canonical Hugging Face repo id")
    revision: str = Field("main", description="repo revision the figures were read at")
    aliases: list[str] = Field(default_factory=list, description="other accepted names (other repo ids included)")
    gated: bool = Field(False, description="the repo asks users to accept terms before download")
    uses: list[Use] = Field(default_factory=lambda: ["chat"], description="what it is for")
    params_total_b: float = Field(..., gt=0, description="total parameters, billions (model card)")
    params_active_b: float = Field(..., gt=0, description="parameters active per token, billions (= total if dense)")
    vision_params_b: float = Field(0.0, ge=0, description="parameters of a vision encoder not in the text config")
    params_source: str = Field(..., min_length=8, description="where the parameter counts come from")
    params_active_excludes: Literal["none", "input-embedding", "embeddings"] = Field(
        "none", description="what the card's active count leaves out: gpt-oss's omits the input embedding (a lookup), "
        "Qwen3-Next's both embedding matrices")
    default_context: int | None = Field(
        None, gt=0, description="a sensible working context when the user asks for none (card's recommendation)")
    native_dtype: NativeFormat = Field(
        "bf16", description="format of the official weights (torch_dtype, or the quantization_config's format)")
    quantized_layers: QuantScope | None = Field(
        None, description="quantized official weights: which layers are quantized (None: the format's usual scope)")
    quant_group_size: int | None = Field(
        None, gt=0, description="quantized official weights: values per scale, when not the format's usual group")
    architecture: Architecture
    artifacts: list[Artifact] = Field(default_factory=list, description="published artifacts beyond the main repo")
    license: License | None = Field(None, description="overrides the family licence")
    rope_scaling: RopeScaling | None = Field(None, description="documented YaRN extension beyond max_context")
    serving: Serving | None = Field(None, description="engine flags for reasoning / tool calling")

    @model_validator(mode="after")
    def _consistent(self) -> ModelEntry:
        if self.rope_scaling and self.rope_scaling.max_context <= self.architecture.max_context:
            raise ValueError("rope_scaling must extend the context beyond architecture.max_context")
        if self.params_active_b > self.params_total_b * 1.0001:
            raise ValueError("params_active_b exceeds params_total_b")
        if self.default_context and self.default_context > self.architecture.max_context:
            raise ValueError("default_context exceeds architecture.max_context")
        return self


class ModelFamily(Strict):
    family: str = Field(..., pattern=NAME_RE, description="family id (file stem)")
    display_name: str
    origin: str = Field(..., description="organisation that trained it")
    origin_country: str = Field(..., min_length=2, max_length=2, description="ISO 3166 country code of the origin")
    license: License
    license_source: str = Field(..., min_length=8, description="where the licence terms were read")
    models: list[ModelEntry] = Field(..., min_length=1)


# ------------------------------------------------------------------------------------------------ hardware
class Price(Strict):
    usd_per_hour: float = Field(..., gt=0, description="typical on-demand price per device-hour, USD")
    as_of: str = Field(..., pattern=r"^\d{4}-\d{2}(-\d{2})?$", description="when the price was read (YYYY-MM[-DD])")
    source: str = Field(..., min_length=8, description="price page it was read from")


class Interconnect(Strict):
    kind: Literal["nvlink", "pcie", "unified", "none"] = Field(..., description="how devices talk to each other")
    gpu_to_gpu_gbps: float = Field(..., ge=0, description="per-device bidirectional bandwidth to peers, GB/s")
    max_devices_per_node: int = Field(1, ge=1, description="devices one node of this kind typically holds")
    nvlink_domain: int = Field(1, ge=1, description="devices sharing one NVLink domain (1 for PCIe)")
    source: str = Field(..., min_length=8)


class HardwareProfile(Strict):
    name: str = Field(..., pattern=NAME_RE, description="profile name used with --profile")
    display_name: str
    kind: Literal["nvidia", "apple", "cpu"] = Field(..., description="device family")
    segment: Literal["datacenter", "workstation", "desktop", "laptop", "server"] = Field(
        ..., description="where the device sits; drives the default engine")
    memory_gib: float = Field(..., gt=0, description="device memory usable by the engine, GiB (NVML total for GPUs)")
    memory_bandwidth_gbps: float = Field(..., gt=0, description="peak memory bandwidth, GB/s")
    bf16_tflops: float | None = Field(None, gt=0, description="dense BF16 tensor throughput, TFLOPS (no sparsity)")
    fp8_tflops: float | None = Field(None, gt=0, description="dense FP8 tensor throughput, TFLOPS (None: no FP8 units)")
    int8_tops: float | None = Field(None, gt=0, description="dense INT8 tensor throughput, TOPS")
    fp4_tflops: float | None = Field(
        None, gt=0, description="dense FP4 (NVFP4/MXFP4) tensor throughput, TFLOPS (None: no FP4 units)")
    memory_from_host: bool = Field(
        False, description="unified-memory GPU whose NVML reports no framebuffer (DGX Spark / GB10): detection takes "
        "the memory from the host")
    host_memory_gib: float | None = Field(
        None, gt=0, description="typical host RAM of a machine of this class, GiB")
    host_memory_source: str | None = Field(None, description="where host_memory_gib comes from")
    compute_capability: str | None = Field(None, pattern=r"^\d+\.\d+$", description="CUDA compute capability")
    weight_formats: list[WeightFormat] = Field(..., min_length=1, description="weight formats the engines run here")
    kv_formats: list[KVFormat] = Field(..., min_length=1, description="KV-cache formats the engines run here")
    fp8_mode: Literal["native", "weight-only", "none"] = Field(
        "none", description="native: FP8 compute (CC >= 8.9); weight-only: FP8 weights dequantised (Ampere, no MoE)")
    interconnect: Interconnect
    price: Price | None = Field(None, description="typical hourly price, where one is published")
    nvml_names: list[str] = Field(default_factory=list, description="regexes matching NVML device names")
    gpu_memory_share: float | None = Field(
        None, gt=0, le=1, description="Apple: share of unified memory the GPU may wire (recommendedMaxWorkingSetSize)")
    memory_options_gib: list[int] = Field(
        default_factory=list, description="Apple/CPU: the unified-memory sizes sold; a profile variant exists for each")
    variant_of: str | None = Field(None, description="set on the per-memory-size variants the loader generates")
    host_memory_gib: float | None = Field(
        None, gt=0, description="NVIDIA: typical host RAM (GiB) of one machine holding these GPUs, where llama.cpp/"
        "Ollama keep layers they cannot offload; None for Apple/CPU profiles, whose memory_gib is that memory")
    host_memory_source: str | None = Field(
        None, min_length=8, description="where host_memory_gib comes from (instance or system spec page)")
    source: str = Field(..., min_length=8, description="datasheet the memory, bandwidth and throughput come from")
    notes: list[str] = Field(default_factory=list)

    @field_validator("nvml_names")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for pattern in v:
            re.compile(pattern)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> HardwareProfile:
        if self.kind == "nvidia":
            if not self.compute_capability or not self.nvml_names:
                raise ValueError("an nvidia profile needs compute_capability and nvml_names")
            cc = float(self.compute_capability)
            if self.fp8_mode == "native" and cc < 8.9:
                raise ValueError("native FP8 needs compute capability 8.9 or newer")
        if self.kind == "apple" and self.gpu_memory_share is None:
            raise ValueError("an apple profile needs gpu_memory_share")
        if self.kind != "nvidia" and self.host_memory_gib is not None:
            raise ValueError("host_memory_gib is for NVIDIA profiles; an Apple/CPU profile's memory_gib is its host "
                             "memory")
        if (self.host_memory_gib is None) != (self.host_memory_source is None):
            raise ValueError("host_memory_gib and host_memory_source go together")
        if "fp8" in self.weight_formats and self.fp8_mode == "none":
            raise ValueError("fp8 listed in weight_formats but fp8_mode is 'none'")
        return self

    @property
    def cc(self) -> tuple[int, int] | None:
        if not self.compute_capability:
            return None
        major, minor = self.compute_capability.split(".")
        return int(major), int(minor)
