"""The GGUF ladder: every llama.cpp file type deploykit plans with has a bits-per-weight figure, split GGUFs name
all their shards, and MXFP4_MOE files are sized as llama.cpp writes them (experts MXFP4, the rest Q8_0)."""

import typing

import pytest
from pydantic import ValidationError

from deploykit.catalog.gguf import FILE_TYPES, gguf_shards
from deploykit.catalog.loader import get_model
from deploykit.catalog.params import count_params
from deploykit.catalog.schema import Artifact, WeightFormat
from deploykit.planning.memory import GGUF_BPW, weight_bytes
from deploykit.planning.policy import FORMAT_QUALITY, GGUF_LADDER

GGUF_FORMATS = [f for f in typing.get_args(WeightFormat) if f.startswith("gguf-")]


def test_every_gguf_format_has_bits_a_rung_and_a_quality():
    assert set(GGUF_FORMATS) == set(GGUF_BPW) == set(GGUF_LADDER)
    assert all(f in FORMAT_QUALITY for f in GGUF_FORMATS)


def test_the_ladder_the_issue_asks_for_is_there():
    for fmt in ("gguf-q8_0", "gguf-q6_k", "gguf-q5_k_m", "gguf-q4_k_s", "gguf-q3_k_m", "gguf-iq4_xs",
                "gguf-iq3_xxs", "gguf-iq2_xxs", "gguf-iq1_s", "gguf-bf16", "gguf-mxfp4_moe", "gguf-ud-q2_k_xl",
                "gguf-ud-iq1_s"):
        assert fmt in GGUF_FORMATS


def test_bits_per_weight_are_llama_cpps_measured_figures():
    # tools/quantize/README.md, Llama-3.1-8B table (bits/weight column), rounded to 2 places
    readme = {"gguf-q8_0": 8.5008, "gguf-q6_k": 6.5633, "gguf-q5_k_m": 5.7036, "gguf-q4_k_m": 4.8944,
              "gguf-q4_k_s": 4.6672, "gguf-iq4_xs": 4.4597, "gguf-iq3_m": 3.7628, "gguf-iq3_xxs": 3.2548,
              "gguf-q2_k": 3.1593, "gguf-iq2_m": 2.9294, "gguf-iq2_xxs": 2.3824, "gguf-iq1_s": 2.0042}
    for fmt, bpw in readme.items():
        assert GGUF_BPW[fmt] == pytest.approx(bpw, abs=0.006), fmt
    # unsloth's dynamic files: decimal GB on Hugging Face's listing over the weights (DeepSeek 671B, GLM-4.6 355B);
    # UD-IQ1_M from the blog's 158 GiB
    listed = {"gguf-ud-iq1_s": (140.2, 671), "gguf-ud-iq1_m": (158 * 1.073741824, 671), "gguf-ud-iq2_xxs": (196.2, 671),
              "gguf-ud-q2_k_xl": (226.6, 671), "gguf-ud-q4_k_xl": (405, 671), "gguf-ud-q3_k_xl": (158, 355)}
    for fmt, (gb, params_b) in listed.items():
        assert GGUF_BPW[fmt] == pytest.approx(gb * 8 / params_b, abs=0.006), fmt


def test_ladder_runs_from_more_bits_to_fewer():
    bits = [GGUF_BPW[f] for f in GGUF_LADDER if f != "gguf-mxfp4_moe"]  # its table figure is the dense fallback
    assert bits[0] == 16.0 and bits[-1] < 2.1
    assert all(b >= a - 0.7 for a, b in zip(bits[1:], bits))  # roughly descending (IQ/UD interleave with K-quants)
    quality = [FORMAT_QUALITY[f] for f in GGUF_LADDER]
    assert quality == sorted(quality, reverse=True)


def test_file_types_map_llama_h_numbers():
    assert FILE_TYPES[32] == "gguf-bf16" and FILE_TYPES[1] == "gguf-f16"
    assert FILE_TYPES[14] == "gguf-q4_k_s" and FILE_TYPES[30] == "gguf-iq4_xs" and FILE_TYPES[38] == "gguf-mxfp4_moe"
    assert set(FILE_TYPES.values()) <= set(GGUF_FORMATS)


