"""Speed estimates for a stated workload: one stream's decode speed, time to first token, and aggregate output
throughput at the batch the plan holds. Checked against published measurements with benchmarks/bench_speed.py
(data/speed_observations.yaml).

The model, per decode step of a batch of B sequences on one GPU of the replica:

    step = bytes read / (peak bandwidth x EFFICIENCY)      weights once (MoE: the experts the batch touches) + KV
         + layers x LAYER_OVERHEAD                          kernel launches and small ops, not bandwidth-bound
         + layers x 2 x ALLREDUCE (TP > 1)                  two all-reduces per layer (attention out, FFN out)
         + MoE layers x (MOE_LAYER_S + MOE_PER_RANK_S x (TP - 1))   routing, expert GEMMs, dispatch / combine
    step = max(step, 2 x active params x B / (GPUs x dense peak x MFU))       compute bound at large batches

    decode tokens/s (one stream) = 1 / step(B=1)
    prefill = input tokens x 2 x active params / (GPUs x dense peak x MFU) + one step    (time to first token)
    aggregate = B x output / (output x step(B) + B x prefill)   requests back to back; every prompt's prefill
                                                                stalls the batch (no overlap assumed)
"""

from __future__ import annotations

from dataclasses import dataclass

from deploykit.catalog.loader import ModelSpec
from deploykit.catalog.schema import HardwareProfile
from deploykit.planning.memory import WeightBytes
from deploykit.planning.types import Box, Engine, Estimates

# Share of peak memory bandwidth that streaming the weights reaches. GPUs: vLLM/TensorRT-LLM decode kernels reach
# ~80% (NIM's Llama-3.3-70B FP8 TP2 on H100: 18.6 ms ITL for 35 GB per GPU + overheads; data/speed_observations).
# Apple GPUs: llama.cpp's own table reaches 0.85-0.91 of nominal at F16 on base/Pro chips (data/gguf_memory.yaml
# section 6); the gap at Q4_0 is the fixed per-layer cost below. CPUs: ~0.6 (a 13900K with DDR5-6400 at 18.3 t/s
# on a 3.8 GB file; Apple M2 Pro CPU cores reach less).
EFFICIENCY = {"nvidia": 0.80, "apple": 0.90, "cpu": 0.60}
# Fixed time per layer per step (launches, norms, rotary, sampling share). vLLM with CUDA graphs ~15 us; llama.cpp
# CUDA ~25 us; llama.cpp Metal (2023 builds) ~150 us: llama.cpp's table has M2 Ultra Q4_0 at 94 t/s where bandwidth
# alone allows ~190; CPU ~60 us. Calibrated on the rows of data/speed_observations.yaml (in-sample).
LAYER_OVERHEAD_S = {"vllm": 15e-6, "nvidia-ggml": 25e-6, "apple": 150e-6, "cpu": 60e-6}
# One all-reduce of a decode step's activations: latency-bound (NCCL small-message latency).
ALLREDUCE_S = {"nvlink": 10e-6, "pcie": 25e-6, "network": 40e-6}
# Per MoE layer per step: routing and expert GEMM launches (MOE_LAYER_S), plus the token dispatch / combine across
# the tensor-parallel group, which grows with its size (MOE_PER_RANK_S x (TP - 1)). Calibrated on the DeepSeek-V3/R1
# rows (vLLM/SGLang, early 2025: 13-30 tokens/s for one stream at TP8-TP16 on H100/H200), keeping a single-GPU MoE
# such as Qwen3-30B-A3B near its dense-equivalent speed; SGLang's own TP8 DeepSeek-V3 figures (PR #2643: 30.3 / 206 /
# 761 tokens/s at batch 1 / 8 / 32), not used to fit these, land within 10%. llama.cpp's DeepSeek IQ1_S row (11.9 t/s
# on 2 x H100, all layers on the GPUs) was measured before llama.cpp PR #13014 (2025-04), when CUDA MoE matmuls synced
# with the host per op and ran without CUDA graphs; deploykit renders later builds, so it stays an outlier here.
MOE_LAYER_S = 50e-6
MOE_PER_RANK_S = 65e-6
# Model FLOPs utilisation for prefill and compute-bound decode (NIM Llama-3.3-70B FP8 TP2, 5,000-token prompt:
# 0.41 s TTFT measured, 0.45 s at 40%).
MFU = 0.40
# Loading: safetensors / GGUF read from a local NVMe disk at ~2 GB/s (PCIe 4 NVMe sustained sequential read),
# plus engine start-up: vLLM's torch.compile and CUDA-graph capture take ~30-90 s on first start (its logs
# "torch.compile takes N s", "Graph capturing finished in N secs"); llama.cpp/Ollama start in seconds.
DISK_GBPS = 2.0
ENGINE_STARTUP_S = {"vllm": 60.0, "ollama": 5.0, "llamacpp": 5.0}
# Back-compat name used by cost.py: prefill and compute-bound decode run at the same MFU.
MFU_DECODE = MFU


