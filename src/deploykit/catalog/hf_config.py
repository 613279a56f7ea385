"""A Hugging Face config.json (any repo, any local directory) read into the same ModelSpec as catalog models.

Pure: ``spec_from_config`` takes the parsed JSON; fetching it is deploykit.catalog.hub's job.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deploykit.catalog.loader import ModelSpec
from deploykit.catalog.params import count_params
from deploykit.catalog.schema import Architecture, Attention, MoE
from deploykit.errors import ModelConfigError

UNKNOWN_LICENSE = {"id": "unknown", "name": "unknown (not in the catalog: read the model card)",
                   "url": "https://huggingface.co", "commercial_use": False, "gotchas": [
                       "Licence not known to deploykit: check the model card before commercial use."]}


Size = Annotated[int, Field(ge=1, le=100_000_000)]
Count = Annotated[int, Field(ge=0, le=100_000_000)]
Name = Annotated[str, Field(max_length=200)]


class _ConfigFields(BaseModel):
    """The config.json fields deploykit reads, typed and ranged (JSON types as they are: no "8" for 8, no true for
    1); every other field passes untouched. A border check: what fails here is a ModelConfigError, not a crash."""

    model_config = ConfigDict(extra="allow", strict=True)

    num_hidden_layers: Size | None = None
    hidden_size: Size | None = None
    num_attention_heads: Size | None = None
    num_key_value_heads: Size | None = None
    head_dim: Size | None = None
    intermediate_size: Size | None = None
    intermediate_size_mlp: Size | None = None
    vocab_size: Size | None = None
    max_position_embeddings: Size | None = None
    n_positions: Size | None = None
    kv_lora_rank: Count | None = None
    qk_rope_head_dim: Count | None = None
    qk_nope_head_dim: Count | None = None
    v_head_dim: Count | None = None
    q_lora_rank: Count | None = None
    attention_chunk_size: Count | None = None
    layer_types: list[Name] | None = Field(None, max_length=100_000)
    sliding_window: Count | None = None
    use_sliding_window: bool | None = None
    sliding_window_pattern: Count | None = None
    n_routed_experts: Count | None = None
    num_local_experts: Count | None = None
    num_experts: Count | None = None
    moe_intermediate_size: Size | None = None
    first_k_dense_replace: Count | None = None
    interleave_moe_layer_step: Count | None = None
    decoder_sparse_step: Count | None = None
    n_shared_experts: Count | None = None
    num_experts_per_tok: Size | None = None
    model_type: Name | None = None
    hidden_act: Name | None = None
    tie_word_embeddings: bool | None = None
    torch_dtype: Name | None = None
    dtype: Name | None = None


class _Quantization(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    quant_method: Name | None = None


class _Config(_ConfigFields):
    text_config: _ConfigFields | None = None
    quantization_config: _Quantization | None = None


def check_config(config: object, source: str) -> dict[str, Any]:
    """config.json must be an object whose fields deploykit reads have their JSON types and sane ranges."""
    if not isinstance(config, dict):
        raise ModelConfigError(f"config.json at {source} is not a JSON object", fix="point at the model's config.json")
    try:
        _Config.model_validate(config)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ModelConfigError(f"config.json at {source}: {where}: {first['msg']} (got {first.get('input')!r:.60})",
                               fix="check the repository's config.json; deploykit plans decoder-only "
                                   "transformer LLMs") from None
    return config


def _text_config(config: dict[str, Any]) -> dict[str, Any]:
    # Multimodal wrappers (Llama 4, Gemma 3, Mistral 3) keep the language model under text_config.
    return config.get("text_config") or config


def _attention(c: dict[str, Any], num_layers: int) -> Attention:
    if c.get("kv_lora_rank"):
        return Attention(kind="mla", kv_lora_rank=c["kv_lora_rank"], qk_rope_head_dim=c["qk_rope_head_dim"],
                         qk_nope_head_dim=c.get("qk_nope_head_dim"), v_head_dim=c.get("v_head_dim"),
                         q_lora_rank=c.get("q_lora_rank"))
    if c.get("attention_chunk_size"):
        return Attention(kind="chunked", chunk=c["attention_chunk_size"], global_every=4)
    layer_types = c.get("layer_types")
    window = c.get("sliding_window")
    uses_window = window and c.get("use_sliding_window", True)
    if uses_window and isinstance(layer_types, list) and layer_types:
        globals_ = [i for i, t in enumerate(layer_types) if t == "full_attention"]
        if not globals_:
            return Attention(kind="sliding", window=window)
        step = globals_[0] + 1
        return Attention(kind="sliding", window=window, global_every=step)
    if uses_window:
        pattern = c.get("sliding_window_pattern")
        return Attention(kind="sliding", window=window, global_every=pattern if pattern and pattern > 1 else None)
    return Attention()


def _moe(c: dict[str, Any], num_layers: int) -> MoE | None:
    experts = c.get("n_routed_experts") or c.get("num_local_experts") or c.get("num_experts")
    if not experts or experts < 2:
        return None
    expert_size = c.get("moe_intermediate_size") or c["intermediate_size"]
    first_dense = c.get("first_k_dense_replace", 0)
    step = c.get("interleave_moe_layer_step") or c.get("decoder_sparse_step") or 1
    moe_layers = len([i for i in range(first_dense, num_layers) if (i + 1) % step == 0])
    shared = c.get("n_shared_experts")
    if shared is None:
        shared = 1 if c.get("model_type") == "llama4_text" else 0
    # transformers' Llama4TextMoe builds its shared expert at intermediate_size (the expert size), not _mlp.
    shared_size = None
    return MoE(num_experts=experts, experts_per_token=c.get("num_experts_per_tok", 1), shared_experts=shared,
               expert_intermediate_size=expert_size, shared_intermediate_size=shared_size or None,
               moe_layers=max(moe_layers, 1))


def _head_dim(c: dict[str, Any]) -> int:
    if c.get("kv_lora_rank"):  # MLA: the query/key head is the non-RoPE part plus the RoPE part
        return (c.get("qk_nope_head_dim") or 0) + c["qk_rope_head_dim"]
    return c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]


def architecture_from_config(config: dict[str, Any], source: str) -> Architecture:
    c = _text_config(config)
    try:
        layers = c["num_hidden_layers"]
        hidden = c["hidden_size"]
        heads = c["num_attention_heads"]
        dense_ffn = c.get("intermediate_size_mlp") or c.get("intermediate_size") or 4 * hidden
        return Architecture(
            num_layers=layers, hidden_size=hidden, intermediate_size=dense_ffn,
            num_attention_heads=heads, num_kv_heads=c.get("num_key_value_heads") or heads,
            head_dim=_head_dim(c), vocab_size=c["vocab_size"],
            max_context=c.get("max_position_embeddings") or c.get("n_positions") or 2048,
            tie_word_embeddings=bool(config.get("tie_word_embeddings", c.get("tie_word_embeddings", False))),
            attention=_attention(c, layers), moe=_moe(c, layers),
            ffn_gated=c.get("hidden_act", "silu") not in ("gelu", "gelu_new", "relu") or "llama" in
            c.get("model_type", ""), source=source)
    except KeyError as exc:
        raise ModelConfigError(f"config.json at {source} lacks {exc.args[0]!r}",
                               fix="deploykit plans decoder-only transformer LLMs; check this is one") from exc
    except (ValueError, TypeError, ZeroDivisionError, OverflowError) as exc:
        raise ModelConfigError(f"config.json at {source} is inconsistent: {exc}", fix="check the repository") from exc


def native_dtype(config: dict[str, Any]) -> str:
    quant = (config.get("quantization_config") or {}).get("quant_method", "")
    if quant == "fp8":
        return "fp8"
    dtype = str(config.get("torch_dtype") or config.get("dtype") or _text_config(config).get("torch_dtype")
                or "bfloat16")
    return {"float16": "fp16", "float32": "fp32"}.get(dtype, "bf16")


def catalog_name_for(repo: str) -> str:
    slug = re.sub(r"[^a-z0-9.\-]+", "-", repo.split("/")[-1].lower()).strip("-.")
    return slug if len(slug) >= 2 else f"{slug}-model".lstrip("-")


def spec_from_config(config: dict[str, Any], *, repo: str, source: str, revision: str = "main",
                     provenance: str = "hf-config", license: dict[str, Any] | None = None,
                     gated: bool = False) -> ModelSpec:
    check_config(config, source)
    arch = architecture_from_config(config, source)
    counted = count_params(arch)
    c = _text_config(config)
    default_context = min(arch.max_context, 32768)
    hf_repo = repo if re.match(r"^[\w.\-]+/[\w.\-]+$", repo) else f"local/{catalog_name_for(repo)}"
    try:
        return _spec(config, repo, source, revision, provenance, license, gated, arch, counted, c, default_context,
                     hf_repo)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ModelConfigError(f"config.json at {source} does not describe a model deploykit can plan: "
                               f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}",
                               fix="check the repository's config.json") from None


def _spec(config, repo, source, revision, provenance, license, gated, arch, counted, c, default_context,
          hf_repo) -> ModelSpec:  # noqa: ANN001 - spec_from_config's own values
    return ModelSpec(
        name=catalog_name_for(repo), display_name=repo, hf_repo=hf_repo, revision=revision, gated=gated,
        uses=["chat"], params_total_b=round(counted.total / 1e9, 3), params_active_b=round(counted.active / 1e9, 3),
        params_source=f"computed from {source} (no model card figure)", default_context=default_context,
        native_dtype=native_dtype(config), architecture=arch, family=c.get("model_type") or "unknown",
        origin=repo.split("/")[0] if "/" in repo else "local", origin_country="ZZ",
        license=license or UNKNOWN_LICENSE, provenance=provenance)
