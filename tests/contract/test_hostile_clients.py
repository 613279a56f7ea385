"""`deploykit check` and `bench` against a hostile server: a trickle of bytes or a stream of keep-alive comments
ends at --timeout (a deadline, not a per-read limit), endless bodies are cut off, and credentials in the URL are
never printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile_standin import HostileServer, Script

from deploykit.benchmark import loadgen
from deploykit.errors import NotReadyError
from deploykit.runtime.health import check_endpoint

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "deploykit", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=timeout)


@pytest.mark.parametrize("mode", ["trickle", "keepalive"])
def test_check_ends_at_its_deadline(mode: str) -> None:
    with HostileServer(Script(mode, interval=0.3)) as server:
        started = time.monotonic()
        v = check_endpoint(server.root, api_key=None, model=None, timeout_s=2)
        took = time.monotonic() - started
    assert took < 4, took
    assert not v.healthy and any("deadline" in p for p in v.problems), v.problems


def test_check_stops_reading_an_endless_body() -> None:
    with HostileServer(Script("endless")) as server:
        v = check_endpoint(server.root, api_key=None, model=None, timeout_s=20)
    assert not v.healthy and any("more than 4 MiB" in p for p in v.problems), v.problems


def test_check_cli_deadline_and_redacted_credentials() -> None:
    with HostileServer(Script("keepalive", interval=0.3)) as server:
        url = server.root.replace("http://", "http://alice:s3cr3t-pw@") + "/v1"
        started = time.monotonic()
        r = cli("check", url, "--timeout", "2", "-f", "json")
        took = time.monotonic() - started
    assert r.returncode == 1, r.stderr
    assert took < 15
    assert "s3cr3t-pw" not in r.stdout + r.stderr and "alice" not in r.stdout + r.stderr
    v = json.loads(r.stdout)
    assert v["url"].startswith("http://***@127.0.0.1:") and any("deadline" in p for p in v["problems"])


@pytest.mark.parametrize("mode", ["trickle", "keepalive"])
def test_bench_requests_end_at_the_timeout(mode: str) -> None:
    with HostileServer(Script(mode, interval=0.3)) as server:
        cfg = loadgen.BenchConfig(base_url=server.root + "/v1", requests=2, timeout_s=1.5, max_tokens=8)
        started = time.monotonic()
        if mode == "trickle":  # the model list never completes
            with pytest.raises(NotReadyError, match="no complete answer"):
                loadgen.run(cfg)
        else:
            result = loadgen.run(cfg)
            assert result.levels[0].summary.errors == {"timeout": 2}
        took = time.monotonic() - started
    assert took < 6, took


def test_bench_cuts_off_an_endless_model_list_and_redacts_credentials() -> None:
    with HostileServer(Script("endless")) as server:
        url = server.root.replace("http://", "http://bob:hunter2@") + "/v1"
        r = cli("bench", url, "--requests", "1", "--timeout", "5", "-f", "json")
    assert r.returncode in (2, 10), r.stderr
    assert "hunter2" not in r.stdout + r.stderr and "bob:" not in r.stdout + r.stderr
    assert "cannot learn the served model" in r.stderr


def test_bench_caps_a_stream_that_never_ends() -> None:
    with HostileServer(Script("keepalive", interval=0)) as server:
        cfg = loadgen.BenchConfig(base_url=server.root + "/v1", requests=1, timeout_s=30, max_tokens=1)
        result = loadgen.run(cfg)
    assert result.levels[0].summary.errors == {"too large": 1}
