"""The shipped catalogs load, validate, are internally consistent, and every figure names its source."""

import re

import pytest

from deploykit.catalog.loader import (
    find_model,
    get_model,
    get_profile,
    load_models,
    load_profiles,
)
from deploykit.catalog.params import count_params
from deploykit.errors import DataError, UnknownNameError

REQUIRED_PROFILES = ["h100-sxm", "h100-pcie", "h100-nvl", "h200", "a100-sxm-80gb", "a100-40gb", "l40s", "l4",
                     "a10g", "rtx-4090", "rtx-3090", "rtx-5090", "cpu-desktop", "cpu-server"] + [
    f"m{g}{v}" for g in (1, 2, 3, 4) for v in ("", "-pro", "-max")] + ["m1-ultra", "m2-ultra", "m3-ultra"] + [
    # issue 12: Blackwell, Grace, older datacenter and workstation cards, Apple M5
    "b200", "b300", "gb200", "rtx-pro-6000-blackwell", "rtx-5080", "dgx-spark", "gh200", "t4", "v100", "a10",
    "rtx-a6000", "rtx-6000-ada", "m5", "m5-pro", "m5-max"]
REQUIRED_MODELS = [
    "llama4-scout", "llama4-maverick", "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.3-70b",
    "llama-3.2-1b", "llama-3.2-3b", "mistral-7b-v0.3", "mistral-nemo-12b", "mistral-small-3.2-24b", "mixtral-8x7b",
    "mixtral-8x22b", "gemma-3-270m", "gemma-3-1b", "gemma-3-4b", "gemma-3-12b", "gemma-3-27b", "deepseek-v3",
    "deepseek-r1", "deepseek-r1-distill-llama-8b", "deepseek-r1-distill-llama-70b", "deepseek-r1-distill-qwen-7b",
    "deepseek-r1-distill-qwen-14b", "deepseek-r1-distill-qwen-32b", "qwen2.5-7b", "qwen2.5-14b", "qwen2.5-32b",
    "qwen2.5-72b", "qwen2.5-coder-32b", "qwen3-4b", "qwen3-8b", "qwen3-32b", "qwen3-30b-a3b", "qwen3-235b-a22b",
    "phi-4", "phi-4-mini", "olmo-2-7b", "olmo-2-13b", "olmo-2-32b", "nomic-embed-text-v1.5", "e5-large-v2"]


def test_every_required_profile_is_there():
    missing = [p for p in REQUIRED_PROFILES if p not in load_profiles()]
    assert not missing


def test_every_required_model_is_there():
    models = load_models()
    missing = [m for m in REQUIRED_MODELS if m not in models]
    assert not missing, f"missing {missing}; have {sorted(models)}"


@pytest.mark.parametrize("name", sorted(load_models()))
def test_parameters_computed_from_architecture_match_the_card(name):
    spec = load_models()[name]
    counted = count_params(spec.architecture)
    total = counted.total / 1e9 + spec.vision_params_b
    assert total == pytest.approx(spec.params_total_b, rel=0.05), f"{name}: computed {total:.2f}B"
    if spec.architecture.moe:
        a = spec.architecture
        left_out = {"none": 0, "input-embedding": 1, "embeddings": 1 if a.tie_word_embeddings else 2}
        active = counted.active - left_out[spec.params_active_excludes] * a.vocab_size * a.hidden_size
        assert active / 1e9 == pytest.approx(spec.params_active_b, rel=0.10)
    else:
        assert spec.params_active_b == spec.params_total_b


@pytest.mark.parametrize("name", sorted(load_models()))
def test_model_figures_carry_sources(name):
    spec = load_models()[name]
    assert spec.architecture.source.startswith(("http", "file"))
    assert spec.params_source
    assert all(a.source for a in spec.artifacts)
    assert spec.license.url.startswith("http")


def test_llama_licence_flags_the_700m_clause():
    assert get_model("llama-3.1-8b").license.mau_limit == 700_000_000
    assert get_model("deepseek-r1").license.id.lower() == "mit"
    assert get_model("qwen2.5-72b").license.id == "qwen"


def test_lookup_by_repo_id_alias_and_case():
    assert find_model("META-LLAMA/Llama-3.1-8B-Instruct").name == "llama-3.1-8b"
    assert find_model("meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8").name == "llama4-maverick"
    with pytest.raises(UnknownNameError) as err:
        get_model("llama4-scot")
    assert "llama4-scout" in err.value.suggestions


