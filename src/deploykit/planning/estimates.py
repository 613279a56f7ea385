"""Speed and load-time estimates. Decoding is memory-bandwidth bound: every generated token reads the active
weights once (and the sequence's KV cache), so tokens/s ~ achieved bandwidth / bytes read per token."""

from __future__ import annotations

from deploykit.catalog.loader import ModelSpec
from deploykit.planning.memory import WeightBytes
from deploykit.planning.types import Box, Engine, Estimates

# Achieved share of peak memory bandwidth while decoding (model bandwidth utilisation, MBU).
# GPUs/vLLM: Databricks, "LLM Inference Performance Engineering: Best Practices" (2023) measured MBU of about
# 60% for 7B-70B models on A100/H100 at batch 1.
MBU_GPU = 0.60
# Apple Silicon/llama.cpp: llama.cpp discussion #4167 (Apple Silicon performance table, rows in
# data/gguf_memory.yaml): F16 decoding reaches ~0.85-0.9 of nominal bandwidth on base/Pro chips and ~0.7 on
# M2 Ultra; Q4_0 reaches 0.45-0.84. We take 0.6 for the quantized files plans use.
MBU_APPLE = 0.60
# CPUs/llama.cpp: decoding reaches roughly half of the theoretical DRAM bandwidth (same discussion's CPU rows
# and llama.cpp issue reports); an assumption, stated in every plan.
MBU_CPU = 0.50
# Tensor-parallel all-reduce cost per decode step: a share of the ideal TP speed-up kept.
TP_EFFICIENCY = {"nvlink": 0.90, "pcie": 0.70}
# Sustained compute while batch decoding (model FLOPs utilisation): an assumption for the aggregate figure.
MFU_DECODE = 0.40
# Loading: safetensors / GGUF read from a local NVMe disk at ~2 GB/s (PCIe 4 NVMe sustained sequential read),
# plus engine start-up: vLLM's torch.compile and CUDA-graph capture take ~30-90 s on first start (its logs
# "torch.compile takes N s", "Graph capturing finished in N secs"); llama.cpp/Ollama start in seconds.
DISK_GBPS = 2.0
ENGINE_STARTUP_S = {"vllm": 60.0, "ollama": 5.0, "llamacpp": 5.0}


def _mbu(box: Box) -> float:
    return {"nvidia": MBU_GPU, "apple": MBU_APPLE, "cpu": MBU_CPU}[box.profile.kind]


def _bytes_per_token(spec: ModelSpec, w: WeightBytes) -> float:
    """Active layer weights + LM head (the input embedding is a lookup; tied embeddings are read as the head)."""
    active_share = spec.params_active_b / spec.params_total_b
    return w.layers * active_share + w.lm_head + (w.embedding if spec.architecture.tie_word_embeddings else 0)


def gguf_decode_tokens_per_s(spec: ModelSpec, box: Box, w: WeightBytes, gpu_layers: int | None) -> float:
    """llama.cpp/Ollama single-stream decode: layers on the accelerator read at its bandwidth, the others from host
    memory (Apple: the same unified memory; NVIDIA boxes: the host's DRAM)."""
    p = box.profile
    per_token = _bytes_per_token(spec, w)
    bw = p.memory_bandwidth_gbps * 1e9 * _mbu(box)
    layers_on_gpu = spec.architecture.num_layers if gpu_layers is None else gpu_layers
    gpu_share = layers_on_gpu / spec.architecture.num_layers if p.kind != "cpu" else 0.0
    cpu_bw = box.host_memory_bandwidth_gbps * 1e9 * MBU_CPU if p.kind != "cpu" else bw
    return 1 / (per_token * gpu_share / bw + per_token * (1 - gpu_share) / cpu_bw)


def estimate(spec: ModelSpec, box: Box, engine: Engine, fmt: str, w: WeightBytes, tp: int, pp: int, dp: int,
             context: int, concurrency: int, kv_per_seq: float, gpu_layers: int | None) -> Estimates:
    p = box.profile
    active_share = spec.params_active_b / spec.params_total_b
    # Bytes read per token: active layer weights + LM head (the input embedding is a lookup).
    per_token = w.layers * active_share + w.lm_head + (w.embedding if spec.architecture.tie_word_embeddings else 0)
    bw = p.memory_bandwidth_gbps * 1e9 * _mbu(box)
    assumptions = [f"decode reads the active weights once per token at {_mbu(box):.0%} of the "
                   f"{p.memory_bandwidth_gbps:g} GB/s peak bandwidth"]
    if engine == "vllm":
        tp_eff = TP_EFFICIENCY.get(p.interconnect.kind, 0.7) if tp > 1 else 1.0
        single = tp * bw * tp_eff / per_token
        if tp > 1:
            assumptions.append(f"tensor parallelism keeps {tp_eff:.0%} of its ideal speed-up over "
                               f"{p.interconnect.kind}")
        # A batch of B sequences at half the context on average: weights once, plus each sequence's KV.
        batch = max(1, concurrency)
        kv_read = batch * kv_per_seq * tp * 0.5
        moe = spec.architecture.moe
        if moe:  # bigger batches touch more experts: expected share of experts hit by B tokens
            touched = 1 - (1 - moe.experts_per_token / moe.num_experts) ** batch
            weights_read = w.layers * max(active_share, touched) + w.lm_head
        else:
            weights_read = per_token
        memory_time = (weights_read + kv_read) / (tp * bw * tp_eff)
        flops = 2 * spec.params_active_b * 1e9 * batch
        peak = (p.fp8_tflops if fmt == "fp8" and p.fp8_tflops else p.bf16_tflops) or 0
        compute_time = flops / (tp * pp * peak * 1e12 * MFU_DECODE) if peak else 0.0
        step = max(memory_time, compute_time)
        aggregate = batch / step * dp
        assumptions.append(f"aggregate: {batch} sequences per replica at half the context on average, "
                           f"{dp} replica(s), compute at {MFU_DECODE:.0%} of dense peak")
    else:
        layers_on_gpu = spec.architecture.num_layers if gpu_layers is None else gpu_layers
        gpu_share = layers_on_gpu / spec.architecture.num_layers if p.kind != "cpu" else 0.0
        cpu_bw = box.host_memory_bandwidth_gbps * 1e9 * MBU_CPU if p.kind == "nvidia" else bw
        time = per_token * gpu_share / bw + per_token * (1 - gpu_share) / cpu_bw
        single = 1 / time
        if 0 < gpu_share < 1:
            assumptions.append(f"layers left on the CPU read host memory at {box.host_memory_bandwidth_gbps:g} GB/s")
        aggregate = single * max(1, concurrency) * 0.8  # llama.cpp batches parallel slots; ~80% scaling (assumed)
        assumptions.append("aggregate: parallel slots batched by llama.cpp at ~80% scaling (assumption)")
    bytes_per_node = w.total / max(1, box.nodes if pp > 1 else 1)
    load = bytes_per_node / (DISK_GBPS * 1e9) + ENGINE_STARTUP_S[engine]
    assumptions.append(f"load: weights from local NVMe at {DISK_GBPS:g} GB/s + {ENGINE_STARTUP_S[engine]:.0f} s "
                       f"{engine} start-up (no download)")
    return Estimates(decode_tokens_per_s=round(single, 1), aggregate_tokens_per_s=round(aggregate, 1),
                     planned_concurrency=max(1, concurrency), time_to_load_s=round(load, 1),
                     assumptions=assumptions)
