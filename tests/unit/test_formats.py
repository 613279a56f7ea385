"""Issue 12: weight formats (data/weight_formats.yaml), the quantization_config reader, and the weight bytes and plans
that follow from them. The configs under tests/fixtures/hf_configs are real (sources in its README.md); the small
quantization_config dicts below are the shapes each tool writes, with the repo they were seen in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from deploykit.catalog.formats import format_info, load_formats, support
from deploykit.catalog.hf_config import read_quantization, spec_from_config
from deploykit.catalog.loader import get_profile
from deploykit.catalog.resolve import resolve_model
from deploykit.errors import ModelConfigError
from deploykit.planning import memory
from deploykit.planning.planner import plan
from deploykit.planning.policy import runs_here
from deploykit.planning.types import Box, Policy, Workload

GIB = 1024**3
CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "hf_configs"
SRC = "file://tests/fixtures/hf_configs"


def real(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text())


# ------------------------------------------------------------------------------------------ the format table
@pytest.mark.parametrize("fmt,bits", [
    ("mxfp4", 4 + 8 / 32),      # E2M1 + one E8M0 scale per 32 (OCP MX)
    ("nvfp4", 4 + 8 / 16),      # E2M1 + one E4M3 scale per 16
    ("w4a16", 4 + 16 / 128),    # int4 + one bf16 scale per 128, symmetric
    ("awq-int4", 4 + 20 / 128),  # int4 + fp16 scale + 4-bit zero per 128
    ("nf4", 4 + 32 / 64),       # nf4 + one fp32 absmax per 64
    ("fp8", 8.0), ("int8", 8.0), ("bnb-int8", 8.0),
])
def test_bits_per_weight_include_the_group_scales(fmt, bits):
    assert format_info(fmt).bits() == pytest.approx(bits)
    assert memory.LINEAR_BYTES[fmt] == pytest.approx(bits / 8)


def test_a_checkpoint_group_size_overrides_the_usual_one():
    # Kimi K2 Thinking: int4 with one bf16 scale per 32 values -> 4.5 bits, not W4A16's usual 4.125
    assert format_info("w4a16").bits(32) == pytest.approx(4.5)


@pytest.mark.parametrize("fmt,cc,expected", [
    ("mxfp4", "9.0", "emulated"), ("mxfp4", "8.0", "emulated"), ("mxfp4", "10.0", "native"),
    ("mxfp4", "12.0", "native"), ("mxfp4", "7.5", None),
    ("nvfp4", "10.0", "native"), ("nvfp4", "8.9", "emulated"), ("nvfp4", "7.0", None),
    ("fp8", "8.9", "native"), ("fp8", "9.0", "native"), ("fp8", "8.0", "emulated"), ("fp8", "7.5", None),
    ("int8", "7.5", "native"), ("int8", "7.0", None),
    ("w4a16", "8.0", "emulated"), ("w4a16", "7.5", None),
    ("gptq-int4", "7.0", "emulated"), ("awq-int4", "7.0", None),
    ("nf4", "7.0", "emulated"), ("bnb-int8", "10.0", "emulated"),
])
def test_native_emulated_or_not_by_compute_capability(fmt, cc, expected):
    assert support(fmt, cc) == expected


def test_every_format_names_its_source_and_is_a_schema_literal():
    from typing import get_args

    from deploykit.catalog.schema import NativeFormat, WeightFormat
    for name, info in load_formats().items():
        assert info.source.startswith("http")
        assert name in get_args(WeightFormat) and name in get_args(NativeFormat)


def test_quantized_formats_follow_the_compute_capability_on_nvidia_profiles():
    assert runs_here("mxfp4", get_profile("h100-sxm")) and runs_here("mxfp4", get_profile("a100-sxm-80gb"))
    assert not runs_here("mxfp4", get_profile("m4-max")) and runs_here("bf16", get_profile("m4-max"))


# ------------------------------------------------------------------------------ reading quantization_config
def test_gpt_oss_mxfp4_quantizes_only_the_experts():
    q = read_quantization(real("gpt-oss-120b"))
    assert (q.format, q.scope, q.group_size) == ("mxfp4", "experts", None)


def test_kimi_k2_thinking_native_int4_experts_group_32():
    q = read_quantization(real("kimi-k2-thinking"))
    assert (q.format, q.scope, q.group_size, q.method) == ("w4a16", "experts", 32, "compressed-tensors")


def test_deepseek_block_fp8_is_every_linear_layer():
    q = read_quantization(real("deepseek-v3.2"))
    assert (q.format, q.scope) == ("fp8", "linear")


def _ct(weights: dict, acts: dict | None, fmt: str, ignore=("lm_head",)) -> dict:
    return {"quantization_config": {
        "quant_method": "compressed-tensors", "format": fmt, "ignore": list(ignore),
        "config_groups": {"group_0": {"targets": ["Linear"], "weights": weights, "input_activations": acts}}}}


# llm-compressor presets as written by RedHatAI/*-quantized.w8a8, *-FP8-dynamic, *-quantized.w4a16 and *-NVFP4 repos
INT8_W8A8 = _ct({"num_bits": 8, "type": "int", "strategy": "channel", "symmetric": True, "group_size": None},
                {"num_bits": 8, "type": "int", "strategy": "token", "dynamic": True}, "int-quantized")
FP8_W8A8 = _ct({"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True},
               {"num_bits": 8, "type": "float", "strategy": "token", "dynamic": True}, "float-quantized")
W4A16 = _ct({"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128, "symmetric": True}, None,
            "pack-quantized")
NVFP4_CT = _ct({"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16, "symmetric": True},
               {"num_bits": 4, "type": "float", "strategy": "tensor_group", "group_size": 16, "dynamic": "local"},
               "nvfp4-pack-quantized")


@pytest.mark.parametrize("config,expected", [
    (INT8_W8A8, ("int8", "linear", None)), (FP8_W8A8, ("fp8", "linear", None)),
    (W4A16, ("w4a16", "linear", 128)), (NVFP4_CT, ("nvfp4", "linear", 16)),
    # NVIDIA ModelOpt checkpoints (nvidia/Llama-3.3-70B-Instruct-FP4 / -FP8): quant_method modelopt + quant_algo
    ({"quantization_config": {"quant_method": "modelopt", "quant_algo": "NVFP4", "group_size": 16,
                              "exclude_modules": ["lm_head"], "kv_cache_quant_algo": "FP8"}},
     ("nvfp4", "linear", 16)),
    ({"quantization_config": {"quant_method": "modelopt", "quant_algo": "FP8", "exclude_modules": ["lm_head"]}},
     ("fp8", "linear", None)),
    # AutoAWQ (hugging-quants/*-AWQ-INT4) and GPTQ (hugging-quants/*-GPTQ-INT4)
    ({"quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True,
                              "version": "gemm"}}, ("awq-int4", "linear", 128)),
    ({"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": False,
                              "sym": True}}, ("gptq-int4", "linear", 128)),
    # bitsandbytes pre-quantized checkpoints (unsloth/*-bnb-4bit) as transformers writes them
    ({"quantization_config": {"quant_method": "bitsandbytes", "_load_in_4bit": True, "load_in_4bit": True,
                              "load_in_8bit": False, "bnb_4bit_quant_type": "nf4",
                              "bnb_4bit_use_double_quant": True}}, ("nf4", "linear", None)),
    ({"quantization_config": {"quant_method": "bitsandbytes", "load_in_8bit": True}}, ("bnb-int8", "linear", None)),
])
def test_quantization_methods(config, expected):
    q = read_quantization(config)
    assert (q.format, q.scope, q.group_size) == expected


def test_a_moe_checkpoint_that_keeps_attention_16_bit_is_experts_only():
    moe = {**W4A16, "num_local_experts": 8}
    moe["quantization_config"] = {**W4A16["quantization_config"], "ignore": ["lm_head", "re:.*self_attn.*"]}
    assert read_quantization(moe).scope == "experts"
    assert read_quantization({**W4A16, "num_local_experts": 8}).scope == "linear"


@pytest.mark.parametrize("config", [
    {"quantization_config": {"quant_method": "quark"}},
    _ct({"num_bits": 2, "type": "int", "strategy": "group", "group_size": 64}, None, "pack-quantized"),
    {"quantization_config": {"quant_method": "modelopt", "quant_algo": "W4A8_AWQ"}},
    {"quantization_config": {"quant_method": "awq", "bits": 3}},
])
def test_unknown_quantization_is_an_error_with_a_fix_not_a_bf16_guess(config):
    with pytest.raises(ModelConfigError) as err:
        read_quantization(config)
    assert err.value.fix


def test_unquantized_config_reads_none():
    assert read_quantization({"torch_dtype": "bfloat16"}) is None


# ------------------------------------------------------------------------------------------- sized as stored
def test_gpt_oss_120b_weights_as_stored():
    spec = spec_from_config(real("gpt-oss-120b"), repo="openai/gpt-oss-120b", source=SRC)
    assert (spec.native_dtype, spec.quantized_layers) == ("mxfp4", "experts")
    # config.json: 36 layers x 128 experts x 3 matrices x 2880 x 2880 = 114,661,785,600 expert weights at 4.25 bits;
    # total 116.789B (counted) - 2 x 201,088 x 2,880 embeddings (1,158,266,880) - experts = 968,947,520 attention,
    # router and other layer weights at 2 bytes; embeddings and LM head 2 bytes.
    expected = 114_661_785_600 * 4.25 / 8 + 968_947_520 * 2 + 1_158_266_880 * 2
    w = memory.weight_bytes(spec, "mxfp4")
    assert w.total == pytest.approx(expected, rel=1e-6)
    assert w.total / GIB == pytest.approx(60.69, abs=0.01)  # the model card gives a 60.8 GiB checkpoint


def test_kimi_k2_thinking_weights_as_stored():
    spec = spec_from_config(real("kimi-k2-thinking"), repo="moonshotai/Kimi-K2-Thinking", source=SRC)
    assert (spec.native_dtype, spec.quantized_layers, spec.quant_group_size) == ("w4a16", "experts", 32)
    # 60 MoE layers x 384 experts x 3 x 7168 x 2048 = 1,014,686,023,680 expert weights at 4.5 bits (group 32)
    experts = 60 * 384 * 3 * 7168 * 2048
    assert experts == 1_014_686_023_680
    w = memory.weight_bytes(spec, "w4a16")
    rest = int(spec.params_total_b * 1e9) - 2 * 163840 * 7168 - experts
    assert w.layers == pytest.approx(experts * 4.5 / 8 + rest * 2, rel=1e-6)


def test_bf16_model_in_an_experts_only_format_without_moe_quantizes_every_linear_layer(tmp_path):
    spec = spec_from_config({**real("deepseek-v3.2"), "quantization_config": None, "n_routed_experts": None},
                            repo="x/dense", source=SRC)
    assert spec.architecture.moe is None
    w = memory.weight_bytes(spec, "mxfp4")  # no artifact: a generic conversion quantizes every linear layer
    layer_params = int(spec.params_total_b * 1e9) - 2 * 129280 * 7168
    assert w.layers == pytest.approx(layer_params * 4.25 / 8, rel=1e-6)


# ----------------------------------------------------------------------------------------------------- plans
def box(profile: str, gpus: int = 1) -> Box:
    p = get_profile(profile)
    return Box(profile=p, gpus_per_node=gpus, memory_total_bytes=int(p.memory_gib * GIB))


def test_gpt_oss_120b_local_dir_plans_mxfp4_on_one_h100(tmp_path):
    d = tmp_path / "gpt-oss-120b"
    d.mkdir()
    shutil.copy(CONFIGS / "gpt-oss-120b.json", d / "config.json")
    spec = resolve_model(str(d))
    p = plan(spec, box("h100-sxm"))
    assert p.fits and p.weights["dtype"] == "mxfp4" and p.gpus_used == 1 and p.tensor_parallel_size == 1
    assert p.memory.per_gpu.weights_gib == pytest.approx(60.69, abs=0.01)
    assert any("official weights are MXFP4" in r for r in p.reasons)


def test_gpt_oss_120b_never_falls_back_to_bf16_or_online_fp8():
    spec = spec_from_config(real("gpt-oss-120b"), repo="openai/gpt-oss-120b", source=SRC)
    for quant in ("bf16", "fp8"):
        p = plan(spec, box("h100-sxm", 8), policy=Policy(quant=quant), with_alternatives=False)
        assert not p.fits


def test_gpt_oss_20b_runs_on_ampere_through_marlin():
    spec = spec_from_config(real("gpt-oss-20b"), repo="openai/gpt-oss-20b", source=SRC)
    p = plan(spec, box("rtx-3090"), Workload(context=8192), Policy(engine="vllm"), with_alternatives=False)
    assert p.fits and p.weights["dtype"] == "mxfp4"  # Ampere: Marlin MXFP4 MoE


def test_modelopt_sidecar_file_sizes_a_local_nvfp4_export(tmp_path):
    # nvidia/Llama-3.3-70B-Instruct-FP4 style export: the quantization lives in hf_quant_config.json
    d = tmp_path / "llama-fp4"
    d.mkdir()
    llama = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8192,
             "intermediate_size": 28672, "num_hidden_layers": 80, "num_attention_heads": 64,
             "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
             "torch_dtype": "bfloat16"}
    (d / "config.json").write_text(json.dumps(llama))
    (d / "hf_quant_config.json").write_text(json.dumps({
        "producer": {"name": "modelopt", "version": "0.23.0"},
        "quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8", "group_size": 16,
                         "exclude_modules": ["lm_head"]}}))
    spec = resolve_model(str(d))
    assert (spec.native_dtype, spec.quant_group_size) == ("nvfp4", 16)
    p = plan(spec, box("b200"), with_alternatives=False)
    assert p.fits and p.weights["dtype"] == "nvfp4"
    (d / "hf_quant_config.json").write_text("[]")
    with pytest.raises(ModelConfigError):
        resolve_model(str(d))


@pytest.mark.parametrize("name,fixture", [
    ("gpt-oss-120b", "gpt-oss-120b"), ("gpt-oss-20b", "gpt-oss-20b"),
    ("qwen3-next-80b-a3b-instruct", "qwen3-next-80b-a3b-instruct"), ("kimi-k2-thinking", "kimi-k2-thinking"),
    ("deepseek-v3.2", "deepseek-v3.2"),
])
def test_catalog_entries_match_their_config_json(name, fixture):
    """The catalog's figures for the issue-12 models are what the reader derives from the real config.json, and the
    official checkpoint's format and quantized layers are what its quantization_config says."""
    from deploykit.catalog.loader import get_model
    entry = get_model(name)
    derived = spec_from_config(real(fixture), repo=entry.hf_repo, source=SRC)
    assert derived.architecture.model_dump(exclude={"source"}) == entry.architecture.model_dump(exclude={"source"})
    assert (derived.native_dtype, derived.quantized_layers or "linear", derived.quant_group_size) == (
        entry.native_dtype, entry.quantized_layers or "linear", entry.quant_group_size)


def test_mxfp4_is_refused_below_ampere():
    spec = spec_from_config(real("gpt-oss-20b"), repo="openai/gpt-oss-20b", source=SRC)
    p = plan(spec, box("t4"), Workload(context=8192), Policy(engine="vllm"), with_alternatives=False)
    assert not p.fits
    assert any("mxfp4: not supported on NVIDIA T4" in r for r in p.reasons)


def test_formats_without_a_checkpoint_are_named_on_one_line():
    from deploykit.catalog.loader import get_model
    p = plan(get_model("llama-3.1-8b"), box("h100-sxm"), with_alternatives=False)
    lines = [r for r in p.reasons if "no published checkpoint" in r]
    assert len(lines) == 1 and "nvfp4" in lines[0] and "nf4" in lines[0]
