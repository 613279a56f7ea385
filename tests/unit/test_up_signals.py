"""Process hygiene, run for real against the stand-in engine (tests/e2e/fake_engine.py): SIGTERM and SIGHUP stop a
foreground `up` (and one still starting) exactly as Ctrl-C does; an engine that forks is stopped whole, also when
its group leader has already exited (during start, and later by `down`); timeouts must be finite numbers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from test_cli import REPO
from test_up_faults import engines_running, env, free_port, registry, up  # noqa: F401 - env is a fixture


def _wait(what, condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _start(env: dict[str, str], mode: str, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "deploykit", "up", env["MODEL_DIR"], "--engine", "vllm",
                             "--name", "tiny", "--port", str(port)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**env, "FAKE_ENGINE_MODE": mode})


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_to_a_foreground_up_stops_the_engine_and_forgets_it(env, sig) -> None:  # noqa: F811
    port = free_port()
    proc = _start(env, "serve", port)
    _wait("never ready", lambda: registry(env).get("tiny", {}).get("status") == "ready")
    assert engines_running(port)
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert registry(env) == {} and engines_running(port) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_during_start_leaves_nothing_behind(env, sig) -> None:  # noqa: F811
    port = free_port()
    proc = _start(env, "hang", port)
    _wait("the engine never started", lambda: registry(env).get("tiny", {}).get("pid") and engines_running(port))
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert registry(env) == {} and engines_running(port) == []


def test_a_forking_engine_is_stopped_whole_in_the_foreground(env) -> None:  # noqa: F811
    port = free_port()
    proc = _start(env, "fork_serve", port)
    _wait("never ready", lambda: registry(env).get("tiny", {}).get("status") == "ready")
    assert len(engines_running(port)) == 2  # the leader and its child
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert registry(env) == {} and engines_running(port) == []


def test_children_of_a_leader_that_exited_during_start_are_stopped(env) -> None:  # noqa: F811
    port = free_port()
    r = up(env, "fork_exit", "--port", str(port), "--timeout", "20")
    assert r.returncode == 9, r.stderr
    assert registry(env) == {} and engines_running(port) == []


def test_down_stops_children_after_the_leader_died(env) -> None:  # noqa: F811
    port = free_port()
    r = up(env, "fork_serve", "--port", str(port), "--detach", "-f", "json")
    assert r.returncode == 0, r.stderr
    leader = json.loads(r.stdout)["pid"]
    os.kill(leader, signal.SIGKILL)
    _wait("the leader did not die", lambda: len(engines_running(port)) == 1)
    down = subprocess.run([sys.executable, "-m", "deploykit", "down", "tiny"], env=env, cwd=REPO,
                          capture_output=True, text=True)
    assert down.returncode == 0 and "stopped" in down.stderr, down.stderr
    assert registry(env) == {} and engines_running(port) == []


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "0"])
def test_timeouts_are_finite_positive_numbers(env, value) -> None:  # noqa: F811
    r = up(env, "serve", "--port", str(free_port()), "--timeout", value)
    assert r.returncode == 2 and "--timeout" in r.stderr, r.stderr
    assert registry(env) == {}
    for command in (["check", "http://127.0.0.1:9/v1"], ["bench", "http://127.0.0.1:9/v1"]):
        r = subprocess.run([sys.executable, "-m", "deploykit", *command, "--timeout", value], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and "--timeout" in r.stderr, (command, r.stderr)
