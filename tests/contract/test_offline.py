"""Network failures are one error class ("cannot reach X (offline?)", exit 12) reported at once, without
huggingface_hub's retries; a path that does not exist is not taken for a repo id; `up --dry-run` touches no
network and writes nothing. The hub is never the real one: a closed port, or a stand-in that counts requests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from standin_http import JSONHandler, ThreadedServer

REPO = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    return subprocess.run([sys.executable, "-m", "deploykit", *args], capture_output=True, text=True, cwd=REPO,
                          env={**base, "NO_COLOR": "1", "COLUMNS": "200", **env}, timeout=120)


def test_a_missing_directory_is_a_clear_error() -> None:
    r = cli("plan", "./missing-dir", HF_HUB_OFFLINE="1")
    assert r.returncode == 4, r.stderr
    assert "does not exist" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args", [("plan", "foo/bar"), ("pull", "llama-3.1-8b", "-p", "h100-sxm")])
def test_unreachable_hub_fails_fast_with_the_offline_fix(args, tmp_path: Path) -> None:
    started = time.monotonic()
    r = cli(*args, HF_ENDPOINT=f"http://127.0.0.1:{closed_port()}", HF_HOME=str(tmp_path / "hf"))
    took = time.monotonic() - started
    assert r.returncode == 12, r.stderr
    assert "cannot reach 127.0.0.1" in r.stderr and "(offline?)" in r.stderr and "HF_HUB_OFFLINE" in r.stderr
    assert "Retrying" not in r.stderr and took < 20


@pytest.mark.parametrize("args", [("plan", "foo/bar"), ("pull", "llama-3.1-8b", "-p", "h100-sxm")])
def test_known_offline_is_answered_without_asking(args, tmp_path: Path) -> None:
    r = cli(*args, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    assert r.returncode == 12, r.stderr
    assert "HF_HUB_OFFLINE=1" in r.stderr and "Traceback" not in r.stderr


class Counting(JSONHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        Counting.hits.append(self.path)
        self._json(404, {"error": "no"})

    do_HEAD = do_POST = do_GET  # noqa: N815


@pytest.mark.parametrize("engine, model", [("llamacpp", "gemma-3-270m"), ("vllm", "gemma-3-270m")])
def test_up_dry_run_touches_no_network_and_writes_nothing(engine: str, model: str, tmp_path: Path) -> None:
    Counting.hits = []
    with ThreadedServer(Counting) as hub:
        r = cli("up", model, "--engine", engine, "--dry-run", "--engine-bin", sys.executable,
                HF_ENDPOINT=hub.root, HF_HOME=str(tmp_path / "hf"), DEPLOYKIT_STATE_DIR=str(tmp_path / "state"),
                XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert r.returncode == 0, r.stderr
    assert Counting.hits == []
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert "--port" in r.stdout
