"""`deploykit up` under faults, run for real as a subprocess against a stand-in engine (tests/e2e/fake_engine.py):
an engine that exits at once, one that never becomes ready, one that answers with zero tokens, a taken port,
Ctrl-C during start, and the re-plan-and-retry after "context too long". Whatever happens, nothing is left running
and the registry holds no half-written entry. The real engines are exercised in tests/e2e."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stand_in_engine import TINY_CONFIG, fake_python_and_model  # noqa: F401 - other tests import TINY_CONFIG from here
from test_cli import REPO



@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    python, model = fake_python_and_model(tmp_path)
    return {**os.environ, "DEPLOYKIT_STATE_DIR": str(tmp_path / "state"), "DEPLOYKIT_VLLM_PYTHON": str(python),
            "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "200", "MODEL_DIR": str(model)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def up(env: dict[str, str], mode: str, *extra: str, timeout: float = 60, **more: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deploykit", "up", env["MODEL_DIR"], "--engine", "vllm",
                           "--name", "tiny", *extra], capture_output=True, text=True, cwd=REPO, timeout=timeout,
                          env={**env, "FAKE_ENGINE_MODE": mode, **more})


def registry(env: dict[str, str]) -> dict:
    path = Path(env["DEPLOYKIT_STATE_DIR"]) / "deployments.json"
    return json.loads(path.read_text())["deployments"] if path.exists() else {}


def engines_running(port: int) -> list[str]:
    out = subprocess.run(["pgrep", "-af", "fake_engine.py"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if f"--port {port}" in line]


def test_engine_that_exits_at_once_is_a_crash_with_its_log(env) -> None:
    port = free_port()
    r = up(env, "exit", "--port", str(port))
    assert r.returncode == 9, r.stderr
    assert "crash" in r.stderr and "told to fail" in r.stderr, r.stderr
    assert registry(env) == {} and engines_running(port) == []


def test_engine_that_never_becomes_ready_times_out_and_is_killed(env) -> None:
    port = free_port()
    r = up(env, "hang", "--port", str(port), "--timeout", "3")
    assert r.returncode == 10, r.stderr
    assert "not ready after 3 s" in r.stderr
    assert registry(env) == {} and engines_running(port) == []


def test_zero_completion_tokens_is_not_ready(env) -> None:
    port = free_port()
    r = up(env, "zero_tokens", "--port", str(port), "--timeout", "10")
    assert r.returncode == 10 and "0 completion tokens" in r.stderr, r.stderr
    assert engines_running(port) == []


def test_taken_port_fails_before_anything_starts(env) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = up(env, "serve", "--port", str(port))
    assert r.returncode == 9 and "already in use" in r.stderr and "--port" in r.stderr
    assert registry(env) == {} and engines_running(port) == []


def test_ctrl_c_during_start_leaves_nothing_behind(env) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "deploykit", "up", env["MODEL_DIR"], "--engine", "vllm",
                             "--name", "tiny", "--port", str(port)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**env, "FAKE_ENGINE_MODE": "hang"})
    deadline = time.monotonic() + 30
    while not (registry(env).get("tiny", {}).get("pid") and engines_running(port)):
        assert time.monotonic() < deadline, "the engine never started"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert registry(env) == {} and engines_running(port) == []


def test_context_too_long_replans_with_the_engines_figure_and_retries_once(env) -> None:
    port = free_port()
    r = up(env, "context", "--port", str(port), "--detach", "-f", "json", FAKE_ENGINE_MAX_LEN="1024")
    try:
        assert r.returncode == 0, r.stderr
        assert "retrying once with max_model_len 1,024" in r.stderr
        assert registry(env)["tiny"]["plan"]["max_model_len"] == 1024
        assert "--max-model-len" in (argv := registry(env)["tiny"]["argv"]) and argv[argv.index(
            "--max-model-len") + 1] == "1024"
    finally:
        subprocess.run([sys.executable, "-m", "deploykit", "down", "tiny"], env=env, cwd=REPO, capture_output=True)
    assert engines_running(port) == []
    r = up(env, "context", "--port", str(port), "--no-retry", FAKE_ENGINE_MAX_LEN="1024")
    assert r.returncode == 9 and "context too long" in r.stderr and "estimated maximum model length" in r.stderr


def test_detach_ps_down_and_name_clash(env) -> None:
    port = free_port()
    r = up(env, "serve", "--port", str(port), "--detach", "-f", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["base_url"] == f"http://127.0.0.1:{port}/v1" and data["completion_tokens"] == 5
    assert data["kv_cache_tokens_reported"] == 4096
    try:
        # later plans here read what the engine reported (the stand-in reports far less than was reserved)
        plan = json.loads(subprocess.run([sys.executable, "-m", "deploykit", "plan", env["MODEL_DIR"], "--engine",
                                          "vllm", "-f", "json"], env=env, cwd=REPO, capture_output=True,
                                         text=True).stdout)
        assert any("the engine reported 4,096 KV-cache tokens" in r for r in plan["reasons"])
        assert any("of the predicted KV cache" in w for w in plan["warnings"])
        clash = up(env, "serve", "--port", str(free_port()))
        assert clash.returncode == 2 and "deploykit down tiny" in clash.stderr
        ps = subprocess.run([sys.executable, "-m", "deploykit", "ps", "-f", "json"], env=env, cwd=REPO,
                            capture_output=True, text=True)
        (row,) = json.loads(ps.stdout)
        assert row["status"] == "ready" and row["pid"] == data["pid"]
        os.kill(data["pid"], signal.SIGKILL)  # dies behind deploykit's back: shown dead, not running
        time.sleep(0.5)
        ps = subprocess.run([sys.executable, "-m", "deploykit", "ps", "-f", "json"], env=env, cwd=REPO,
                            capture_output=True, text=True)
        assert json.loads(ps.stdout)[0]["status"] == "dead"
    finally:
        down = subprocess.run([sys.executable, "-m", "deploykit", "down", "tiny"], env=env, cwd=REPO,
                              capture_output=True, text=True)
    assert down.returncode == 0 and registry(env) == {} and engines_running(port) == []


def test_exposed_host_needs_a_key_and_gets_it_by_environment_only(env) -> None:
    port = free_port()
    r = up(env, "serve", "--port", str(port), "--host", "0.0.0.0")
    assert r.returncode == 2 and "VLLM_API_KEY" in r.stderr
    r = up(env, "serve", "--port", str(port), "--host", "0.0.0.0", "--detach", VLLM_API_KEY="sk-test-SECRET")
    try:
        assert r.returncode == 0, r.stderr
        d = registry(env)["tiny"]
        assert "SECRET" not in json.dumps(d) and "SECRET" not in r.stdout + r.stderr
        environ = Path(f"/proc/{d['pid']}/environ").read_bytes().split(b"\0")
        assert b"VLLM_API_KEY=sk-test-SECRET" in environ
    finally:
        subprocess.run([sys.executable, "-m", "deploykit", "down", "tiny"], env=env, cwd=REPO, capture_output=True)


def test_check_gives_a_verdict_on_any_endpoint(env) -> None:
    port = free_port()
    r = up(env, "serve", "--port", str(port), "--detach")
    assert r.returncode == 0, r.stderr
    try:
        check = subprocess.run([sys.executable, "-m", "deploykit", "check", f"http://127.0.0.1:{port}", "-f",
                                "json"], env=env, cwd=REPO, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        v = json.loads(check.stdout)
        assert v["healthy"] and v["completion_tokens"] == 5 and v["ttft_ms"] is not None and v["health"] == "200"
        bad = subprocess.run([sys.executable, "-m", "deploykit", "check", f"http://127.0.0.1:{port}/v1", "--model",
                              "other"], env=env, cwd=REPO, capture_output=True, text=True)
        assert bad.returncode == 1 and "not among the served models" in bad.stdout
    finally:
        subprocess.run([sys.executable, "-m", "deploykit", "down", "tiny"], env=env, cwd=REPO, capture_output=True)
    dead = subprocess.run([sys.executable, "-m", "deploykit", "check", f"http://127.0.0.1:{port}"], env=env,
                          cwd=REPO, capture_output=True, text=True)
    assert dead.returncode == 1 and "unhealthy" in dead.stdout
