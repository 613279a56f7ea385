"""vLLM's CPU build, launched for real by `deploykit up` on a tiny random-weight Llama (~70 s to ready on 2 cores):
ready, smoke completion with tokens, ps, down; and an engine killed mid-start reported as a crash with its log."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import REPO

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_up_ps_down(deploykit, tiny_llama: Path, vllm_python: str) -> None:
    run, env = deploykit
    port = free_port()
    r = run("up", str(tiny_llama), "--engine", "vllm", "--engine-bin", vllm_python, "--name", "tiny",
            "--port", str(port), "--context", "1024", "--concurrency", "4", "--detach", "-f", "json")
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads(r.stdout)
    assert data["base_url"] == f"http://127.0.0.1:{port}/v1" and data["completion_tokens"] > 0
    # the engine's own KV figure, parsed from its log, against what deploykit reserved and predicted
    assert data["kv_cache_tokens_reported"] == data["kv_cache_tokens_planned"]
    reply = httpx.post(f"{data['base_url']}/chat/completions", timeout=60,
                       json={"model": "tiny-llama", "messages": [{"role": "user", "content": "hi"}],
                             "max_tokens": 4})
    assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] > 0
    (row,) = json.loads(run("ps", "-f", "json").stdout)
    assert row["name"] == "tiny" and row["status"] == "ready" and row["pid"] == data["pid"]
    assert "Application startup complete" in run("logs", "tiny").stdout
    check = run("check", data["base_url"], "-f", "json")
    verdict = json.loads(check.stdout)
    assert check.returncode == 0 and verdict["healthy"] and verdict["health"] == "200" and verdict["ttft_ms"] > 0
    bench = run("bench", data["base_url"], "--requests", "8", "--concurrency", "1,4", "--max-tokens", "8",
                "--prompt-tokens", "16", "-f", "json")
    assert bench.returncode == 0, bench.stderr[-2000:]
    levels = json.loads(bench.stdout)["levels"]
    assert [lv["requests_ok"] for lv in levels] == [8, 8] and levels[0]["ttft_ms"]["p50"] > 0
    down = run("down", "tiny")
    assert down.returncode == 0 and "stopped" in down.stderr
    assert json.loads(run("ps", "-f", "json").stdout) == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)


def test_engine_killed_mid_start_is_reported_as_a_crash(deploykit, tiny_llama: Path, vllm_python: str) -> None:
    _, env = deploykit
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "deploykit", "up", str(tiny_llama), "--engine", "vllm",
                             "--engine-bin", vllm_python, "--name", "doomed", "--port", str(port),
                             "--context", "1024", "--concurrency", "4"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    registry = Path(env["DEPLOYKIT_STATE_DIR"]) / "deployments.json"
    deadline = time.monotonic() + 60
    pid = None
    while pid is None:
        assert time.monotonic() < deadline and proc.poll() is None, "the engine never started"
        if registry.exists():
            pid = json.loads(registry.read_text())["deployments"].get("doomed", {}).get("pid")
        time.sleep(0.5)
    time.sleep(8)  # mid-start: vLLM is importing / loading, the port not yet serving
    os.killpg(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 9, err[-3000:]
    assert "crash" in err and "exited with code -9" in err and "engine log (last lines)" in err
    assert json.loads(registry.read_text())["deployments"] == {}
