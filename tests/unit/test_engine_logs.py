"""Engine-log reading against logs recorded from real vLLM 0.32 CPU runs (tests/fixtures/engine_logs/README.md says
how each was produced) and, for failures only a GPU box prints, the message templates quoted with their source
lines in tests/fixtures/engine_logs/vllm_messages.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploykit.runtime import logs

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "engine_logs"


def read(name: str) -> str:
    return (LOGS / name).read_text(errors="replace")


def test_kv_capacity_from_a_real_ready_log() -> None:
    kv = logs.kv_report(read("vllm_cpu_ready.log"))
    assert kv.tokens == 1_048_576 and kv.max_concurrency == 1024.0 and kv.tokens_per_request == 1024
    assert logs.classify(read("vllm_cpu_ready.log")) is None


@pytest.mark.parametrize(("log", "kind"), [
    ("vllm_cpu_context_too_long.log", "context_too_long"),
    ("vllm_cpu_tp_mismatch.log", "tp_mismatch"),
    ("vllm_cpu_port_in_use.log", "port_in_use"),
    ("vllm_cpu_bad_model.log", "model_not_found"),
])
def test_real_failure_logs_are_classified(log: str, kind: str) -> None:
    failure = logs.classify(read(log))
    assert failure is not None and failure.kind == kind, failure
    assert failure.fix and failure.line


def test_context_too_long_carries_the_engines_estimate() -> None:
    failure = logs.classify(read("vllm_cpu_context_too_long.log"))
    assert failure.estimated_max_len == 896


@pytest.mark.parametrize(("line", "kind"), [
    # vllm/v1/core/kv_cache_utils.py (GPU build prints the same template with GPU)
    ("(EngineCore pid=1) INFO 11-21 [kv_cache_utils.py:2327] GPU KV cache size: 2,146,656 tokens", None),
    ("ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when "
     "initializing the engine.", "oom"),
    ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
     "79.19 GiB of which 1.05 GiB is free.", "oom"),
    ("ValueError: Free memory on device cuda:0 (10.2/79.1 GiB) on startup is less than desired GPU memory "
     "utilization (0.9, 71.2 GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.",
     "memory_in_use"),
    ("RuntimeError: The NVIDIA driver on your system is too old (found version 11040).", "cuda_driver"),
    ("huggingface_hub.errors.GatedRepoError: 403 Client Error. Cannot access gated repo for url "
     "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/resolve/main/config.json.", "gated"),
    ("OSError: [Errno 28] No space left on device", "disk_full"),
    ("OSError: [Errno 98] Address already in use", "port_in_use"),
])
def test_message_templates_are_classified(line: str, kind: str | None) -> None:
    failure = logs.classify(f"INFO starting\n{line}\nINFO exiting\n")
    assert (failure.kind if failure else None) == kind
    if failure:
        assert failure.line == line[:500]