@dataclass(frozen=True)
class ModelCost:
    """What a decode step reads and computes, for the whole model (all GPUs together)."""

    layer_bytes: float  # decoder-layer weights (all experts)
    other_bytes: float  # LM head (+ tied embedding) read every step
    active_share: float  # share of layer weights one token reads (dense: 1)
    num_layers: int
    moe_layers: int = 0
    experts: int = 0
    experts_per_token: int = 0
    active_params: float = 0.0  # for FLOPs
    kv_bytes_per_token: float = 0.0  # all layers, all GPUs

    def touched_share(self, batch: int) -> float:
        """Share of layer weights a batch reads: dense 1; MoE the experts hit by ``batch`` tokens (uniform
        routing), at least one token's share."""
        if not self.experts:
            return self.active_share
        hit = 1 - (1 - self.experts_per_token / self.experts) ** batch
        return min(1.0, max(self.active_share, self.active_share + (hit - self.experts_per_token / self.experts)))


@dataclass(frozen=True)
class Hardware:
    profile: HardwareProfile
    engine: str  # "vllm" (also SGLang/NIM) or "ggml" (llama.cpp/Ollama)
    gpus: int = 1  # GPUs of one replica (TP x PP, or llama.cpp's layer split)
    tp: int = 1
    pp: int = 1
    nodes: int = 1
    gpu_share: float = 1.0  # ggml: share of layers on the accelerator
    host_bandwidth_gbps: float | None = None  # where layers off the accelerator are read from
    cpu_only: bool = False
    fp8: bool = False


def model_cost(spec: ModelSpec, w: WeightBytes, kv_bytes_per_token: float = 0.0,
               layer_bytes: float | None = None) -> ModelCost:
    a = spec.architecture
    moe = a.moe
    head = w.lm_head + (w.embedding if a.tie_word_embeddings else 0)
    return ModelCost(layer_bytes=w.layers if layer_bytes is None else layer_bytes, other_bytes=head,
                     active_share=spec.params_active_b / spec.params_total_b, num_layers=a.num_layers,
                     moe_layers=moe.moe_layers if moe else 0, experts=moe.num_experts if moe else 0,
                     experts_per_token=moe.experts_per_token if moe else 0,
                     active_params=spec.params_active_b * 1e9, kv_bytes_per_token=kv_bytes_per_token)


def _kind(hw: Hardware) -> str:
    return "cpu" if hw.cpu_only else hw.profile.kind


def _layer_overhead(hw: Hardware) -> float:
    kind = _kind(hw)
    if kind == "nvidia":
        return LAYER_OVERHEAD_S["vllm" if hw.engine == "vllm" else "nvidia-ggml"]
    return LAYER_OVERHEAD_S[kind]


def _peak_flops(hw: Hardware) -> float:
    p = hw.profile
    peak = (p.fp8_tflops if hw.fp8 and p.fp8_tflops else p.bf16_tflops) or 0.0
    return peak * 1e12


def step_s(m: ModelCost, hw: Hardware, batch: int = 1, kv_tokens: float = 0.0) -> float:
    """One decode step of ``batch`` sequences holding ``kv_tokens`` tokens of KV in all."""
    p = hw.profile
    bw = p.memory_bandwidth_gbps * 1e9 * EFFICIENCY[_kind(hw)]
    weights = m.layer_bytes * m.touched_share(batch) + m.other_bytes
    kv = m.kv_bytes_per_token * kv_tokens
    if hw.engine == "vllm":
        # TP ranks read their shards at once; pipeline stages run one after another for one step.
        memory_time = (weights + kv) / (hw.tp * bw)
        collective = ALLREDUCE_S["network" if hw.nodes > 1 else p.interconnect.kind if
                                 p.interconnect.kind in ALLREDUCE_S else "pcie"]
        fixed = m.num_layers * _layer_overhead(hw) + (m.num_layers * 2 * collective if hw.tp > 1 else 0.0)
        fixed += m.moe_layers * (MOE_LAYER_S + MOE_PER_RANK_S * (hw.tp - 1))
    else:  # llama.cpp: layers run one after another (layer split across GPUs), the rest from host memory
        host = (hw.host_bandwidth_gbps or p.memory_bandwidth_gbps) * 1e9 * EFFICIENCY["cpu"]
        share = 0.0 if hw.cpu_only else hw.gpu_share
        memory_time = (weights + kv) * share / bw + (weights + kv) * (1 - share) / host
        fixed = m.num_layers * _layer_overhead(hw) + m.moe_layers * MOE_LAYER_S
    peak = _peak_flops(hw)
    compute = 2 * m.active_params * batch / (hw.tp * peak * MFU) if peak and m.active_params else 0.0
    return max(memory_time, compute) + fixed


def prefill_s(m: ModelCost, hw: Hardware, tokens: int) -> float:
    """Time to first token for a ``tokens``-long prompt on an idle replica."""
    peak = _peak_flops(hw)
    if peak and m.active_params:
        compute = 2 * m.active_params * tokens / (hw.tp * peak * MFU)
    else:  # no published tensor throughput (Apple, CPU): prompt processing ~ 8x a decode step per 64 tokens
        compute = step_s(m, hw, 1) * tokens / PROMPT_TOKENS_PER_DECODE_STEP
    return compute + step_s(m, hw, 1, tokens)


