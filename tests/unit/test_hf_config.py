"""config.json -> ModelSpec (deploykit.catalog.hf_config) and MODEL -> ModelSpec (deploykit.catalog.resolve) for
local model directories written under tmp_path, plus the mapping of huggingface_hub's errors onto deploykit's.
Nothing here reaches the network."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub
import huggingface_hub.errors as hf_errors
import pytest

from deploykit.catalog import hub
from deploykit.catalog.hf_config import (
    architecture_from_config,
    native_dtype,
    spec_from_config,
)
from deploykit.catalog.loader import load_models
from deploykit.catalog.resolve import resolve_model
from deploykit.errors import GatedModelError, ModelConfigError, NetworkError, classify

# meta-llama/Llama-3.1-8B-Instruct config.json (the figures that matter to planning)
LLAMA_31_8B = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
    "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "vocab_size": 128256, "max_position_embeddings": 131072,
    "torch_dtype": "bfloat16", "tie_word_embeddings": False, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
}

# google/gemma-3-27b-it style: the language model under text_config
GEMMA_3_TEXT = {
    "model_type": "gemma3_text", "hidden_size": 5376, "intermediate_size": 21504, "num_hidden_layers": 62,
    "num_attention_heads": 32, "num_key_value_heads": 16, "head_dim": 128, "vocab_size": 262208,
    "max_position_embeddings": 131072, "hidden_activation": "gelu_pytorch_tanh", "sliding_window": 1024,
}

# deepseek-ai/DeepSeek-V3 config.json (MLA + MoE, FP8 checkpoint)
DEEPSEEK_V3 = {
    "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "hidden_act": "silu",
    "hidden_size": 7168, "intermediate_size": 18432, "num_hidden_layers": 61, "num_attention_heads": 128,
    "num_key_value_heads": 128, "vocab_size": 129280, "max_position_embeddings": 163840,
    "kv_lora_rank": 512, "q_lora_rank": 1536, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128,
    "n_routed_experts": 256, "num_experts_per_tok": 8, "n_shared_experts": 1, "moe_intermediate_size": 2048,
    "first_k_dense_replace": 3, "moe_layer_freq": 1, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
    "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                            "weight_block_size": [128, 128]},
}


def model_dir(root: Path, name: str, config: dict | str | None, readme: str | None = None) -> Path:
    d = root / name
    d.mkdir()
    if config is not None:
        (d / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    if readme is not None:
        (d / "README.md").write_text(readme)
    return d


# ------------------------------------------------------------------------------------------------ dense: Llama
def test_llama_dir_matches_the_catalog_architecture(tmp_path):
    d = model_dir(tmp_path, "Llama-3.1-8B-Instruct", LLAMA_31_8B)
    spec = resolve_model(str(d))
    catalog = load_models()["llama-3.1-8b"].architecture
    got = spec.architecture.model_dump(exclude={"source"})
    want = catalog.model_dump(exclude={"source"})
    for field, value in want.items():
        assert got[field] == value, f"architecture.{field}: {got[field]!r} from config.json, catalog {value!r}"
    assert spec.architecture.source == str((d / "config.json").resolve())
    assert spec.params_total_b == pytest.approx(8.03, rel=0.01)
    assert spec.params_active_b == spec.params_total_b
    assert spec.provenance == "local-dir"
    assert spec.native_dtype == "bf16"
    assert spec.name == "llama-3.1-8b-instruct"
    assert spec.hf_repo == "local/llama-3.1-8b-instruct"


def test_local_dir_licence_unknown_without_model_card(tmp_path):
    spec = resolve_model(str(model_dir(tmp_path, "my-model", LLAMA_31_8B)))
    assert spec.license.id == "unknown"
    assert spec.license.commercial_use is False


def test_local_dir_licence_from_model_card_front_matter(tmp_path):
    readme = "---\nlanguage:\n- en\nlicense: apache-2.0\npipeline_tag: text-generation\n---\n# My model\n"
    d = model_dir(tmp_path, "my-model", LLAMA_31_8B, readme=readme)
    spec = resolve_model(str(d))
    assert spec.license.id == "apache-2.0"
    assert spec.license.name == "Apache License 2.0"


def test_model_card_without_front_matter_licence_stays_unknown(tmp_path):
    d = model_dir(tmp_path, "my-model", LLAMA_31_8B, readme="# My model\n\nlicense: apache-2.0 (not front matter)\n")
    assert resolve_model(str(d)).license.id == "unknown"


def test_one_character_directory_name_is_accepted(tmp_path):
    spec = resolve_model(str(model_dir(tmp_path, "m", LLAMA_31_8B)))
    assert spec.provenance == "local-dir"


def test_catalog_name_wins_over_a_directory_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model_dir(tmp_path, "llama-3.1-8b", {"not": "a config"})
    spec = resolve_model("llama-3.1-8b")
    assert spec.provenance == "catalog"


# -------------------------------------------------------------------------------------- sliding: Gemma 3
def test_gemma3_nested_text_config_with_sliding_window_pattern(tmp_path):
    config = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
              "torch_dtype": "bfloat16", "text_config": {**GEMMA_3_TEXT, "sliding_window_pattern": 6},
              "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 1152}}
    spec = resolve_model(str(model_dir(tmp_path, "gemma", config)))
    a = spec.architecture
    assert a.attention.kind == "sliding"
    assert a.attention.window == 1024
    assert a.attention.global_every == 6
    assert (a.num_layers, a.hidden_size, a.num_kv_heads, a.head_dim) == (62, 5376, 16, 128)
    assert spec.family == "gemma3_text"


def test_gemma3_layer_types_give_the_same_attention(tmp_path):
    layer_types = (["sliding_attention"] * 5 + ["full_attention"]) * 10 + ["sliding_attention"] * 2
    assert len(layer_types) == 62
    with_pattern = {"model_type": "gemma3", "text_config": {**GEMMA_3_TEXT, "sliding_window_pattern": 6}}
    with_types = {"model_type": "gemma3", "text_config": {**GEMMA_3_TEXT, "layer_types": layer_types}}
    a = resolve_model(str(model_dir(tmp_path, "types", with_types))).architecture
    b = resolve_model(str(model_dir(tmp_path, "pattern", with_pattern))).architecture
    assert a.attention.kind == "sliding" and a.attention.window == 1024 and a.attention.global_every == 6
    assert a.attention == b.attention


def test_sliding_window_disabled_is_full_attention():
    # Qwen2-style configs carry sliding_window but switch it off with use_sliding_window: false
    config = {**LLAMA_31_8B, "model_type": "qwen2", "sliding_window": 131072, "use_sliding_window": False}
    assert architecture_from_config(config, "test://config.json").attention.kind == "full"


# -------------------------------------------------------------------------------------- MLA + MoE: DeepSeek V3
def test_deepseek_v3_mla_moe_fp8(tmp_path):
    spec = resolve_model(str(model_dir(tmp_path, "DeepSeek-V3", DEEPSEEK_V3)))
    a = spec.architecture
    assert a.attention.kind == "mla"
    assert (a.attention.kv_lora_rank, a.attention.qk_rope_head_dim) == (512, 64)
    assert a.attention.q_lora_rank == 1536 and a.attention.v_head_dim == 128
    assert a.head_dim == 192
    assert a.moe is not None
    assert a.moe.moe_layers == 58
    assert (a.moe.num_experts, a.moe.experts_per_token, a.moe.shared_experts) == (256, 8, 1)
    assert a.moe.expert_intermediate_size == 2048
    assert spec.native_dtype == "fp8"
    assert spec.params_total_b == pytest.approx(671, rel=0.03)
    assert spec.params_active_b == pytest.approx(37, rel=0.05)
    catalog = load_models()["deepseek-v3"].architecture
    assert a.model_dump(exclude={"source"}) == catalog.model_dump(exclude={"source"})


@pytest.mark.parametrize("config,expected", [
    ({"torch_dtype": "bfloat16"}, "bf16"), ({"torch_dtype": "float16"}, "fp16"), ({"dtype": "float32"}, "fp32"),
    ({"torch_dtype": "bfloat16", "quantization_config": {"quant_method": "fp8"}}, "fp8"),
    ({"text_config": {"torch_dtype": "float16"}}, "fp16"), ({}, "bf16"),
])
def test_native_dtype(config, expected):
    assert native_dtype(config) == expected


# -------------------------------------------------------------------------------------------------- errors
def test_directory_without_config_json(tmp_path):
    d = model_dir(tmp_path, "empty", None)
    with pytest.raises(ModelConfigError) as info:
        resolve_model(str(d))
    assert "config.json" in info.value.message
    assert info.value.fix
    assert classify(info.value).exit_code == 4


def test_invalid_json_config(tmp_path):
    d = model_dir(tmp_path, "broken", '{"hidden_size": 4096,')
    with pytest.raises(ModelConfigError) as info:
        resolve_model(str(d))
    assert "not valid JSON" in info.value.message
    assert info.value.fix


def test_config_missing_a_required_field_names_it(tmp_path):
    config = {k: v for k, v in LLAMA_31_8B.items() if k != "vocab_size"}
    with pytest.raises(ModelConfigError) as info:
        resolve_model(str(model_dir(tmp_path, "novocab", config)))
    assert "vocab_size" in info.value.message
    assert info.value.fix


def test_inconsistent_config_is_a_model_config_error():
    config = {**LLAMA_31_8B, "num_key_value_heads": 5}  # 32 heads are not a multiple of 5 KV heads
    with pytest.raises(ModelConfigError) as info:
        spec_from_config(config, repo="acme/odd", source="test://config.json")
    assert "inconsistent" in info.value.message


# ------------------------------------------------------------------------------------- hub error mapping
def _hub_error(cls: type[Exception], status: int, url: str) -> Exception:
    """An error built the way huggingface_hub builds it: a message and the HTTP response it came from."""
    response_cls = getattr(hf_errors, "Response", None)
    if response_cls is None:  # older huggingface_hub: requests-based
        import requests
        response = requests.Response()
        response.status_code = status
        response.url = url
        return cls(f"{status} Client Error", response=response)
    module = __import__(response_cls.__module__.split(".")[0])
    response = response_cls(status, request=module.Request("GET", url))
    return cls(f"{status} Client Error", response=response)


@pytest.fixture
def hub_download(monkeypatch):
    """Nothing in the cache; hf_hub_download replaced by whatever the test sets in calls['effect']."""
    calls: dict = {"downloads": []}

    def fake_download(repo_id, filename, **kwargs):
        calls["downloads"].append((repo_id, filename, kwargs))
        effect = calls["effect"]
        if isinstance(effect, BaseException):
            raise effect
        return effect

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    # "online" with the hub answering through fake_download: no HF_HUB_OFFLINE, no reachability probe
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "require_hub", lambda what: None)
    return calls


def test_gated_repo_maps_to_gated_model_error(hub_download, monkeypatch):
    """Contract test of the hub-error mapping: GatedRepoError (HTTP 401) -> GatedModelError whose fix says
    to export HF_TOKEN; the token in the environment is passed to the download."""
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    url = "https://huggingface.co/acme/gated-model/resolve/main/config.json"
    hub_download["effect"] = _hub_error(hf_errors.GatedRepoError, 401, url)
    with pytest.raises(GatedModelError) as info:
        resolve_model("acme/gated-model")
    assert "acme/gated-model" in info.value.message and "401" in info.value.message
    assert "HF_TOKEN" in info.value.fix
    assert "https://huggingface.co/acme/gated-model" in info.value.fix
    assert classify(info.value).exit_code == 4
    assert hub_download["downloads"][0][:2] == ("acme/gated-model", "config.json")
    assert hub_download["downloads"][0][2]["token"] == "hf_test_token"


def test_missing_repo_maps_to_model_config_error(hub_download):
    """Contract test of the hub-error mapping: RepositoryNotFoundError -> ModelConfigError (not gated)."""
    url = "https://huggingface.co/acme/no-such-model/resolve/main/config.json"
    hub_download["effect"] = _hub_error(hf_errors.RepositoryNotFoundError, 404, url)
    with pytest.raises(ModelConfigError) as info:
        hub.fetch_hub_config("acme/no-such-model")
    assert not isinstance(info.value, GatedModelError)
    assert "acme/no-such-model" in info.value.message
    assert "HF_TOKEN" in info.value.fix


def test_offline_cache_miss_maps_to_network_error(hub_download):
    """Contract test of the hub-error mapping: LocalEntryNotFoundError (the hub unreachable, not cached) ->
    NetworkError, "cannot reach ... (offline?)", exit 12, with the offline fix."""
    hub_download["effect"] = hf_errors.LocalEntryNotFoundError("offline and not in cache")
    with pytest.raises(NetworkError) as info:
        hub.fetch_hub_config("acme/uncached")
    assert "cannot reach" in info.value.message and "(offline?)" in info.value.message
    assert "cache" in info.value.message and "HF_HUB_OFFLINE" in info.value.fix
    assert classify(info.value).exit_code == 12


def test_hub_download_becomes_a_spec(hub_download, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(LLAMA_31_8B))
    hub_download["effect"] = str(path)
    spec = resolve_model("acme/My-Llama", revision="v1")
    assert spec.provenance == "hf-config"
    assert spec.hf_repo == "acme/My-Llama" and spec.revision == "v1" and spec.origin == "acme"
    assert spec.architecture.source == "https://huggingface.co/acme/My-Llama/blob/v1/config.json"
    assert hub_download["downloads"][0][2]["revision"] == "v1"


def test_cached_config_is_read_without_download(monkeypatch, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(LLAMA_31_8B))

    def no_download(*args, **kwargs):
        raise AssertionError("a cached config.json must not be downloaded")

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: str(path))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_download)
    config, source = hub.fetch_hub_config("acme/cached")
    assert config["hidden_size"] == 4096
    assert source == str(path)
