"""The `deploykit` command run for real, as a subprocess (`python -m deploykit ...`): exit codes from the error
table, data (and only data) on stdout, hints and errors on stderr. No network: HF_HUB_OFFLINE=1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
NVML = REPO / "tests" / "fixtures" / "nvml"

PLAN_KEYS = {
    "model", "hardware", "engine", "weights", "kv_cache_dtype", "tensor_parallel_size", "pipeline_parallel_size",
    "data_parallel_size", "expert_parallel", "gpus_used", "max_model_len", "max_num_seqs", "gpu_memory_utilization",
    "memory", "kv_cache_tokens", "max_concurrency_at_max_len", "estimates", "fits", "reasons", "warnings",
}
PER_GPU_KEYS = {"weights_gib", "kv_cache_gib", "activation_gib", "overhead_gib", "budget_gib", "capacity_gib"}


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "deploykit", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=timeout)


def run_json(*args: str, expect: int = 0):
    """Run with --format json; the exit code must be `expect` and stdout must be one JSON document, nothing else."""
    r = run(*args, "--format", "json")
    assert r.returncode == expect, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    text = r.stdout.strip()
    assert text[:1] in ("{", "[") and text[-1:] in ("}", "]"), f"stdout is not only JSON:\n{r.stdout}"
    return json.loads(r.stdout), r


# ---------------------------------------------------------------------------------------------------- detect
def test_detect_json_on_this_machine():
    """Whatever this machine is, stdout is one JSON document; without an NVIDIA driver the NVML note is data."""
    data, _ = run_json("detect")
    assert data["cpu"]["logical_cores"] >= 1
    assert data["cpu"]["memory_total_bytes"] > 0
    assert data["profile"]
    if data["nvidia"] is None:  # the dev/CI machines have no NVIDIA driver
        if sys.platform.startswith("linux"):
            assert data["kind"] == "cpu"
        assert any("NVML" in note for note in data["notes"]), data["notes"]


def test_detect_replays_hgx_h100_recording():
    data, _ = run_json("detect", "--from-recording", str(NVML / "hgx_h100_80gb_hbm3_8x.json"))
    assert data["kind"] == "nvidia"
    gpus = data["nvidia"]["gpus"]
    assert len(gpus) == 8
    assert [g["profile"] for g in gpus] == ["h100-sxm"] * 8
    links = data["nvidia"]["links"]
    assert len(links) == 8 * 7 // 2
    assert all(link["nvlink"] is True for link in links)


def test_detect_replays_mig_recording():
    data, _ = run_json("detect", "--from-recording", str(NVML / "h100_80gb_hbm3_mig_load.json"))
    assert data["kind"] == "nvidia"
    assert any(g["mig_enabled"] is True for g in data["nvidia"]["gpus"])
    assert any("MIG" in note for note in data["notes"]), data["notes"]


def test_detect_replays_l40s_recording():
    data, _ = run_json("detect", "--from-recording", str(NVML / "l40s_1x_load.json"))
    assert [g["profile"] for g in data["nvidia"]["gpus"]] == ["l40s"]
    assert data["profile"] == "l40s"


# ---------------------------------------------------------------------------------------------------- models
def test_models_license_filter():
    data, _ = run_json("models", "--license", "apache-2.0")
    assert data, "no Apache-2.0 model in the catalog?"
    assert {m["license"]["id"].lower() for m in data} == {"apache-2.0"}
    everything, _ = run_json("models")
    assert len(data) < len(everything)
    assert {m["name"] for m in everything if m["license"]["id"].lower() == "apache-2.0"} == {m["name"] for m in data}


def test_models_show_resolves_alias():
    data, _ = run_json("models", "show", "llama3.1")
    assert data["name"] == "llama-3.1-8b"
    assert data["hf_repo"] == "meta-llama/Llama-3.1-8B-Instruct"


def test_unknown_model_suggests_the_near_name():
    r = run("models", "show", "lama-3.1-8b")
    assert r.returncode == 2
    assert r.stdout == ""
    assert "did you mean" in r.stderr.lower()
    assert "llama-3.1-8b" in r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_model_error_as_json_on_stderr():
    r = run("models", "show", "lama-3.1-8b", "--format", "json")
    assert r.returncode == 2
    assert r.stdout == ""
    info = json.loads(r.stderr.strip().splitlines()[-1])
    assert info["exit_code"] == 2 and info["error"] == "unknown name"
    assert "llama-3.1-8b" in info["did_you_mean"]
    assert info["fix"]


def test_unknown_model_error_as_json_with_short_format_option():
    r = run("models", "show", "lama-3.1-8b", "-f", "json")
    assert r.returncode == 2
    assert json.loads(r.stderr.strip().splitlines()[-1])["exit_code"] == 2


def test_unknown_profile_suggests_the_near_name():
    r = run("plan", "llama-3.1-8b", "--profile", "h100-sxn")
    assert r.returncode == 2
    assert r.stdout == ""
    assert "did you mean" in r.stderr.lower()
    assert "h100-sxm" in r.stderr


# -------------------------------------------------------------------------------------------------- profiles
def test_profiles_json_lists_sizes_and_sources():
    data, _ = run_json("profiles")
    names = {p["name"] for p in data}
    assert {"h100-sxm", "m3-max", "m3-max-36gb", "m3-max-128gb"} <= names
    assert all(isinstance(p["source"], str) and p["source"].strip() for p in data)
    variant = next(p for p in data if p["name"] == "m3-max-36gb")
    assert variant["variant_of"] == "m3-max" and variant["memory_gib"] == 36


# ------------------------------------------------------------------------------------------------------ plan
def test_plan_json_has_the_contract_keys_and_adds_up():
    p, r = run_json("plan", "llama-3.1-8b", "--profile", "h100-sxm")
    assert PLAN_KEYS <= set(p), PLAN_KEYS - set(p)
    assert {"name", "hf_repo", "revision"} <= set(p["model"])
    assert {"profile", "gpus", "nodes", "gpu_memory_gib"} <= set(p["hardware"])
    assert {"dtype", "artifact"} <= set(p["weights"])
    assert PER_GPU_KEYS <= set(p["memory"]["per_gpu"])
    assert "decode_tokens_per_s" in p["estimates"]
    assert p["fits"] is True
    assert p["model"]["name"] == "llama-3.1-8b" and p["hardware"]["profile"] == "h100-sxm"
    assert p["gpus_used"] >= 1 and p["max_model_len"] > 0 and p["kv_cache_tokens"] > 0
    assert p["estimates"]["decode_tokens_per_s"] > 0
    assert isinstance(p["reasons"], list) and p["reasons"]
    m = p["memory"]["per_gpu"]
    used = m["weights_gib"] + m["kv_cache_gib"] + m["activation_gib"] + m["overhead_gib"]
    assert used <= m["budget_gib"] + 0.01
    assert m["budget_gib"] <= m["capacity_gib"]


def test_plan_that_does_not_fit_exits_3_with_alternatives():
    p, _ = run_json("plan", "llama-3.1-405b", "--profile", "l4", expect=3)
    assert p["fits"] is False
    assert p["alternatives"], "a plan that does not fit must say what would"
    for alt in p["alternatives"]:
        assert alt["gpus_used"] >= 1
        assert alt["change"] and alt["model"]


def test_plan_lock_file_refuses_overwrite_without_force(tmp_path):
    lock = tmp_path / "plan.lock.yaml"
    r = run("plan", "llama-3.1-8b", "--profile", "h100-sxm", "-o", str(lock))
    assert r.returncode == 0, r.stderr
    data = yaml.safe_load(lock.read_text())
    assert data["deploykit_lock"] == 1
    assert data["engine"]["name"] == "vllm"
    assert data["engine"]["image"].startswith("vllm/vllm-openai:")
    assert data["plan"]["model"]["name"] == "llama-3.1-8b"
    before = lock.read_bytes()

    again = run("plan", "llama-3.1-8b", "--profile", "h100-sxm", "-o", str(lock))
    assert again.returncode == 2
    assert "--force" in again.stderr
    assert lock.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [lock.name], "no temporary file left behind"

    forced = run("plan", "llama-3.1-8b", "--profile", "h100-sxm", "-o", str(lock), "--force")
    assert forced.returncode == 0, forced.stderr
    assert yaml.safe_load(lock.read_text())["deploykit_lock"] == 1


def test_plan_lock_not_written_when_nothing_fits(tmp_path):
    lock = tmp_path / "nofit.yaml"
    r = run("plan", "llama-3.1-405b", "--profile", "l4", "-o", str(lock))
    assert r.returncode == 3
    assert not lock.exists()
    assert list(tmp_path.iterdir()) == []


def test_plan_without_model_ranks_the_catalog_with_filters():
    ranked, _ = run_json("plan", "--profile", "h100-sxm", "--gpus", "8", "--license", "apache-2.0,mit")
    assert ranked
    assert ranked[0]["rank"] == 1
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    for row in ranked:
        assert row["plan"]["fits"] is True, row["model"]
        assert row["plan"]["license"]["id"].lower() in ("apache-2.0", "mit"), row["model"]
        assert row["plan"]["model"]["name"] == row["model"]
    # ranking.py lists pooling models (embedding models, rerankers) after the generative ones, each group best first
    from deploykit.catalog.loader import get_model
    keys = [(bool({"embeddings", "rerank"} & set(get_model(r["model"]).uses)), -r["score"]) for r in ranked]
    assert keys == sorted(keys), "best first, embedding models and rerankers last"


def test_plan_ranking_by_use():
    ranked, _ = run_json("plan", "--profile", "h100-sxm", "--gpus", "8", "--use", "embeddings")
    assert ranked
    models, _ = run_json("models", "--use", "embeddings")
    embedders = {m["name"] for m in models}
    assert {r["model"] for r in ranked} <= embedders
    assert all("embeddings" in m["uses"] for m in models)


def test_simulated_gpus_need_a_profile():
    r = run("plan", "llama-3.1-8b", "--gpus", "2")
    assert r.returncode == 2
    assert r.stdout == ""
    assert "fix:" in r.stderr and "--profile" in r.stderr


def test_traceback_only_with_debug():
    plain = run("plan", "lama-3.1-8b", "--profile", "h100-sxm")
    debug = run("--debug", "plan", "lama-3.1-8b", "--profile", "h100-sxm")
    assert plain.returncode == debug.returncode == 2
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr and "UnknownNameError" in debug.stderr
    assert "Traceback" not in debug.stdout and debug.stdout == ""


def test_bad_recording_is_an_internal_error_with_a_fix(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    plain = run("plan", "llama-3.1-8b", "--from-recording", str(bad))
    assert plain.returncode != 0
    assert plain.stdout == ""
    assert "fix:" in plain.stderr
    if plain.returncode == 70:  # today: an internal error, which must point at --debug
        assert "--debug" in plain.stderr
    assert "Traceback" not in plain.stderr
    debug = run("--debug", "plan", "llama-3.1-8b", "--from-recording", str(bad))
    assert debug.returncode == plain.returncode
    assert "Traceback" in debug.stderr
    assert debug.stdout == ""


def test_cpu_box_uses_llamacpp_with_gguf():
    p, _ = run_json("plan", "gemma-3-270m", "--profile", "cpu-desktop")
    assert p["fits"] is True
    assert p["engine"] == "llamacpp"
    assert p["weights"]["dtype"].startswith("gguf-")


def test_apple_box_defaults_to_ollama_and_warns_about_vllm():
    p, _ = run_json("plan", "llama-3.1-8b", "--profile", "m3-max-36gb")
    assert p["engine"] == "ollama"
    assert p["weights"]["dtype"].startswith("gguf-")
    assert not any("Apple" in w for w in p["warnings"])
    forced, _ = run_json("plan", "llama-3.1-8b", "--profile", "m3-max-36gb", "--engine", "vllm")
    assert forced["engine"] == "vllm"
    assert any("Apple" in w for w in forced["warnings"]), forced["warnings"]


@pytest.mark.parametrize("args", [["--engine", "tgi"], ["--quant", "int3"], ["--kv-cache-dtype", "fp4"]])
def test_bad_plan_values_are_usage_errors(args):
    r = run("plan", "llama-3.1-8b", "--profile", "h100-sxm", *args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "fix:" in r.stderr