# Without a FLOPS figure: llama.cpp's prompt processing runs far above decode (llama-bench pp512 ~ 8-10x tg128 on
# Apple GPUs in the same table); we take 8 prompt tokens per decode step's time. An assumption.
PROMPT_TOKENS_PER_DECODE_STEP = 8


def aggregate_tokens_per_s(m: ModelCost, hw: Hardware, batch: int, input_tokens: int, output_tokens: int) -> float:
    """Output tokens/s of one replica serving ``batch`` requests back to back. Pipeline stages work on
    different micro-batches at once (up to ``pp`` of them)."""
    kv_tokens = batch * (input_tokens + output_tokens / 2)
    decode = output_tokens * step_s(m, hw, batch, kv_tokens)
    prefill = batch * (prefill_s(m, hw, input_tokens) - step_s(m, hw, 1, input_tokens))
    return batch * output_tokens / (decode + max(prefill, 0.0)) * min(hw.pp, batch)


# ------------------------------------------------------------------------------------------------ for the planner
def _hardware(box: Box, engine: Engine, fmt: str, tp: int, pp: int, gpu_layers: int | None,
              num_layers: int) -> Hardware:
    p = box.profile
    gguf = engine in ("ollama", "llamacpp")
    share = 1.0
    if gguf and gpu_layers is not None:
        share = gpu_layers / num_layers
    footprint = tp * pp
    return Hardware(profile=p, engine="ggml" if gguf else "vllm", gpus=1 if gguf else footprint, tp=tp, pp=pp,
                    nodes=max(1, -(-footprint // box.gpus_per_node)) if not gguf else 1, gpu_share=share,
                    host_bandwidth_gbps=box.host_memory_bandwidth_gbps, cpu_only=p.kind == "cpu",
                    fp8=fmt == "fp8")


def gguf_decode_tokens_per_s(spec: ModelSpec, box: Box, w: WeightBytes, gpu_layers: int | None) -> float:
    """llama.cpp/Ollama single-stream decode: layers on the accelerator read at its bandwidth, the others from host
    memory (Apple: the same unified memory; NVIDIA boxes: the host's DRAM)."""
    hw = _hardware(box, "llamacpp", "", 1, 1, gpu_layers, spec.architecture.num_layers)
    return 1 / step_s(model_cost(spec, w), hw, 1)


def estimate(spec: ModelSpec, box: Box, engine: Engine, fmt: str, w: WeightBytes, tp: int, pp: int, dp: int,
             context: int, concurrency: int, kv_per_seq: float, gpu_layers: int | None,
             input_tokens: int = 1024, output_tokens: int = 256) -> Estimates:
    a = spec.architecture
    hw = _hardware(box, engine, fmt, tp, pp, gpu_layers, a.num_layers)
    # kv_per_seq is one GPU's share at the full context; the model wants all GPUs' bytes per token.
    kv_per_token = kv_per_seq / max(context, 1) * (hw.gpus if engine == "vllm" else 1)
    m = model_cost(spec, w, kv_per_token)
    single = 1 / step_s(m, hw, 1, input_tokens + output_tokens / 2)
    batch = max(1, concurrency)
    per_replica = aggregate_tokens_per_s(m, hw, batch, input_tokens, output_tokens)
    ttft = prefill_s(m, hw, input_tokens)
    p = box.profile
    assumptions = [
        f"workload: {input_tokens:,} prompt + {output_tokens:,} output tokens per request (--input-tokens, "
        f"--output-tokens); {batch} request(s) in flight per replica, {dp} replica(s)",
        f"decode: weights (and KV) read at {EFFICIENCY['cpu' if hw.cpu_only else p.kind]:.0%} of "
        f"{p.memory_bandwidth_gbps:g} GB/s per device, plus fixed per-layer"
        + (", all-reduce" if tp > 1 else "") + (" and MoE routing" if a.moe else "") + " costs "
        "(calibrated on data/speed_observations.yaml; benchmarks/bench_speed.py)",
        f"prefill at {MFU:.0%} of dense peak; every prompt's prefill stalls the batch (no overlap)",
    ]
    if engine != "vllm" and gpu_layers is not None and 0 < gpu_layers < a.num_layers:
        assumptions.append(f"layers left on the CPU read host memory at {box.host_memory_bandwidth_gbps:g} GB/s")
    bytes_per_node = w.total / max(1, box.nodes if pp > 1 else 1)
    load = bytes_per_node / (DISK_GBPS * 1e9) + ENGINE_STARTUP_S[engine]
    assumptions.append(f"load: weights from local NVMe at {DISK_GBPS:g} GB/s + {ENGINE_STARTUP_S[engine]:.0f} s "
                       f"{engine} start-up (no download)")
    return Estimates(decode_tokens_per_s=round(single, 1), aggregate_tokens_per_s=round(per_replica * dp, 1),
                     ttft_s=round(ttft, 3), planned_concurrency=batch, time_to_load_s=round(load, 1),
                     assumptions=assumptions)