@pytest.mark.parametrize("name", sorted(p for p, v in load_profiles().items() if v.variant_of is None))
def test_profiles_carry_sources_and_sane_figures(name):
    p = load_profiles()[name]
    assert p.source.startswith("http")
    assert p.interconnect.source
    assert 1 < p.memory_gib < 1024 and 10 < p.memory_bandwidth_gbps < 10_000
    if p.price:
        assert p.price.source and p.price.as_of
    if p.kind == "nvidia":
        cc = p.cc
        assert (p.fp8_mode == "native") == (cc >= (8, 9)), "FP8 compute needs compute capability 8.9+"
        assert ("fp8" in p.kv_formats) == (p.fp8_mode == "native")


def test_nvml_name_patterns_never_overlap():
    nvidia = [p for p in load_profiles().values() if p.kind == "nvidia"]
    names = ["NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe", "NVIDIA H100 NVL", "NVIDIA H200", "NVIDIA A100-SXM4-80GB",
             "NVIDIA A100-SXM4-40GB", "NVIDIA A100 80GB PCIe", "NVIDIA L40S", "NVIDIA L4", "NVIDIA A10G",
             "NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 5090",
             # issue 12, names as NVML reports them in published nvidia-smi output
             "NVIDIA B200", "NVIDIA B300 SXM6 AC", "NVIDIA GB200", "NVIDIA RTX PRO 6000 Blackwell Server Edition",
             "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", "NVIDIA GeForce RTX 5080", "NVIDIA GB10",
             "NVIDIA GH200 480GB", "NVIDIA GH200 120GB", "Tesla T4", "Tesla V100-SXM2-32GB", "NVIDIA A10",
             "NVIDIA RTX A6000", "NVIDIA RTX 6000 Ada Generation"]
    for device in names:
        hits = [p.name for p in nvidia if any(re.search(rx, device) for rx in p.nvml_names)]
        assert len(hits) == 1, f"{device}: {hits}"


@pytest.mark.parametrize("name", sorted(p for p, v in load_profiles().items() if v.kind == "nvidia"))
def test_listed_quantized_formats_agree_with_the_format_table(name):
    """A profile may not list a quantized format its compute capability cannot run (data/weight_formats.yaml)."""
    from deploykit.catalog.formats import load_formats, support
    p = load_profiles()[name]
    for fmt in load_formats():
        if fmt in p.weight_formats:
            assert support(fmt, p.compute_capability), f"{name} lists {fmt}, which needs a newer GPU"


def test_apple_variants_use_the_working_set_rule():
    big, small = get_profile("m3-max-128gb"), get_profile("m3-max-36gb")
    assert big.memory_gib == 128 and small.memory_gib == 36
    assert big.gpu_memory_share == pytest.approx(0.75)
    assert small.gpu_memory_share == pytest.approx(2 / 3, abs=0.01)


def test_invalid_catalog_file_names_file_and_field(tmp_path, monkeypatch):
    from deploykit.catalog import loader

    (tmp_path / "model_catalog").mkdir()
    (tmp_path / "model_catalog" / "bad.yaml").write_text(
        "family: bad\ndisplay_name: Bad\norigin: X\norigin_country: US\nlicense_source: https://x.invalid/l\n"
        "license: {id: mit, name: MIT, url: https://x.invalid}\nmodels:\n"
        "  - {name: bad-1b, display_name: B, hf_repo: x/y, params_total_b: 1, params_active_b: 1,"
        " params_source: https://x.invalid, architecture: {num_layers: 2, hidden_size: 64, intermediate_size: 128,"
        " num_attention_heads: 4, num_kv_heads: 3, head_dim: 16, vocab_size: 100, max_context: 128,"
        " source: https://x.invalid/config.json}}\n")
    monkeypatch.setenv("DEPLOYKIT_DATA_DIR", str(tmp_path))
    loader.load_families.cache_clear()
    try:
        with pytest.raises(DataError) as err:
            loader.load_families()
        assert "bad.yaml" in err.value.message and "num_kv_heads" in err.value.message
    finally:
        loader.load_families.cache_clear()
