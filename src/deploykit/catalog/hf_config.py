"""A Hugging Face config.json (any repo, any local directory) read into the same ModelSpec as catalog models.

Pure: ``spec_from_config`` takes the parsed JSON; fetching it is deploykit.catalog.hub's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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


def _hybrid(c: dict[str, Any], num_layers: int) -> Attention | None:
    """Hybrid linear-attention / state-space models: Qwen3-Next (Gated DeltaNet, layer_types or
    full_attention_interval) and Granite 4.0 hybrids (Mamba2, layer_types 'mamba' / 'attention')."""
    layer_types = c.get("layer_types") if isinstance(c.get("layer_types"), list) else None
    if c.get("linear_num_value_heads"):  # Gated DeltaNet
        if layer_types:
            full = sum(1 for t in layer_types if t == "full_attention")
        else:
            full = num_layers // (c.get("full_attention_interval") or 4)
        return Attention(kind="hybrid", attention_layers=full, state_layers=num_layers - full,
                         state_kind="gated-deltanet", state_heads=c["linear_num_value_heads"],
                         state_key_heads=c["linear_num_key_heads"], state_key_dim=c["linear_key_head_dim"],
                         state_value_dim=c["linear_value_head_dim"], conv_kernel=c.get("linear_conv_kernel_dim", 4))
    pattern = c.get("hybrid_override_pattern")
    if isinstance(pattern, str) and c.get("mamba_num_heads"):  # Nemotron-H: one mixer or FFN per layer
        return Attention(kind="hybrid", attention_layers=pattern.count("*"), state_layers=pattern.count("M"),
                         state_kind="mamba2", state_heads=c["mamba_num_heads"], state_key_heads=c.get("n_groups", 1),
                         state_key_dim=c["ssm_state_size"], state_value_dim=c["mamba_head_dim"],
                         conv_kernel=c.get("conv_kernel", 4))
    if c.get("mamba_n_heads") and layer_types:  # Granite 4.0 (granitemoehybrid)
        full = sum(1 for t in layer_types if t == "attention")
        return Attention(kind="hybrid", attention_layers=full, state_layers=num_layers - full, state_kind="mamba2",
                         state_heads=c["mamba_n_heads"], state_key_heads=c.get("mamba_n_groups", 1),
                         state_key_dim=c["mamba_d_state"], state_value_dim=c["mamba_d_head"],
                         conv_kernel=c.get("mamba_d_conv", 4))
    return None


def _state_dtype_bytes(c: dict[str, Any]) -> float | None:
    dtype = c.get("mamba_ssm_cache_dtype") or c.get("mamba_ssm_dtype")
    return {"float32": 4.0, "float16": 2.0, "bfloat16": 2.0}.get(str(dtype)) if dtype else None


def _attention(c: dict[str, Any], num_layers: int) -> Attention:
    hybrid = _hybrid(c, num_layers)
    if hybrid is not None:
        pinned = _state_dtype_bytes(c)
        return hybrid.model_copy(update={"state_dtype_bytes": pinned}) if pinned else hybrid
    if c.get("kv_lora_rank") and c.get("index_head_dim"):  # DeepSeek V3.2 sparse attention
        return Attention(kind="dsa", kv_lora_rank=c["kv_lora_rank"], qk_rope_head_dim=c["qk_rope_head_dim"],
                         qk_nope_head_dim=c.get("qk_nope_head_dim"), v_head_dim=c.get("v_head_dim"),
                         q_lora_rank=c.get("q_lora_rank"), index_head_dim=c["index_head_dim"],
                         index_n_heads=c.get("index_n_heads"), index_topk=c.get("index_topk"))
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


def _ffn_layers(c: dict[str, Any]) -> int | None:
    """Nemotron-H's hybrid_override_pattern: 'M' Mamba2, '*' attention, '-' dense FFN, 'E' MoE -- one per layer."""
    pattern = c.get("hybrid_override_pattern")
    return pattern.count("-") if isinstance(pattern, str) else None


