"""Planner speed. Run on demand: python benchmarks/bench_plan.py

1. `deploykit plan MODEL --profile h100-sxm` cold, as a fresh process (target: under 0.3 s; heavy imports lazy).
2. Ranking the whole catalog on an 8-GPU box, in process (warm), and cold as a command.
Prints each time and its ratio to the target.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

COLD_TARGET_S = 0.3


def cold(args: list[str], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "deploykit", *args], check=False, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    baseline = cold(["--version"])
    one = cold(["plan", "llama-3.1-70b", "--profile", "h100-sxm", "--gpus", "8", "--format", "json"])
    ranked = cold(["plan", "--profile", "h100-sxm", "--gpus", "8", "--format", "json"], runs=3)
    print(f"python -m deploykit --version (interpreter + CLI import): {baseline:.3f} s")
    print(f"plan one model, cold:   {one:.3f} s  (target {COLD_TARGET_S} s, ratio {one / COLD_TARGET_S:.2f})")
    print(f"rank whole catalog on 8 x H100, cold: {ranked:.3f} s")

    from deploykit.catalog.loader import get_profile, load_models
    from deploykit.planning.box import simulated_box
    from deploykit.planning.ranking import rank
    from deploykit.planning.types import Policy, Workload

    box = simulated_box(get_profile("h100-sxm"), 8)
    models = list(load_models().values())
    start = time.perf_counter()
    result = rank(models, box, Workload(), Policy())
    warm = time.perf_counter() - start
    print(f"rank {len(models)} models in process (warm): {warm:.3f} s, {len(result)} fit, "
          f"{warm / len(models) * 1000:.1f} ms per model")


if __name__ == "__main__":
    main()
