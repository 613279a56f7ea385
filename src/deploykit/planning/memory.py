"""Memory model: bytes of weights, KV cache, activations and engine overheads, per GPU. Pure functions.

All results are bytes. The constants below come from published measurements; each names its source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from deploykit.catalog.formats import format_info, load_formats
from deploykit.catalog.loader import ModelSpec
from deploykit.catalog.params import count_params
from deploykit.catalog.schema import Architecture

GIB = 1024**3

# ------------------------------------------------------------------------------------------------ data types
# Bytes per element of each KV-cache format. q8_0 / q4_0 are ggml blocks of 32 values: 34 and 18 bytes
# (ggml/src/ggml-common.h: block_q8_0 = fp16 scale + 32 int8; block_q4_0 = fp16 scale + 16 bytes of nibbles).
KV_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "q8_0": 34 / 32, "q4_0": 18 / 32}

# Effective bits per weight of whole GGUF files (mixed quant types: embeddings and output tensors differ).
# llama.cpp tools/quantize/README.md, measured on Llama-3.1-8B ("Quant Type | bits/weight" table): F16 16.0005,
# Q8_0 8.5008, Q6_K 6.5633, Q5_K_M 5.7036, Q4_K_M 4.8944, Q4_K_S 4.6672, IQ4_XS 4.4597, IQ3_M 3.7628,
# IQ3_XXS 3.2548, Q2_K 3.1593, IQ2_M 2.9294, IQ2_XXS 2.3824, IQ1_S 2.0042. BF16 has F16's block size (2 bytes).
# Q4_0 and Q3_K_M are not in that table: their sizes in the quantize tool's help list divided by 8.03B weights
# (4.64, 4.00). Details and quotes: data/gguf_memory.yaml.
GGUF_BPW = {"gguf-bf16": 16.0, "gguf-f16": 16.0, "gguf-q8_0": 8.50, "gguf-q6_k": 6.56, "gguf-q5_k_m": 5.70,
            "gguf-q4_k_m": 4.89, "gguf-q4_k_s": 4.67, "gguf-q4_0": 4.64, "gguf-iq4_xs": 4.46, "gguf-q3_k_m": 4.00,
            "gguf-iq3_m": 3.76, "gguf-iq3_xxs": 3.25, "gguf-q2_k": 3.16, "gguf-iq2_m": 2.93, "gguf-iq2_xxs": 2.38,
            "gguf-iq1_s": 2.00,
            # MXFP4_MOE without a MoE architecture: every 2-D tensor is Q8_0 (see mxfp4_moe_bytes)
            "gguf-mxfp4_moe": 8.50,
            # unsloth dynamic (UD) quants: only the routed experts go this low, attention / dense layers stay 4-8 bit,
            # so the figure depends on the model's expert share. Whole files on Hugging Face's listings (decimal GB)
            # over the weights they hold: DeepSeek-R1 671B UD-IQ1_S 140.2, UD-IQ2_XXS 196.2, UD-Q2_K_XL 226.6 GB
            # (huggingface.co/unsloth/DeepSeek-R1-GGUF/tree/main); UD-IQ1_M 158 GiB = 169.6 GB (unsloth.ai/blog/
            # deepseekr1-dynamic, which gives all four in GiB); DeepSeek-V3-0324 UD-Q4_K_XL 405 GB; GLM-4.6 (355B)
            # UD-Q3_K_XL 158 GB. Catalog entries carry the published size, which wins over this estimate.
            "gguf-ud-q4_k_xl": 4.83, "gguf-ud-q3_k_xl": 3.56, "gguf-ud-q2_k_xl": 2.70, "gguf-ud-iq2_xxs": 2.34,
            "gguf-ud-iq1_m": 2.02, "gguf-ud-iq1_s": 1.67}
# llama.cpp's MXFP4_MOE file type (src/llama-quant.cpp): "MoE tensors -> MXFP4, other tensors -> Q8_0" (a tensor is
# an expert tensor when ne[2] > 1). A ggml MXFP4 block is 32 weights in 17 bytes (one E8M0 scale + 16 bytes of
# 4-bit values, ggml-common.h block_mxfp4): 4.25 bpw; Q8_0 is 34 bytes per 32 weights: 8.5 bpw.
MXFP4_BPW, Q8_0_BPW = 4.25, 8.5

# Weight bytes per parameter in linear layers for the vLLM formats, from data/weight_formats.yaml (payload bits plus
# the group scales: AWQ/GPTQ int4 4 + 20/128 bits, MXFP4 4 + 8/32, NVFP4 4 + 8/16, compressed-tensors W4A16
# 4 + 16/128, bitsandbytes nf4 4 + 32/64). Embeddings, LM head and vision towers stay 16-bit in quantized checkpoints
# (llm-compressor, AutoAWQ, ModelOpt and gpt-oss's modules_to_not_convert all skip them).
LINEAR_BYTES = {"bf16": 2.0, "fp16": 2.0, **{name: info.bits() / 8 for name, info in load_formats().items()}}


def weight_format_bits(fmt: str) -> float:
    if fmt in GGUF_BPW:
        return GGUF_BPW[fmt]
    return LINEAR_BYTES[fmt] * 8


# --------------------------------------------------------------------------------------------------- weights
@dataclass(frozen=True)
class WeightBytes:
    layers: int  # decoder layers (attention + FFN / experts), sharded by TP and split by PP
    embedding: int  # input embedding matrix
    lm_head: int  # output projection (0 when tied)
    vision: int  # vision encoder, on the first pipeline stage

    @property
    def total(self) -> int:
        return self.layers + self.embedding + self.lm_head + self.vision

    def per_gpu(self, tp: int, pp: int) -> int:
        """Largest share one GPU holds: its TP shard of its PP stage's layers, plus the stage's extra tensors.
        Vocabulary-parallel embeddings and LM heads are sharded by TP (vLLM VocabParallelEmbedding); the vision
        encoder is replicated on every TP rank (vLLM 0.19 logs: Llama 4 Scout at TP 4 loads 53.1 GiB per GPU,
        which only a replicated 1.7 GiB vision tower explains)."""
        layers = math.ceil(self.layers / pp) / tp
        if pp == 1:
            extras = (self.embedding + self.lm_head) / tp + self.vision
        else:  # first stage: embedding + vision; last stage: LM head
            extras = max(self.embedding / tp + self.vision, self.lm_head / tp)
        return int(layers + extras)


def weight_bytes(spec: ModelSpec, fmt: str, published_size_gb: float | None = None) -> WeightBytes:
    """Weight bytes of ``spec`` in format ``fmt``. A published GGUF file size, when known, wins over estimates."""
    a = spec.architecture
    counted = count_params(a)
    embed_params = a.vocab_size * a.hidden_size
    head_params = 0 if a.tie_word_embeddings else embed_params
    vision_params = int(spec.vision_params_b * 1e9)
    # The card's total is authoritative; the rest after embeddings and vision is in linear layers.
    layer_params = max(int(spec.params_total_b * 1e9) - embed_params - head_params - vision_params,
                       counted.linear // 2)
    if fmt.startswith("gguf-"):
        bpw = GGUF_BPW[fmt]
        everything = layer_params + embed_params + head_params + vision_params
        estimate = everything * bpw / 8
        if fmt == "gguf-mxfp4_moe" and a.moe:
            estimate = counted.experts * MXFP4_BPW / 8 + max(everything - counted.experts, 0) * Q8_0_BPW / 8
        total = published_size_gb * 1e9 if published_size_gb else estimate
        share = total / max(layer_params + embed_params + head_params + vision_params, 1)
        return WeightBytes(layers=int(layer_params * share), embedding=int(embed_params * share),
                           lm_head=int(head_params * share), vision=int(vision_params * share))
    if fmt in LINEAR_BYTES:
        layers = quantized_layer_bytes(spec, fmt, layer_params, counted.experts)
        return WeightBytes(layers=int(layers), embedding=embed_params * 2, lm_head=head_params * 2,
                           vision=vision_params * 2)
    raise ValueError(f"unknown weight format {fmt}")


def quantization_of(spec: ModelSpec, fmt: str) -> tuple[str, int | None]:
    """(which layers are quantized, group size) of ``spec`` published in ``fmt``: the official checkpoint's when
    ``fmt`` is its native format, else the catalog artifact's (official first), else every linear layer at the
    format's usual group (vLLM's online FP8, a generic conversion)."""
    info = format_info(fmt)
    default = info.scope if info else "linear"
    if fmt == spec.native_dtype:
        return spec.quantized_layers or default, spec.quant_group_size
    found = sorted(spec.artifacts_for(fmt), key=lambda a: not a.official)
    if found:
        return found[0].quantized_layers or default, found[0].group_size
    return "linear", None


def quantized_layer_bytes(spec: ModelSpec, fmt: str, layer_params: int, expert_params: int) -> float:
    """Bytes of the decoder layers: quantized where the checkpoint quantizes, 16-bit elsewhere."""
    info = format_info(fmt)
    if info is None:  # bf16 / fp16
        return layer_params * LINEAR_BYTES[fmt]
    scope, group = quantization_of(spec, fmt)
    per = info.bits(group) / 8
    if scope == "experts" and spec.architecture.moe:
        experts = min(expert_params, layer_params)
        return experts * per + (layer_params - experts) * 2.0
    return layer_params * per


# -------------------------------------------------------------------------------------------------- KV cache
def layer_split(a: Architecture) -> tuple[int, int]:
    """(global layers, local layers): local layers keep only a window (sliding) or a chunk (Llama 4). Hybrid models:
    only their full-attention layers hold a KV cache (their recurrent layers hold a fixed state instead)."""
    at = a.attention
    if at.kind == "hybrid":
        return at.attention_layers or 0, 0
    if at.kind not in ("sliding", "chunked"):
        return a.num_layers, 0
    if not at.global_every:
        return 0, a.num_layers
    globals_ = a.num_layers // at.global_every
    return globals_, a.num_layers - globals_


def kv_heads_per_gpu(a: Architecture, tp: int) -> int:
    """KV heads one GPU stores: sharded by TP, and replicated once TP exceeds the KV head count (vLLM)."""
    return max(1, math.ceil(a.num_kv_heads / tp))


# DeepSeek sparse attention (V3.2): the lightning indexer caches one FP8 key of index_head_dim values per token per
# layer with one fp32 scale per 128 values (vLLM's indexer cache: head_dim + head_dim / 128 * 4 bytes = 132 for
# V3.2), whatever the main cache's format. With an fp8 main cache vLLM uses its "fp8_ds_mla" layout: the 512-value
# latent in FP8 plus 4 fp32 scales and the 64-value RoPE key kept in bf16 = 656 bytes per token per layer.
# unverified: both layouts are read from vLLM's DeepSeek V3.2 code as remembered; the stored sources only confirm
# that V3.2 defaults to "a custom fp8 kvcache" (github.com/vllm-project/recipes DeepSeek/DeepSeek-V3_2.md).
DSA_INDEX_SCALE_BLOCK = 128
DSA_FP8_SCALE_BYTES = 4


def kv_bytes_per_token_layer(a: Architecture, tp: int, kv_format: str) -> float:
    """Bytes one token costs in one layer on one GPU."""
    b = KV_BYTES[kv_format]
    at = a.attention
    if at.kind == "mla":
        # DeepSeek MLA caches the compressed latent plus the decoupled RoPE key, shared by all heads,
        # so every TP rank holds the whole of it (vLLM MLA backends).
        return (at.kv_lora_rank + at.qk_rope_head_dim) * b
    if at.kind == "dsa":
        if kv_format == "fp8":
            latent = (at.kv_lora_rank + at.kv_lora_rank // DSA_INDEX_SCALE_BLOCK * DSA_FP8_SCALE_BYTES
                      + at.qk_rope_head_dim * 2)
        else:
            latent = (at.kv_lora_rank + at.qk_rope_head_dim) * b
        index = at.index_head_dim + at.index_head_dim / DSA_INDEX_SCALE_BLOCK * DSA_FP8_SCALE_BYTES
        return latent + index
    return 2 * kv_heads_per_gpu(a, tp) * a.head_dim * b


# Recurrent state of a hybrid model's linear-attention / Mamba2 layer, per sequence, whatever its length (vLLM's
# mamba cache: a conv state of (conv_kernel - 1) x conv channels and an SSM / delta-rule state per head):
#   Gated DeltaNet (Qwen3-Next): conv channels = 2 x key_heads x key_dim + heads x value_dim (q, k and v are
#     convolved); recurrent state = heads x key_dim x value_dim.
#   Mamba2 (Nemotron-H, Granite 4, Jamba-style): conv channels = heads x head_dim + 2 x groups x state_size (x, B, C);
#     SSM state = heads x head_dim x state_size -- the same two expressions once groups -> key_heads,
#     state_size -> key_dim, head_dim -> value_dim (the names the schema uses).
# Both are split across TP ranks by head. Element size: the conv state is in the model dtype (2 bytes); the
# recurrent / SSM state too, unless the config pins it (mamba_ssm_cache_dtype "float32" in Nemotron-H and Qwen3.5
# configs -> attention.state_dtype_bytes 4; vLLM keeps the conv state in the model dtype either way).
MODEL_DTYPE_BYTES = 2.0


def state_bytes_per_layer(a: Architecture, tp: int = 1) -> float:
    at = a.attention
    if at.kind != "hybrid":
        return 0.0
    conv = (at.conv_kernel - 1) * (2 * at.state_key_heads * at.state_key_dim + at.state_heads * at.state_value_dim)
    recurrent = at.state_heads * at.state_key_dim * at.state_value_dim
    return (conv * MODEL_DTYPE_BYTES + recurrent * (at.state_dtype_bytes or MODEL_DTYPE_BYTES)) / tp


def state_bytes_per_sequence(a: Architecture, *, tp: int = 1, pp: int = 1) -> float:
    """Fixed per-sequence state of the recurrent layers on the busiest GPU (0 for attention-only models)."""
    if a.attention.kind != "hybrid":
        return 0.0
    return math.ceil((a.attention.state_layers or 0) / pp) * state_bytes_per_layer(a, tp)


def kv_bytes_per_sequence(a: Architecture, context: int, *, tp: int = 1, pp: int = 1, kv_format: str = "bf16",
                          local_windows: bool = True) -> float:
    """KV bytes one sequence of ``context`` tokens holds on the busiest GPU (the largest pipeline stage), with the
    fixed recurrent state of hybrid models. ``local_windows=False`` charges local layers the whole context (engines
    without sliding-window caches)."""
    globals_, locals_ = layer_split(a)
    span = a.attention.window or a.attention.chunk or context
    local_tokens = min(span, context) if local_windows else context
    layer_tokens = math.ceil(globals_ / pp) * context + math.ceil(locals_ / pp) * local_tokens
    return layer_tokens * kv_bytes_per_token_layer(a, tp, kv_format) + state_bytes_per_sequence(a, tp=tp, pp=pp)


def kv_layers(a: Architecture) -> int:
    """Layers holding a KV cache: all of them, but only the full-attention ones of a hybrid model."""
    if a.attention.kind == "hybrid":
        return a.attention.attention_layers or 0
    return a.num_layers


def full_kv_bytes_per_token(a: Architecture, *, tp: int = 1, pp: int = 1, kv_format: str = "bf16") -> float:
    """Per-token KV bytes counting every KV layer, the figure vLLM divides by to print 'KV cache size: N tokens'."""
    return math.ceil(kv_layers(a) / pp) * kv_bytes_per_token_layer(a, tp, kv_format)


# -------------------------------------------------------------------------------------------- vLLM overheads
# vLLM's profile run pushes max_num_batched_tokens through the model and records the PyTorch peak
# ("torch peak memory increase" / "PyTorch activation peak memory takes X GiB" in its startup log). We estimate
# that peak from tensor sizes: the FFN's gate/up output plus the activated half (3 x intermediate per token,
# 16-bit), the residual stream and norms (4 x hidden), and fp32 logits (plus the sampler's copy) for
# max_num_seqs rows. The logged peak does not shrink with tensor parallelism (Llama-3.1-8B on H100, vLLM 0.19:
# 1.89 GiB at TP 1, 2 and 4), so the FFN term is not divided by TP. Checked against published startup logs in
# tests (data/vllm_memory_observations.yaml): 1.88 predicted vs 1.89 logged for Llama-3.1-8B.
# Multimodal models also profile the vision encoder on a dummy image batch: the logged peak is 0.6-1.3 GiB above
# the text-only estimate for Gemma 3 4B/12B/27B and Llama 4 Scout (vLLM 0.19 logs).
VISION_PROFILE_GIB = 1.0


def vllm_activation_bytes(a: Architecture, *, tp: int, batched_tokens: int, max_num_seqs: int,
                          vision: bool = False) -> int:
    t = batched_tokens
    if a.moe:
        ffn = t * a.moe.experts_per_token * (3 * a.moe.expert_intermediate_size + a.hidden_size) * 2
        ffn = max(ffn, t * 3 * a.intermediate_size * 2)
    else:
        ffn = t * 3 * a.intermediate_size * 2
    attn = t * (a.num_attention_heads + 2 * a.num_kv_heads) * a.head_dim * 2
    residual = t * a.hidden_size * 4 * 2
    logits = min(max_num_seqs, t) * a.vocab_size * 4 * 2
    return int(max(ffn, attn) + residual + logits + (VISION_PROFILE_GIB * GIB if vision else 0))


# Memory outside PyTorch's allocator that vLLM charges to the budget: CUDA context, cuBLAS workspaces, NCCL and
# custom all-reduce buffers. vLLM 0.19 logs (data/vllm_memory_observations.yaml, Llama-3.1-8B on H100):
# 0.25 GiB at TP 1, 2.07 GiB at TP 2, 2.13 GiB at TP 4; pipeline parallelism alone adds almost nothing (0.07).
NON_TORCH_SINGLE_GIB = 0.25
NON_TORCH_TP_GIB = 2.15

# CUDA graph capture: "Graph capturing finished in N secs, took X GiB" — 0.91 GiB for Llama-3.1-8B on H100
# (32 layers, vLLM 0.19, capture sizes up to 512). Modelled as a floor plus a per-layer cost. In the vLLM versions
# whose logs we have, graphs are captured after the KV cache is sized, outside gpu_memory_utilization; vLLM 0.19
# announces that the budget will include them (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS). Plans charge them to
# the budget, the safe side for both behaviours.
CUDA_GRAPH_BASE_GIB = 0.3
CUDA_GRAPH_PER_LAYER_MIB = 20


def vllm_non_torch_bytes(tp: int, pp: int) -> int:
    return int((NON_TORCH_TP_GIB if tp > 1 else NON_TORCH_SINGLE_GIB) * GIB)


def vllm_cuda_graph_bytes(a: Architecture, pp: int) -> int:
    return int(CUDA_GRAPH_BASE_GIB * GIB + math.ceil(a.num_layers / pp) * CUDA_GRAPH_PER_LAYER_MIB * 1024**2)


# ------------------------------------------------------------------------------------- llama.cpp / Ollama
# Compute-graph (scratch) memory. Ollama estimates it per architecture in fs/ggml/ggml.go (GraphSize); for the
# llama family with full offload: max(4*batch*(1 + 4*embedding + context*(1+heads)), 4*batch*(embedding+vocab))
# bytes, batch = num_batch (512 by default). We use that expression for every architecture.
def ggml_graph_bytes(a: Architecture, *, context: int, batch: int = 512) -> int:
    attn = 4 * batch * (1 + 4 * a.hidden_size + context * (1 + a.num_attention_heads))
    out = 4 * batch * (a.hidden_size + a.vocab_size)
    return int(max(attn, out))


# Per-GPU fixed cost of a llama.cpp/Ollama runner: Ollama reserves a minimum of 457 MiB per CUDA GPU (512 MiB on
# Metal) when placing layers, and OLLAMA_GPU_OVERHEAD defaults to 0 (llm/memory.go; data/gguf_memory.yaml).
GGML_GPU_OVERHEAD_GIB = 457 / 1024


# ------------------------------------------------------------------------------------------------ host memory
# Host RAM kept for the OS, the engine process and page cache when llama.cpp/Ollama place layers in host memory:
# 10% of it, at least 2 GiB (an assumption in the spirit of Ollama's own free-memory checks, which refuse to load
# a model whose CPU part exceeds the free system memory; llm/memory.go).
def host_reserve_bytes(host_bytes: int) -> float:
    return max(0.1 * host_bytes, 2 * GIB)