def _moe(c: dict[str, Any], num_layers: int) -> MoE | None:
    experts = c.get("n_routed_experts") or c.get("num_local_experts") or c.get("num_experts")
    if not experts or experts < 2:
        return None
    expert_size = c.get("moe_intermediate_size") or c["intermediate_size"]
    first_dense = c.get("first_k_dense_replace", 0)
    step = c.get("interleave_moe_layer_step") or c.get("decoder_sparse_step") or 1
    moe_layers = len([i for i in range(first_dense, num_layers) if (i + 1) % step == 0])
    if isinstance(c.get("hybrid_override_pattern"), str):
        moe_layers = c["hybrid_override_pattern"].count("E")
    shared = c.get("n_shared_experts")
    # Qwen2-MoE / Qwen3-Next: one shared expert of shared_expert_intermediate_size (0 or absent: none).
    shared_size = c.get("shared_expert_intermediate_size") or None
    if shared is None:
        shared = 1 if c.get("model_type") == "llama4_text" or shared_size else 0
    # transformers' Llama4TextMoe builds its shared expert at intermediate_size (the expert size), not _mlp.
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
            attention=_attention(c, layers), moe=_moe(c, layers), ffn_layers=_ffn_layers(c),
            ffn_gated=(c.get("mlp_hidden_act") or c.get("hidden_act", "silu")) not in (
                "gelu", "gelu_new", "relu", "relu2") or "llama" in c.get("model_type", ""), source=source)
    except KeyError as exc:
        raise ModelConfigError(f"config.json at {source} lacks {exc.args[0]!r}",
                               fix="deploykit plans decoder-only transformer LLMs; check this is one") from exc
    except (ValueError, TypeError, ZeroDivisionError, OverflowError) as exc:
        raise ModelConfigError(f"config.json at {source} is inconsistent: {exc}", fix="check the repository") from exc


def native_dtype(config: dict[str, Any]) -> str:
    """Format of the weights the repo stores: its quantization_config's, else torch_dtype."""
    quant = read_quantization(config)
    if quant is not None:
        return quant.format
    dtype = str(config.get("torch_dtype") or config.get("dtype") or _text_config(config).get("torch_dtype")
                or "bfloat16")
    return {"float16": "fp16", "float32": "fp32"}.get(dtype, "bf16")


@dataclass(frozen=True)
class Quantization:
    """What a quantization_config says the checkpoint stores."""

    format: str  # a WeightFormat of data/weight_formats.yaml
    scope: str  # linear | experts
    group_size: int | None  # values per scale as stored (None: per channel / tensor, or the format's usual)
    method: str  # quant_method as written
    detail: str  # the fields it was read from, for people


def _ignores_attention(patterns: list[str]) -> bool:
    return any(re.search(r"attn|attention", str(p)) for p in patterns)


def _compressed_tensors(q: dict[str, Any], moe: bool) -> Quantization:
    groups = [g for g in (q.get("config_groups") or {}).values() if isinstance(g, dict)]
    weights = [g.get("weights") or {} for g in groups]
    if not weights:
        raise ModelConfigError("compressed-tensors quantization_config has no config_groups with weights",
                               fix="check the repository's config.json")
    w = weights[0]
    bits, kind, group = w.get("num_bits"), w.get("type", "int"), w.get("group_size")
    acts = groups[0].get("input_activations")
    fmt = {(8, "float"): "fp8", (8, "int"): "int8", (4, "int"): "w4a16", (4, "float"): "nvfp4"}.get((bits, kind))
    if fmt is None:
        raise ModelConfigError(f"compressed-tensors {bits}-bit {kind} weights are not a format deploykit sizes",
                               fix="plan the unquantized base model, or an FP8 / W8A8 / W4A16 / NVFP4 checkpoint")
    ignore = [str(p) for p in q.get("ignore") or []]
    scope = "experts" if moe and _ignores_attention(ignore) else "linear"
    detail = (f"compressed-tensors {q.get('format', '')}: weights {bits}-bit {kind}, strategy "
              f"{w.get('strategy')}, group_size {group}, activations "
              f"{'none (weight-only)' if not acts else str(acts.get('num_bits')) + '-bit ' + str(acts.get('type'))}"
              + (f", ignore {ignore}" if ignore else ""))
    return Quantization(fmt, scope, group if w.get("strategy") in ("group", "tensor_group") else None,
                        "compressed-tensors", detail)


