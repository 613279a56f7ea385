"""Five models added in the late-2026 catalog update, checked against their own config.json.

Each CONFIG below is written out from the model's config.json (the keys Hugging Face uses, with the URL) and goes
through deploykit's own reader (architecture_from_config). The catalog entry must say the same thing, and the derived
figures (parameter counts, KV-cache bytes per token) must equal numbers worked out by hand from those keys:

  KV per token, 16-bit, GQA  = layers x 2 (K and V) x kv_heads x head_dim x 2 bytes
  KV per token, 16-bit, MLA  = layers x (kv_lora_rank + qk_rope_head_dim) x 2 bytes
  parameters                 = attention + dense FFN + experts (gate, up, down) + router + embedding (+ LM head)
"""

import pytest

from deploykit.catalog.hf_config import architecture_from_config
from deploykit.catalog.loader import get_model
from deploykit.catalog.params import count_params
from deploykit.planning.memory import full_kv_bytes_per_token, kv_bytes_per_sequence

CONFIGS = {
    # https://huggingface.co/Qwen/Qwen3-30B-A3B-Instruct-2507/blob/main/config.json
    "qwen3-30b-a3b-instruct-2507": {
        "model_type": "qwen3_moe", "num_hidden_layers": 48, "hidden_size": 2048, "intermediate_size": 6144,
        "num_attention_heads": 32, "num_key_value_heads": 4, "head_dim": 128, "vocab_size": 151936,
        "max_position_embeddings": 262144, "tie_word_embeddings": False, "num_experts": 128,
        "num_experts_per_tok": 8, "moe_intermediate_size": 768, "decoder_sparse_step": 1, "mlp_only_layers": []},
    # https://huggingface.co/Qwen/Qwen3-Coder-480B-A35B-Instruct/blob/main/config.json
    "qwen3-coder-480b-a35b": {
        "model_type": "qwen3_moe", "num_hidden_layers": 62, "hidden_size": 6144, "intermediate_size": 8192,
        "num_attention_heads": 96, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
        "max_position_embeddings": 262144, "tie_word_embeddings": False, "num_experts": 160,
        "num_experts_per_tok": 8, "moe_intermediate_size": 2560, "decoder_sparse_step": 1,
        "shared_expert_intermediate_size": 0},
    # https://huggingface.co/zai-org/GLM-4.5-Air/blob/main/config.json
    "glm-4.5-air": {
        "model_type": "glm4_moe", "num_hidden_layers": 46, "hidden_size": 4096, "intermediate_size": 10944,
        "num_attention_heads": 96, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151552,
        "max_position_embeddings": 131072, "tie_word_embeddings": False, "n_routed_experts": 128,
        "num_experts_per_tok": 8, "n_shared_experts": 1, "moe_intermediate_size": 1408, "first_k_dense_replace": 1},
    # https://huggingface.co/moonshotai/Kimi-K2-Instruct/blob/main/config.json
    "kimi-k2-instruct": {
        "model_type": "kimi_k2", "num_hidden_layers": 61, "hidden_size": 7168, "intermediate_size": 18432,
        "num_attention_heads": 64, "num_key_value_heads": 64, "vocab_size": 163840,
        "max_position_embeddings": 131072, "tie_word_embeddings": False, "kv_lora_rank": 512, "q_lora_rank": 1536,
        "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128, "n_routed_experts": 384,
        "num_experts_per_tok": 8, "n_shared_experts": 1, "moe_intermediate_size": 2048, "first_k_dense_replace": 1},
    # https://huggingface.co/allenai/Olmo-3-7B-Instruct/blob/main/config.json
    "olmo-3-7b-instruct": {
        "model_type": "olmo3", "num_hidden_layers": 32, "hidden_size": 4096, "intermediate_size": 11008,
        "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 100278,
        "max_position_embeddings": 65536, "tie_word_embeddings": False, "sliding_window": 4096,
        "layer_types": (["sliding_attention"] * 3 + ["full_attention"]) * 8},
}

# name: (KV bytes per token over all layers at 16 bits, total params B, active params B), by hand from CONFIGS
HAND = {
    "qwen3-30b-a3b-instruct-2507": (48 * 2 * 4 * 128 * 2, 30.53, 3.353),    # 98,304 B
    "qwen3-coder-480b-a35b": (62 * 2 * 8 * 128 * 2, 480.15, 35.47),         # 253,952 B
    "glm-4.5-air": (46 * 2 * 8 * 128 * 2, 106.85, 13.42),                   # 188,416 B
    "kimi-k2-instruct": (61 * (512 + 64) * 2, 1026.4, 32.86),               # 70,272 B (MLA latent)
    "olmo-3-7b-instruct": (32 * 2 * 32 * 128 * 2, 7.297, 7.297),            # 524,288 B if every layer kept all
}
FIELDS = ("num_layers", "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim", "vocab_size", "max_context",
          "tie_word_embeddings", "attention", "moe")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_catalog_entry_is_what_deploykit_reads_from_the_config(name):
    derived = architecture_from_config(CONFIGS[name], source=f"config.json of {name}")
    cataloged = get_model(name).architecture
    for field in FIELDS:
        assert getattr(derived, field) == getattr(cataloged, field), f"{name}: {field}"
    assert cataloged.source.startswith("https://huggingface.co/") and cataloged.source.endswith("/config.json")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_derived_figures_match_the_hand_worked_numbers(name):
    spec = get_model(name)
    kv_per_token, total_b, active_b = HAND[name]
    assert full_kv_bytes_per_token(spec.architecture) == kv_per_token
    counted = count_params(spec.architecture)
    assert counted.total / 1e9 == pytest.approx(total_b, rel=0.002)
    assert counted.active / 1e9 == pytest.approx(active_b, rel=0.002)


def test_olmo3_keeps_only_a_window_in_three_of_four_layers():
    a = get_model("olmo-3-7b-instruct").architecture
    per_layer_token = 2 * 32 * 128 * 2
    # 8 full layers hold all 65,536 tokens, 24 sliding layers hold 4,096: 10,200,547,328 bytes (9.5 GiB), not 34 GB
    assert kv_bytes_per_sequence(a, 65536) == (8 * 65536 + 24 * 4096) * per_layer_token == 10_200_547_328


def test_kimi_k2_mla_cache_is_far_smaller_than_its_64_heads_suggest():
    a = get_model("kimi-k2-instruct").architecture
    gqa_equivalent = 61 * 2 * 64 * 128 * 2  # what per-head K/V (v_head_dim 128) would cost
    assert full_kv_bytes_per_token(a) * 28 < gqa_equivalent
