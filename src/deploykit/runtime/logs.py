"""Reading an engine's startup log: the KV-cache capacity it settled on, and, when it fails, what kind of failure
it is and the fix. Patterns are the engines' own message templates (see tests/fixtures/engine_logs/, recorded
from real runs, and vllm_messages.md there for the source lines of the rest)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUM = r"([\d,]+)"


@dataclass(frozen=True)
class KVReport:
    tokens: int | None = None  # "GPU/CPU KV cache size: N tokens"
    max_concurrency: float | None = None  # "Maximum concurrency for T tokens per request: X.XXx"
    tokens_per_request: int | None = None


@dataclass(frozen=True)
class Failure:
    kind: str  # oom, memory_in_use, context_too_long, tp_mismatch, cuda_driver, gated, disk_full, port_in_use,
    #            model_not_found, crash
    line: str  # the log line that told
    fix: str
    estimated_max_len: int | None = None  # context_too_long: the largest max_model_len the engine says fits


def kv_report(text: str) -> KVReport:
    tokens = conc = per_req = None
    for m in re.finditer(r"(?:GPU|CPU|XPU|TPU)? ?KV cache size: " + _NUM + " tokens", text):
        tokens = int(m.group(1).replace(",", ""))
    for m in re.finditer(r"Maximum concurrency for " + _NUM + r" tokens per request: ([\d.,]+)x", text):
        per_req, conc = int(m.group(1).replace(",", "")), float(m.group(2).replace(",", ""))
    return KVReport(tokens, conc, per_req)


# (kind, pattern, fix). The first pattern found in the log wins, so the specific ones come first.
RULES: list[tuple[str, str, str]] = [
    ("context_too_long", r"estimated maximum model length is " + _NUM,
     "the KV cache cannot hold one request of max_model_len: lower --context (deploykit retries once with the "
     "engine's own figure unless --no-retry), use an FP8 KV cache, or add GPUs"),
    ("context_too_long", r"(?:is larger than the maximum number of tokens that can be stored in KV cache|"
                         r"max_model_len.{0,80}larger than|exceeds the model's maximum)",
     "lower --context, or give the KV cache more memory"),
    ("memory_in_use", r"Free memory on device .{0,120}is less than desired GPU memory utilization",
     "other processes hold GPU memory: stop them (nvidia-smi shows them) or plan with a lower "
     "--gpu-memory-utilization (deploykit plan reads free memory when it detects the GPUs)"),
    ("oom", r"No available memory for the cache blocks",
     "weights and activations leave no room for the KV cache: raise --gpu-memory-utilization, quantize "
     "(--quant fp8), or use more GPUs (--gpus)"),
    ("oom", r"(?:CUDA out of memory|OutOfMemoryError|CUDA error: out of memory|failed to allocate .{0,40}buffer|"
            r"ggml_backend_.{0,40}alloc.{0,40}failed|Cannot allocate memory)",
     "out of memory while loading: plan again for this box (deploykit plan reads free memory), quantize, shorten "
     "--context or lower --concurrency"),
    ("tp_mismatch", r"(?:must be divisible by tensor parallel size|is not divisible by (?:the )?tensor parallel)",
     "choose a --gpus count whose tensor-parallel size divides the attention heads (deploykit plan picks one)"),
    ("cuda_driver", r"(?:CUDA driver version is insufficient|Found no NVIDIA driver|No CUDA GPUs are available|"
                    r"no CUDA-capable device|NVIDIA driver on your system is too old|CUDA initialization: |Failed to infer device type)",
     "the NVIDIA driver is missing or older than the engine's CUDA build: update the driver, or use an engine "
     "image built for your CUDA version"),
    ("gated", r"(?:GatedRepoError|Cannot access gated repo|gated repo|401 Client Error|Access to model .{0,120} is "
              r"restricted|Invalid credentials in Authorization header|403 Client Error)",
     "the model is gated: accept its licence on the Hugging Face model page, then export HF_TOKEN=hf_... "
     "(a token with read access) and run again"),
    ("disk_full", r"(?:No space left on device|Not enough free disk space)",
     "the disk holding the model cache is full: free space or point HF_HOME at a larger disk"),
    ("port_in_use", r"(?:Address already in use|address already in use|couldn't bind HTTP server socket|"
                    r"error while attempting to bind on address)",
     "the port is taken: pass --port with a free one, or stop what holds it (ss -ltnp)"),
    ("model_not_found", r"(?:Repository Not Found|is not a local folder and is not a valid model identifier|Invalid repository ID or local directory|"
                        r"Model path does not exist|failed to load model|No such file or directory: .{0,200}"
                        r"(?:config\.json|\.gguf))",
     "the model was not found: check the name or path (deploykit models lists the catalog), and HF_TOKEN for "
     "private repositories"),
]


def classify(text: str) -> Failure | None:
    """The classified failure in a log, or None when nothing known is there."""
    for kind, pattern, fix in RULES:
        m = re.search(pattern, text)
        if m:
            line = _line_at(text, m.start())
            est = None
            if kind == "context_too_long" and m.groups():
                est = int(m.group(1).replace(",", ""))
            return Failure(kind, line, fix, est)
    return None


def _line_at(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start:end if end >= 0 else None].strip()[:500]