def read_quantization(config: dict[str, Any]) -> Quantization | None:
    """The quantization_config of a config.json (None: not quantized). Unknown methods are an error rather than a
    silent BF16 estimate."""
    q = config.get("quantization_config") or _text_config(config).get("quantization_config")
    if not isinstance(q, dict) or not q:
        return None
    c = _text_config(config)
    moe = bool(c.get("n_routed_experts") or c.get("num_local_experts") or c.get("num_experts"))
    method = str(q.get("quant_method", "")).lower()
    if method == "fp8":
        block = q.get("weight_block_size")
        return Quantization("fp8", "linear", None, method, f"fp8 {q.get('fmt', 'e4m3')}, weight_block_size {block}")
    if method == "mxfp4":
        skip = [str(p) for p in q.get("modules_to_not_convert") or []]
        scope = "experts" if moe and _ignores_attention(skip) or moe and not skip else "linear"
        return Quantization("mxfp4", scope, None, method, f"mxfp4, modules_to_not_convert {skip}")
    if method == "compressed-tensors":
        return _compressed_tensors(q, moe)
    if method in ("awq", "gptq", "awq_marlin", "gptq_marlin"):
        bits = q.get("bits") or q.get("w_bit") or 4
        group = q.get("group_size") or q.get("q_group_size")
        if bits == 4:
            fmt = "awq-int4" if method.startswith("awq") else "gptq-int4"
        elif bits == 8 and method.startswith("gptq"):
            fmt = "int8"
        else:
            raise ModelConfigError(f"{method} with {bits}-bit weights is not a format deploykit sizes",
                                   fix="plan a 4-bit AWQ/GPTQ or an 8-bit checkpoint instead")
        return Quantization(fmt, "linear", group if group and group > 0 else None, method,
                            f"{method}: bits {bits}, group_size {group}")
    if method in ("modelopt", "modelopt_fp4"):
        algo = str(q.get("quant_algo") or (q.get("quantization") or {}).get("quant_algo") or "").upper()
        fmt = {"FP8": "fp8", "NVFP4": "nvfp4"}.get(algo)
        if fmt is None:
            raise ModelConfigError(f"ModelOpt quant_algo '{algo}' is not a format deploykit sizes",
                                   fix="plan an FP8 or NVFP4 ModelOpt checkpoint, or the unquantized model")
        exclude = [str(p) for p in q.get("exclude_modules") or (q.get("quantization") or {}).get(
            "exclude_modules") or []]
        scope = "experts" if moe and _ignores_attention(exclude) else "linear"
        group = q.get("group_size") or (q.get("quantization") or {}).get("group_size")
        return Quantization(fmt, scope, group if fmt == "nvfp4" else None, method,
                            f"modelopt quant_algo {algo}, group_size {group}")
    if method == "bitsandbytes":
        if q.get("load_in_4bit"):
            return Quantization("nf4", "linear", None, method,
                                f"bitsandbytes 4-bit {q.get('bnb_4bit_quant_type', 'fp4')}")
        if q.get("load_in_8bit"):
            return Quantization("bnb-int8", "linear", None, method, "bitsandbytes LLM.int8()")
    raise ModelConfigError(f"quantization method '{method or q}' in config.json is not one deploykit sizes",
                           fix="plan the unquantized base model, or a checkpoint in fp8, mxfp4, compressed-tensors, "
                               "awq, gptq, modelopt or bitsandbytes")


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
    quant = read_quantization(config)
    hf_repo = repo if re.match(r"^[\w.\-]+/[\w.\-]+$", repo) else f"local/{catalog_name_for(repo)}"
    try:
        return _spec(config, repo, source, revision, provenance, license, gated, arch, counted, c, default_context,
                     hf_repo, quant)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ModelConfigError(f"config.json at {source} does not describe a model deploykit can plan: "
                               f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}",
                               fix="check the repository's config.json") from None


def _spec(config, repo, source, revision, provenance, license, gated, arch, counted, c, default_context,
          hf_repo, quant) -> ModelSpec:  # noqa: ANN001 - spec_from_config's own values
    return ModelSpec(
        name=catalog_name_for(repo), display_name=repo, hf_repo=hf_repo, revision=revision, gated=gated,
        uses=["chat"], params_total_b=round(counted.total / 1e9, 3), params_active_b=round(counted.active / 1e9, 3),
        params_source=f"computed from {source} (no model card figure)", default_context=default_context,
        native_dtype=native_dtype(config), architecture=arch, family=c.get("model_type") or "unknown",
        quantized_layers=quant.scope if quant else None, quant_group_size=quant.group_size if quant else None,
        origin=repo.split("/")[0] if "/" in repo else "local", origin_country="ZZ",
        license=license or UNKNOWN_LICENSE, provenance=provenance)