def test_split_gguf_names_every_shard():
    assert gguf_shards("Q4_K_M/M-Q4_K_M-00001-of-00003.gguf") == [
        "Q4_K_M/M-Q4_K_M-00001-of-00003.gguf", "Q4_K_M/M-Q4_K_M-00002-of-00003.gguf",
        "Q4_K_M/M-Q4_K_M-00003-of-00003.gguf"]
    assert gguf_shards("model-Q8_0.gguf") == ["model-Q8_0.gguf"]


def test_split_gguf_artifact_must_agree_with_its_name():
    ok = Artifact(format="gguf-q4_k_m", hf_repo="o/r", gguf_file="a/M-00001-of-00004.gguf", gguf_parts=4,
                  source="https://example.org/x")
    assert ok.gguf_parts == 4
    with pytest.raises(ValidationError, match="first shard"):
        Artifact(format="gguf-q4_k_m", hf_repo="o/r", gguf_file="M-00002-of-00004.gguf", gguf_parts=4,
                 source="https://example.org/x")
    with pytest.raises(ValidationError, match="set gguf_parts"):
        Artifact(format="gguf-q4_k_m", hf_repo="o/r", gguf_file="M-00001-of-00004.gguf", source="https://e.org/x")


def test_mxfp4_moe_keeps_experts_at_4_25_bits_and_the_rest_at_q8_0():
    spec = get_model("qwen3-30b-a3b")
    counted = count_params(spec.architecture)
    total = weight_bytes(spec, "gguf-mxfp4_moe").total
    everything = spec.params_total_b * 1e9
    expected = counted.experts * 4.25 / 8 + (everything - counted.experts) * 8.5 / 8
    assert total == pytest.approx(expected, rel=0.01)
    # between an all-MXFP4 and an all-Q8_0 file
    assert everything * 4.25 / 8 < total < everything * 8.5 / 8
    dense = get_model("llama-3.1-8b")
    assert weight_bytes(dense, "gguf-mxfp4_moe").total == pytest.approx(
        weight_bytes(dense, "gguf-q8_0").total, rel=0.001)


def test_ollama_pulls_hub_files_by_quant_and_never_a_split_gguf():
    from deploykit.catalog.loader import get_profile
    from deploykit.planning.policy import weight_choices

    box = get_profile("cpu-server")
    choices, _ = weight_choices(get_model("qwen2.5-7b"), box, "ollama", "gguf-q8_0")
    assert [c.repo for c in choices] == ["hf.co/bartowski/Qwen2.5-7B-Instruct-GGUF:Q8_0"]
    # a library tag wins over a hub file of the same format
    choices, _ = weight_choices(get_model("llama-3.1-8b"), box, "ollama", "gguf-q8_0")
    assert choices[0].repo == "llama3.1:8b-instruct-q8_0"
    # llama.cpp loads the first shard of a split GGUF; Ollama cannot pull one
    split = "gguf-ud-q2_k_xl"
    choices, _ = weight_choices(get_model("deepseek-v3.1"), box, "llamacpp", split)
    assert choices[0].repo.endswith("UD-Q2_K_XL/DeepSeek-V3.1-UD-Q2_K_XL-00001-of-00006.gguf")
    choices, skipped = weight_choices(get_model("deepseek-v3.1"), box, "ollama", split)
    assert choices == [] and skipped


def test_every_catalog_gguf_file_is_named_for_its_quant_type():
    """A file catalogued as gguf-q6_k must be a Q6_K file (catches copy-paste slips in the YAML)."""
    from deploykit.catalog.loader import load_models

    def norm(text: str) -> str:
        return text.lower().replace("-", "_").replace(".", "_")

    # llama.cpp names its MXFP4_MOE conversions "-mxfp4" (ggml-org/gpt-oss-*-GGUF); the file type is the same
    also = {"mxfp4_moe": "mxfp4"}

    def named(fmt: str, file: str) -> bool:
        quant = norm(fmt.removeprefix("gguf-"))
        return quant in norm(file) or (quant in also and also[quant] in norm(file))

    wrong = [(name, a.format, a.gguf_file)
             for name, spec in load_models().items() for a in spec.artifacts
             if a.gguf_file and not named(a.format, a.gguf_file)]
    assert wrong == []
