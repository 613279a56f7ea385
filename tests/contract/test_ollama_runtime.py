"""Contract tests: `deploykit up --engine ollama` against a stand-in that follows Ollama's documented API
(tests/contract/ollama_standin.py). No Ollama server binary can be installed here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ollama_standin import StandIn

REPO = Path(__file__).resolve().parents[2]
LIBRARY = {"gemma3:270m": 291_554_930, "gemma3:4b": 3_338_801_804}


@pytest.fixture()
def run(tmp_path: Path):
    env = {**os.environ, "DEPLOYKIT_STATE_DIR": str(tmp_path / "state"), "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}

    def go(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "deploykit", *args], capture_output=True, text=True, cwd=REPO,
                              env={**env, **extra}, timeout=120)
    return go


def test_up_pulls_creates_with_the_plan_loads_and_serves(run) -> None:
    with StandIn(LIBRARY) as server:
        r = run("up", "gemma-3-270m", "--engine", "ollama", "--detach", "-f", "json", OLLAMA_HOST=server.url)
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        assert data["served_model"] == "gemma-3-270m" and data["completion_tokens"] > 0
        assert data["base_url"] == f"{server.url}/v1"
        plan = json.loads(run("plan", "gemma-3-270m", "--engine", "ollama", "-f", "json").stdout)
        assert server.created["gemma-3-270m"] == {"from": "gemma3:270m", "parameters": {
            "num_ctx": plan["max_model_len"], "num_gpu": plan["gpu_layers"]}}
        assert server.loaded == {"gemma-3-270m": -1}, "loaded for good (keep_alive -1)"
        (row,) = json.loads(run("ps", "-f", "json", OLLAMA_HOST=server.url).stdout)
        assert row["status"] == "ready" and row["engine"] == "ollama"
        down = run("down", "gemma-3-270m")
        assert down.returncode == 0, down.stderr
        assert server.loaded == {} and "gemma-3-270m" not in server.created
        assert ("POST", "/api/generate", {"model": "gemma-3-270m", "keep_alive": 0}) in server.calls
        assert json.loads(run("ps", "-f", "json").stdout) == []


def test_unknown_tag_fails_cleanly(run) -> None:
    with StandIn({}) as server:
        r = run("up", "gemma-3-270m", "--engine", "ollama", OLLAMA_HOST=server.url)
        assert r.returncode == 9 and "file does not exist" in r.stderr and "ollama.com/library" in r.stderr
        assert server.created == {} and json.loads(run("ps", "-f", "json").stdout) == []


def test_load_out_of_memory_deletes_what_it_created(run) -> None:
    with StandIn(LIBRARY, max_ctx=1024) as server:
        r = run("up", "gemma-3-270m", "--engine", "ollama", OLLAMA_HOST=server.url)
        assert r.returncode == 9 and "more system memory" in r.stderr
        assert server.created == {} and server.loaded == {}
        assert json.loads(run("ps", "-f", "json").stdout) == []


def test_no_server_is_a_clear_error(run) -> None:
    r = run("up", "gemma-3-270m", "--engine", "ollama", OLLAMA_HOST="127.0.0.1:9")
    assert r.returncode == 8 and "no Ollama server" in r.stderr and "OLLAMA_HOST" in r.stderr
