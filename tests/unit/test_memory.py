"""The memory model against numbers worked out by hand from each model's config.json."""

import pytest

from deploykit.catalog.loader import get_model
from deploykit.planning import memory
from deploykit.planning.memory import GIB, kv_bytes_per_sequence


def test_dense_gqa_llama_8b():
    a = get_model("llama-3.1-8b").architecture
    # 2 (K and V) x 32 layers x 8 KV heads x 128 dims x 2 bytes
    assert memory.full_kv_bytes_per_token(a) == 2 * 32 * 8 * 128 * 2 == 131_072
    assert kv_bytes_per_sequence(a, 32768) == 4 * GIB
    assert kv_bytes_per_sequence(a, 32768, kv_format="fp8") == 2 * GIB
    assert kv_bytes_per_sequence(a, 32768, tp=2) == 2 * GIB
    assert kv_bytes_per_sequence(a, 32768, pp=2) == 2 * GIB


def test_kv_heads_replicate_when_tp_exceeds_them():
    a = get_model("llama-3.1-70b").architecture  # 80 layers, 8 KV heads
    assert memory.full_kv_bytes_per_token(a, tp=4) == 2 * 80 * 2 * 128 * 2
    assert memory.full_kv_bytes_per_token(a, tp=8) == 2 * 80 * 1 * 128 * 2
    assert memory.full_kv_bytes_per_token(a, tp=16) == 2 * 80 * 1 * 128 * 2  # not halved again: replicated


def test_mla_deepseek():
    a = get_model("deepseek-v3").architecture
    # (kv_lora_rank 512 + rope 64) x 61 layers x 2 bytes, the same on every TP rank
    assert memory.full_kv_bytes_per_token(a) == 576 * 61 * 2 == 70_272
    assert memory.full_kv_bytes_per_token(a, tp=8) == 70_272
    assert memory.full_kv_bytes_per_token(a, kv_format="fp8") == 35_136


def test_sliding_window_gemma_3_27b():
    a = get_model("gemma-3-27b").architecture  # 62 layers, every 6th global -> 10 global, 52 local of 1024
    assert memory.layer_split(a) == (10, 52)
    per_layer_token = 2 * a.num_kv_heads * a.head_dim * 2
    expected = (10 * 32768 + 52 * a.attention.window) * per_layer_token
    assert kv_bytes_per_sequence(a, 32768) == expected
    # a short context is shorter than the window: every layer holds all of it
    assert kv_bytes_per_sequence(a, 512) == 62 * 512 * per_layer_token


def test_chunked_attention_llama4_scout_at_one_million_tokens():
    a = get_model("llama4-scout").architecture  # 48 layers: 12 global + 36 chunked (8192), 8 KV heads
    assert memory.layer_split(a) == (12, 36)
    per_layer_token_tp8 = 2 * 1 * 128 * 2
    assert kv_bytes_per_sequence(a, 1_000_000, tp=8) == (12 * 1_000_000 + 36 * 8192) * per_layer_token_tp8


def test_ggml_quantized_kv_block_sizes():
    a = get_model("llama-3.1-8b").architecture
    assert memory.full_kv_bytes_per_token(a, kv_format="q8_0") == 2 * 32 * 8 * 128 * 34 / 32
    assert memory.full_kv_bytes_per_token(a, kv_format="q4_0") == 2 * 32 * 8 * 128 * 18 / 32


def test_weights_dense_and_moe():
    llama = get_model("llama-3.1-8b")
    w = memory.weight_bytes(llama, "bf16")
    assert w.total == pytest.approx(8.03e9 * 2, rel=0.001)
    fp8 = memory.weight_bytes(llama, "fp8")
    embed = 128256 * 4096
    # linear layers at 1 byte, embedding and LM head (untied) at 2 bytes
    assert fp8.total == pytest.approx((8.03e9 - 2 * embed) + 2 * embed * 2, rel=0.001)
    mixtral = get_model("mixtral-8x7b")
    assert memory.weight_bytes(mixtral, "bf16").total == pytest.approx(mixtral.params_total_b * 2e9, rel=0.001)
    # sharding: TP splits everything; PP puts the embedding on the first stage and the LM head on the last
    assert w.per_gpu(2, 1) == pytest.approx(w.total / 2, rel=0.001)
    assert w.per_gpu(1, 2) == pytest.approx(w.layers / 2 + w.embedding, rel=0.001)


def test_published_gguf_size_wins():
    spec = get_model("gemma-3-270m")
    art = [a for a in spec.artifacts if a.format == "gguf-q4_k_m" and a.size_gb][0]
    assert memory.weight_bytes(spec, "gguf-q4_k_m", art.size_gb).total == pytest.approx(art.size_gb * 1e9, rel=1e-3)


def test_activation_estimate_matches_llama_8b_log():
    # vLLM 0.19 on H100: "torch peak memory increase: 1.89 GiB" at 8192 batched tokens, 1024 sequences
    a = get_model("llama-3.1-8b").architecture
    got = memory.vllm_activation_bytes(a, tp=1, batched_tokens=8192, max_num_seqs=1024) / GIB
    assert got == pytest.approx(1.89, abs=0.05)
