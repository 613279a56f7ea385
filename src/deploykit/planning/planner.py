"""The planner: the best feasible serving configuration for a model on a box, with every number explained.

Pure: ModelSpec + Box + Workload + Policy in, Plan out. No I/O.

Search order (first feasible wins, so earlier means preferred):
  context tier  -> the requested context (or the working default); without an explicit request, then the
                   largest context that fits (never below MIN_CONTEXT)
  weight format -> best quality first (bf16, fp8, int8, int4 / GGUF f16 ... q2_k)
  concurrency   -> the requested concurrency; without one, DEFAULT first, then a single sequence
  KV format     -> 16-bit first, then 8-bit (FP8 KV when it is what buys the context)
  layout        -> fewest GPUs first; TP inside a node / NVLink domain, PP across nodes
Left-over GPUs become data-parallel replicas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from deploykit.catalog.loader import ModelSpec
from deploykit.planning import estimates, memory
from deploykit.planning.memory import GIB
from deploykit.planning.policy import (
    FORMAT_QUALITY,
    WeightChoice,
    default_engine,
    engine_warning,
    kv_choices,
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
    return c


def gguf_budget(box: Box) -> float:
    """Bytes llama.cpp/Ollama may put on the accelerator(s) of one node (all of RAM on a CPU box)."""
    p = box.profile
    if p.kind == "apple":
        return box.memory_total_bytes * p.gpu_memory_share
    if p.kind == "cpu":
        # Leave 10% of RAM (at least 2 GiB) to the OS and everything else.
        usable = box.memory_free_bytes if box.memory_free_bytes is not None else box.memory_total_bytes
        return usable - max(0.1 * box.memory_total_bytes, 2 * GIB)
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
    on_cpu_only = box.profile.kind == "cpu"
    if on_cpu_only or need <= budget:
        layers = 0 if on_cpu_only else a.num_layers
        fits = need <= budget
    else:  # partial offload: whole layers (weights + their KV) go to the GPU while they fit
        per_layer = (w.layers + kv_total) / a.num_layers
        room = budget - graph - w.lm_head  # the input embedding stays on the CPU (llama.cpp)
        layers = max(0, min(a.num_layers - 1, int(room // per_layer)))  # the whole did not fit
        fits = layers > 0
    capacity = box.memory_total_bytes * (box.gpus_per_node if box.profile.kind == "nvidia" else 1)
    per_gpu = PerGPUMemory(
        weights_gib=w.total / GIB, kv_cache_gib=kv_total / GIB, activation_gib=graph / GIB,
        overhead_gib=(memory.GGML_GPU_OVERHEAD_GIB if box.profile.kind == "nvidia" else 0.0),
        budget_gib=budget / GIB, capacity_gib=capacity / GIB,
        free_gib=box.memory_free_bytes / GIB if box.memory_free_bytes is not None else None)
    concurrency = parallel if fits else 0.0
    return Candidate(choice, kv, 1, 1, context, concurrency, per_gpu,
                     memory.full_kv_bytes_per_token(a, kv_format=kv), per_seq, gpu_layers=layers)


# ----------------------------------------------------------------------------------------------------- search
def _layout_tier(tp: int, pp: int, gpus_per_node: int) -> int:
    """0: tensor parallel inside one node; 1: pipeline stages inside one node; 2: across nodes."""
    if tp * pp > gpus_per_node:
        return 2
    return 0 if pp == 1 else 1


def _vllm_search(spec: ModelSpec, box: Box, choices: list[WeightChoice], kvs: list[str], contexts: list[int],
                 targets: list[int], util: float, shrink: bool, log: list[str], tight: bool = False
                 ) -> Candidate | None:
    layouts_for = {}
    for choice in choices:
        layouts, rejected = parallel_layouts(spec, box, choice)
        layouts_for[choice] = layouts
        log.extend(r for r in rejected if r not in log)
    # A simpler layout tier wins over a better format in a harder one: TP inside a node beats pipeline stages
    # inside it, which beat spanning nodes.
    for tier in (0, 1, 2):
        for context in contexts:
            for choice in choices:
                for target in targets:
                    for kv in kvs:
                        for tp, pp in layouts_for[choice]:
                            if _layout_tier(tp, pp, box.gpus_per_node) != tier:
                                continue
                            c = evaluate_vllm(spec, box, choice, kv, tp, pp, context, util, tight)
                            if c.concurrency >= target:
                                return c
    if not shrink:
        return None
    for choice in choices:  # largest context that fits one sequence, best format first
        for kv in kvs:
            for tp, pp in layouts_for[choice]:
                best = _largest_context(
                    lambda ctx: evaluate_vllm(spec, box, choice, kv, tp, pp, ctx, util, tight),
                    MIN_CONTEXT, contexts[0], need=targets[-1])
                if best is not None:
                    return best
    return None


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


def _gguf_search(spec: ModelSpec, box: Box, choices: list[WeightChoice], kvs: list[str], contexts: list[int],
                 targets: list[int], engine: Engine, shrink: bool) -> Candidate | None:
    partial: Candidate | None = None
    for context in contexts:
        for choice in choices:
            for target in targets:
                for kv in kvs:
                    c = evaluate_gguf(spec, box, choice, kv, context, target, engine)
                    whole = box.profile.kind == "cpu" or c.gpu_layers == spec.architecture.num_layers
                    if c.concurrency >= 1 and whole:
                        return c
                    if c.concurrency >= 1 and partial is None:
                        partial = c  # the best partly offloaded plan, if nothing fits whole
    if shrink and partial is None:
        for choice in choices:
            for kv in kvs:
                best = _largest_context(
                    lambda ctx: evaluate_gguf(spec, box, choice, kv, ctx, targets[-1], engine),
                    MIN_CONTEXT, contexts[0], need=targets[-1])
                if best is not None:
                    return best
    return partial


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
    gguf = engine in ("ollama", "llamacpp")

    a = spec.architecture
    if workload.context:
        context = workload.context
        if context > a.max_context:
            warnings.append(f"requested context {context:,} exceeds the model's maximum {a.max_context:,}; "
                            f"planning for {a.max_context:,}")
            context = a.max_context
        reasons.append(f"max_model_len {context:,}: requested")
    else:
        default = spec.default_context or min(a.max_context, 32768)
        context = min(default, GGUF_DEFAULT_CONTEXT) if gguf else default
        context = min(context, a.max_context)
        reasons.append(f"max_model_len {context:,}: the working default for this model (its maximum is "
                       f"{a.max_context:,}; a longer context costs KV memory on every request)")
    if workload.concurrency:
        targets = [workload.concurrency]
    else:
        soft = min(policy.default_concurrency, 4) if gguf else policy.default_concurrency
        targets = sorted({soft, 1}, reverse=True)

    choices, skipped = weight_choices(spec, profile, engine, policy.quant)
    kvs = kv_choices(engine, profile, policy.kv_cache_dtype)
    base = Plan(model={"name": spec.name, "hf_repo": spec.hf_repo, "revision": spec.revision},
                hardware=_hardware(box), engine=engine, weights={"dtype": policy.quant, "artifact": None},
                kv_cache_dtype=policy.kv_cache_dtype, license=_license(spec))
    if not kvs:
        base.reasons = [f"KV-cache format '{policy.kv_cache_dtype}' is not available for {engine} on "
                        f"{profile.display_name}"]
        return _not_fitting(base, spec, box, workload, policy, with_alternatives)
    log: list[str] = []
    util = _utilization(box, policy, warnings) if engine == "vllm" and profile.kind == "nvidia" else 0.9
    shrink = workload.context is None
    if gguf:
        best = _gguf_search(spec, box, choices, kvs, [context], targets, engine, shrink)
    else:
        best = _vllm_search(spec, box, choices, kvs, [context], targets, util, shrink, log)
        if best is None and policy.gpu_memory_utilization is None and util >= VLLM_DEFAULT_UTILIZATION:
            best = _vllm_search(spec, box, choices, kvs, [context], targets[-1:], TIGHT_UTILIZATION, shrink, log,
                                tight=True)
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
                        + [f"skipped {s}" for s in skipped] + log)
        base.warnings = warnings
        return _not_fitting(base, spec, box, workload, policy, with_alternatives)
    return _finish(spec, box, workload, engine, best, context, util, reasons, warnings, skipped, log, targets)


def _finish(spec: ModelSpec, box: Box, workload: Workload, engine: Engine, best: Candidate, target_context: int,
            util: float, reasons: list[str], warnings: list[str], skipped: list[str], log: list[str],
            targets: list[int]) -> Plan:
    a = spec.architecture
    profile = box.profile
    gguf = engine in ("ollama", "llamacpp")
    choice = best.choice
    if best.context < target_context:
        warnings.append(f"the working context {target_context:,} does not fit: max_model_len lowered to "
                        f"{best.context:,}, the largest that fits")
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
        fmt_reason += f" from {choice.repo}"
    w = memory.weight_bytes(spec, choice.fmt, choice.published_size_gb)
    fmt_reason += (f": {w.total / GIB:.1f} GiB in all ({spec.params_total_b:g}B parameters at "
                   f"{memory.weight_format_bits(choice.fmt):.3g} bits"
                   + (", embeddings 16-bit" if choice.fmt in memory.LINEAR_BYTES and choice.fmt != "bf16" else "")
                   + ")")
    reasons.append(fmt_reason)
    higher = _ladder_above(choice.fmt, engine)
    if higher:
        reasons.append(f"better formats did not fit or are unavailable here: {', '.join(higher)}")
    reasons.extend(f"skipped {s}" for s in skipped)
    kv_name = _kv_name(best.kv, engine)
    if best.kv in ("fp8", "q8_0", "q4_0"):
        reasons.append(f"KV cache {kv_name}: a 16-bit cache does not hold the requested context and concurrency")
    else:
        reasons.append(f"KV cache {kv_name}: 16-bit, the engine's default")
    if not gguf:
        reasons.append(
            f"tensor_parallel_size {best.tp}, pipeline_parallel_size {best.pp}: the fewest GPUs that hold the "
            f"weights with room for the KV cache ({best.per_gpu.weights_gib:.1f} GiB of weights per GPU)")
        reasons.extend(f"rejected {r}" for r in log)
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
        max_num_seqs = workload.concurrency or min(best.max_num_seqs or 256,
                                                   max(1, int(best.concurrency * best.context // 1024)))
        per_seq = best.kv_per_seq
        reasons.append(
            f"KV cache: {best.per_gpu.kv_cache_gib:.1f} GiB per GPU = budget {best.per_gpu.budget_gib:.1f} "
            f"({util:.2f} x {best.per_gpu.capacity_gib:.1f}) - weights {best.per_gpu.weights_gib:.1f} - "
            f"activations {best.per_gpu.activation_gib:.2f} - overhead {best.per_gpu.overhead_gib:.2f}; "
            f"one {best.context:,}-token sequence takes {per_seq / GIB:.2f} GiB per GPU -> "
            f"{conc_floor:g} concurrent full-length sequences")
        reasons.append(f"max_num_seqs {max_num_seqs}: " + (
            "the requested concurrency" if workload.concurrency else
            "room for shorter requests (about 1,024 tokens each on average), at most vLLM's default 256"))
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
                            "CPU and decoding slows to the speed estimated below")
    if not workload.concurrency and best.concurrency < targets[0]:
        warnings.append(f"only {conc_floor:g} full-length ({best.context:,}-token) sequence(s) fit at once; "
                        "shorter requests share the cache, longer bursts queue")
    kv_tokens = int(best.concurrency * best.context)
    est = estimates.estimate(spec, box, engine, choice.fmt, w, best.tp, best.pp, dp, best.context,
                             max(1, min(max_num_seqs, int(best.concurrency)) if not gguf else max_num_seqs),
                             best.kv_per_seq, best.gpu_layers)
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
            "free_memory_gib": round(box.memory_free_bytes / GIB, 2) if box.memory_free_bytes is not None else None}


def _license(spec: ModelSpec) -> dict:
    return {"id": spec.license.id, "name": spec.license.name, "mau_limit": spec.license.mau_limit,
            "commercial_use": spec.license.commercial_use}


# ---------------------------------------------------------------------------------------------- alternatives
def _not_fitting(base: Plan, spec: ModelSpec, box: Box, workload: Workload, policy: Policy,
                 with_alternatives: bool) -> Plan:
    base.fits = False
    if with_alternatives:
        base.alternatives = alternatives(spec, box, workload, policy)
        if not base.alternatives:
            base.reasons.append("no nearby alternative fits either")
    return base


def _summary(change: str, p: Plan) -> Alternative:
    return Alternative(change=change, weights=p.weights["dtype"], gpus_used=max(p.gpus_used, 1),
                       nodes=p.hardware["nodes"], tensor_parallel_size=p.tensor_parallel_size,
                       pipeline_parallel_size=p.pipeline_parallel_size, max_model_len=p.max_model_len,
                       kv_cache_dtype=p.kv_cache_dtype, model=p.model["name"],
                       max_concurrency_at_max_len=p.max_concurrency_at_max_len)


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
