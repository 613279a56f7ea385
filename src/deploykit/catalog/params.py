"""Parameter counts computed from the architecture (config.json figures).

Used two ways: the catalog test checks each declared count against it, and models read from a bare config.json
(no model card) get their counts from it. Norms and biases are ignored (well under 0.1%).
"""

from __future__ import annotations

from dataclasses import dataclass

from deploykit.catalog.schema import Architecture


@dataclass(frozen=True)
class ParamCount:
    embedding: int  # input embedding + untied LM head
    attention: int  # all layers
    dense_ffn: int  # dense layers' FFN + shared experts
    experts: int  # all routed experts
    active_experts: int  # routed experts used per token

    @property
    def total(self) -> int:
        return self.embedding + self.attention + self.dense_ffn + self.experts

    @property
    def active(self) -> int:
        return self.embedding + self.attention + self.dense_ffn + self.active_experts

    @property
    def linear(self) -> int:
        """Parameters in linear layers (what FP8/INT8/INT4 quantization shrinks); embeddings stay 16-bit."""
        return self.attention + self.dense_ffn + self.experts


def attention_params_per_layer(a: Architecture) -> int:
    """One full-attention layer's projections (MLA: with its low-rank factors; DSA: plus the indexer)."""
    h = a.hidden_size
    at = a.attention
    if at.kind in ("mla", "dsa"):
        qk_head = (at.qk_nope_head_dim or 0) + at.qk_rope_head_dim
        heads = a.num_attention_heads
        q = (h * at.q_lora_rank + at.q_lora_rank * heads * qk_head) if at.q_lora_rank else h * heads * qk_head
        kv_a = h * (at.kv_lora_rank + at.qk_rope_head_dim)
        kv_b = at.kv_lora_rank * heads * ((at.qk_nope_head_dim or 0) + (at.v_head_dim or 0))
        o = heads * (at.v_head_dim or a.head_dim) * h
        indexer = 0
        if at.kind == "dsa":  # lightning indexer: query from the q latent, one key, one weight per indexer head
            n = at.index_n_heads or 0
            indexer = (at.q_lora_rank or h) * n * at.index_head_dim + h * at.index_head_dim + h * n
        return q + kv_a + kv_b + o + indexer
    q_and_o = 2 * h * a.num_attention_heads * a.head_dim
    k_and_v = 2 * h * a.num_kv_heads * a.head_dim
    return q_and_o + k_and_v


def state_params_per_layer(a: Architecture) -> int:
    """One Gated DeltaNet / Mamba2 layer's projections: input projection to q/k (or B/C) and v/z (or x/gate) plus
    the per-head gates, and the output projection (conv weights and norms are negligible)."""
    at = a.attention
    h = a.hidden_size
    keys = 2 * at.state_key_heads * at.state_key_dim
    values = at.state_heads * at.state_value_dim
    gates = 2 * at.state_heads if at.state_kind == "gated-deltanet" else at.state_heads  # beta, alpha / dt
    return h * (keys + 2 * values + gates) + values * h


def count_params(a: Architecture) -> ParamCount:
    h = a.hidden_size
    mats = 3 if a.ffn_gated else 2
    embedding = a.vocab_size * h * (1 if a.tie_word_embeddings else 2)
    if a.attention.kind == "hybrid":
        attention = ((a.attention.attention_layers or 0) * attention_params_per_layer(a)
                     + (a.attention.state_layers or 0) * state_params_per_layer(a))
    else:
        attention = a.num_layers * attention_params_per_layer(a)
    if a.moe is None:
        dense = a.num_layers if a.ffn_layers is None else a.ffn_layers
        return ParamCount(embedding, attention, dense * mats * h * a.intermediate_size, 0, 0)
    m = a.moe
    dense_layers = a.num_layers - m.moe_layers if a.ffn_layers is None else a.ffn_layers
    shared = m.shared_experts * mats * h * (m.shared_intermediate_size or m.expert_intermediate_size)
    router = h * m.num_experts
    one_expert = mats * h * m.expert_intermediate_size
    dense_ffn = dense_layers * mats * h * a.intermediate_size + m.moe_layers * (shared + router)
    return ParamCount(embedding, attention, dense_ffn, m.moe_layers * m.num_experts * one_expert,
                      m.moe_layers * m.experts_per_token * one_expert)
