"""Issue 12: KV cache of hybrid linear-attention / state-space models and of DeepSeek sparse attention, against numbers
worked out by hand below (the configs are the real ones in tests/fixtures/hf_configs, sources in its README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploykit.catalog.hf_config import architecture_from_config
from deploykit.catalog.params import count_params
from deploykit.catalog.schema import Attention
from deploykit.planning import memory

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "hf_configs"
SRC = "file://tests/fixtures/hf_configs"


def arch(name: str):
    return architecture_from_config(json.loads((CONFIGS / f"{name}.json").read_text()), SRC)


# ------------------------------------------------------------------------------------ Qwen3-Next (Gated DeltaNet)
def test_qwen3_next_reads_as_hybrid_with_12_attention_layers():
    at = arch("qwen3-next-80b-a3b-instruct").attention
    assert at.kind == "hybrid" and at.state_kind == "gated-deltanet"
    # full_attention_interval 4 over 48 layers: layers 3, 7, ..., 47 attend; the other 36 are Gated DeltaNet
    assert (at.attention_layers, at.state_layers) == (12, 36)
    assert (at.state_heads, at.state_key_heads, at.state_key_dim, at.state_value_dim, at.conv_kernel) == (
        32, 16, 128, 128, 4)


def test_qwen3_next_kv_per_token_counts_only_the_attention_layers():
    a = arch("qwen3-next-80b-a3b-instruct")
    # 12 layers x (K + V) x 2 KV heads x 256 head_dim x 2 bytes = 24,576 bytes per token
    assert memory.full_kv_bytes_per_token(a) == 12 * 2 * 2 * 256 * 2 == 24_576
    # all 48 layers as full attention would be 4x that: the overstatement the issue reports
    assert memory.full_kv_bytes_per_token(a.model_copy(update={"attention": Attention()})) == 4 * 24_576


def test_qwen3_next_fixed_state_per_sequence():
    a = arch("qwen3-next-80b-a3b-instruct")
    # conv: (4 - 1) x (2 x 16 x 128 + 32 x 128) = 3 x 8,192 = 24,576 values
    # delta-rule state: 32 heads x 128 x 128 = 524,288 values
    # (24,576 + 524,288) x 2 bytes = 1,097,728 bytes per layer; x 36 layers = 39,518,208 bytes (37.7 MiB)
    assert memory.state_bytes_per_layer(a) == 1_097_728
    assert memory.state_bytes_per_sequence(a) == 39_518_208
    # a 32,768-token sequence: 32,768 x 24,576 + 39,518,208 = 844,824,576 bytes (805.7 MiB)
    assert memory.kv_bytes_per_sequence(a, 32768) == 32768 * 24_576 + 39_518_208 == 844_824_576
    # the state does not grow with the context
    assert memory.kv_bytes_per_sequence(a, 65536) - memory.kv_bytes_per_sequence(a, 32768) == 32768 * 24_576


def test_qwen3_next_state_and_kv_split_across_tensor_parallel_ranks():
    a = arch("qwen3-next-80b-a3b-instruct")
    # TP 2: 1 KV head per rank (2 / 2) -> 12,288 bytes per token; state heads split in half -> 19,759,104 bytes
    assert memory.full_kv_bytes_per_token(a, tp=2) == 12_288
    assert memory.state_bytes_per_sequence(a, tp=2) == 39_518_208 / 2
    # PP 2: each stage holds 6 attention and 18 DeltaNet layers
    assert memory.kv_bytes_per_sequence(a, 1000, pp=2) == 1000 * 6 * 2048 + 18 * 1_097_728


def test_qwen3_next_parameter_count_matches_the_card():
    counted = count_params(arch("qwen3-next-80b-a3b-instruct"))
    # card: 80B total, 3B activated (its active figure leaves out both embedding matrices, 2 x 151,936 x 2,048);
    # the catalog's tolerances (test_catalog): 5% on the total, 10% on the active count
    assert counted.total / 1e9 == pytest.approx(80, rel=0.05)
    assert (counted.active - 2 * 151_936 * 2048) / 1e9 == pytest.approx(3.0, rel=0.10)


# ---------------------------------------------------------------------------------- Granite 4.0 hybrid (Mamba2)
# GraniteMoeHybridConfig example from the transformers documentation (model_doc/granitemoehybrid): 8 layers,
# 3 Mamba2 : 1 attention.
GRANITE_DOC = {
    "architectures": ["GraniteMoeHybridForCausalLM"], "model_type": "granitemoehybrid", "hidden_size": 512,
    "intermediate_size": 1024, "layer_types": ["mamba", "mamba", "mamba", "attention"] * 2, "mamba_d_conv": 4,
    "mamba_d_head": 128, "mamba_d_state": 128, "mamba_expand": 2, "mamba_n_groups": 1, "mamba_n_heads": 8,
    "max_position_embeddings": 4096, "num_attention_heads": 8, "num_experts_per_tok": 2, "num_hidden_layers": 8,
    "num_key_value_heads": 8, "num_local_experts": 8, "shared_intermediate_size": 512, "tie_word_embeddings": True,
    "torch_dtype": "bfloat16", "vocab_size": 49152,
}


def test_mamba2_hybrid_state_and_kv():
    a = architecture_from_config(GRANITE_DOC, SRC)
    at = a.attention
    assert (at.kind, at.state_kind, at.attention_layers, at.state_layers) == ("hybrid", "mamba2", 2, 6)
    # conv: (4 - 1) x (8 heads x 128 + 2 x 1 group x 128 state) = 3 x 1,280 = 3,840 values
    # SSM: 8 heads x 128 head_dim x 128 state = 131,072 values; (3,840 + 131,072) x 2 bytes = 269,824 per layer
    assert memory.state_bytes_per_layer(a) == 269_824
    # KV: 2 attention layers x 2 x 8 KV heads x 64 head_dim x 2 bytes = 4,096 bytes per token
    assert memory.full_kv_bytes_per_token(a) == 4096
    assert memory.kv_bytes_per_sequence(a, 4096) == 4096 * 4096 + 6 * 269_824 == 18_396_160


def test_fp32_ssm_state_doubles_the_ssm_part_only():
    # Nemotron-H / Qwen3.5 configs pin "mamba_ssm_cache_dtype": "float32"; the conv state stays bf16
    a = architecture_from_config({**GRANITE_DOC, "mamba_ssm_cache_dtype": "float32"}, SRC)
    assert a.attention.state_dtype_bytes == 4.0
    # 3,840 conv values x 2 + 131,072 SSM values x 4 = 7,680 + 524,288 = 531,968 bytes per layer
    assert memory.state_bytes_per_layer(a) == 531_968
    assert memory.full_kv_bytes_per_token(a) == 4096


def test_hybrid_needs_its_state_figures():
    with pytest.raises(ValueError, match="state_heads"):
        Attention(kind="hybrid", attention_layers=2, state_layers=6, state_kind="mamba2", state_key_heads=1,
                  state_key_dim=128, state_value_dim=64, conv_kernel=4)


# -------------------------------------------------------------------------- DeepSeek V3.2 sparse attention (DSA)
def test_deepseek_v32_reads_as_dsa():
    at = arch("deepseek-v3.2").attention
    assert (at.kind, at.kv_lora_rank, at.qk_rope_head_dim, at.index_head_dim, at.index_n_heads, at.index_topk) == (
        "dsa", 512, 64, 128, 64, 2048)


def test_deepseek_v32_cache_is_the_mla_latent_plus_the_indexer_keys():
    a = arch("deepseek-v3.2")
    # bf16 cache: (512 + 64) x 2 = 1,152 bytes of MLA latent + 128 FP8 index key bytes + 128/128 x 4 scale bytes
    # = 1,284 bytes per token per layer; x 61 layers = 78,324
    assert memory.kv_bytes_per_token_layer(a, 1, "bf16") == 1284
    assert memory.full_kv_bytes_per_token(a) == 78_324
    # fp8 cache (vLLM's fp8_ds_mla): 512 FP8 + 4 fp32 scales (16) + 64 bf16 RoPE (128) = 656, + 132 index = 788
    assert memory.kv_bytes_per_token_layer(a, 8, "fp8") == 788
    # the whole latent and index key sit on every TP rank (shared by all heads)
    assert memory.kv_bytes_per_token_layer(a, 8, "bf16") == 1284
    # sparse attention reads 2,048 tokens per query but caches every token: a sequence costs its full length
    assert memory.kv_bytes_per_sequence(a, 100_000) == 100_000 * 78_324


def test_deepseek_v32_indexer_parameters_are_counted():
    with_indexer = count_params(arch("deepseek-v3.2"))
    plain = count_params(arch("deepseek-v3.2").model_copy(update={"attention": Attention(
        kind="mla", kv_lora_rank=512, qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128, q_lora_rank=1536)}))
    # per layer: wq_b 1,536 x 64 x 128 + wk 7,168 x 128 + weights_proj 7,168 x 64 = 12,582,912 + 917,504 + 458,752
    assert with_indexer.attention - plain.attention == 61 * (12_582_912 + 917_504 + 458_752)


# ----------------------------------------------------------------------------------------------- Nemotron-H (Mamba2)
# nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B's layer pattern and mixer fields as copied in a public test (only the fields
# a KV formula uses: hybrid_override_pattern, heads, head_dim, hidden, mamba_*, n_groups, ssm_state_size,
# conv_kernel, mamba_ssm_cache_dtype float32). The MoE sizes and vocabulary below are placeholders so the config
# parses; no parameter count is checked against them.
NEMOTRON_3_NANO = {
    "architectures": ["NemotronHForCausalLM"], "model_type": "nemotron_h",
    "hybrid_override_pattern": "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME",
    "num_attention_heads": 32, "num_key_value_heads": 2, "head_dim": 128, "hidden_size": 2688,
    "mamba_num_heads": 64, "mamba_head_dim": 64, "ssm_state_size": 128, "n_groups": 8, "conv_kernel": 4,
    "mamba_ssm_cache_dtype": "float32",
    "num_hidden_layers": 52, "vocab_size": 1000, "intermediate_size": 1024, "n_routed_experts": 8,
    "num_experts_per_tok": 2, "moe_intermediate_size": 256, "mlp_hidden_act": "relu2",
}


def test_nemotron_h_pattern_gives_the_layer_mix():
    a = architecture_from_config(NEMOTRON_3_NANO, SRC)
    at = a.attention
    pattern = NEMOTRON_3_NANO["hybrid_override_pattern"]
    assert len(pattern) == 52 and (pattern.count("*"), pattern.count("M"), pattern.count("E")) == (6, 23, 23)
    assert (at.kind, at.state_kind, at.attention_layers, at.state_layers) == ("hybrid", "mamba2", 6, 23)
    assert a.moe.moe_layers == 23 and a.ffn_layers == 0 and a.ffn_gated is False
    # KV: 6 layers x 2 x 2 KV heads x 128 x 2 bytes = 6,144 bytes per token
    assert memory.full_kv_bytes_per_token(a) == 6144
    # state per Mamba layer: conv (4-1) x (64 x 64 + 2 x 8 x 128) = 3 x 6,144 = 18,432 values x 2 bytes = 36,864;
    # SSM 64 x 64 x 128 = 524,288 values x 4 bytes (float32) = 2,097,152; per layer 2,134,016; x 23 = 49,082,368
    assert memory.state_bytes_per_layer(a) == 2_134_016
    assert memory.state_bytes_per_sequence(a) == 49_082_368


def test_ffn_only_layers_carry_the_dense_ffn():
    # 4 layers "M*--": two dense FFN layers (2 matrices, relu2), one attention, one Mamba2 layer
    config = {**NEMOTRON_3_NANO, "hybrid_override_pattern": "M*--", "num_hidden_layers": 4, "n_routed_experts": None,
              "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
              "mamba_num_heads": 4, "mamba_head_dim": 16, "n_groups": 1, "ssm_state_size": 8,
              "intermediate_size": 128, "vocab_size": 100}
    a = architecture_from_config(config, SRC)
    counted = count_params(a)
    assert a.moe is None and a.ffn_layers == 2
    assert counted.dense_ffn == 2 * 2 * 64 * 128  # 2 layers x (up + down) x 64 x 128
    # attention: q,o 2 x 64 x 4 x 16 + k,v 2 x 64 x 2 x 16 = 12,288; Mamba2: in_proj 64 x (2 x 1 x 8 + 2 x 64 + 4)
    # = 64 x 148 = 9,472 and out_proj 64 x 64 = 4,096 -> 13,568
    assert counted.attention == 12_288 + 13_568
