"""How long the `deploykit` command takes to answer, as whole processes. Run on demand:

    python benchmarks/bench_cli.py [--runs N]

Each command is started as a fresh process (the installed `deploykit` script next to this Python, else
`python -m deploykit`), N times, interleaved with two baselines measured in the same run: `python -c pass` (the
interpreter alone) and `python -c "import typer, rich"` (the interpreter and the CLI libraries). Every figure is the
median, printed with its ratio to both baselines and its target:

- `--help`, `--version`: within 0.15 s of `import typer, rich`;
- `plan MODEL --profile P`: under 0.3 s;
- `plan --profile P` (ranking the whole catalog): under 0.5 s.

The plan rows run with the on-disk catalog cache as a user has it after the first command; the `first run` rows
point DEPLOYKIT_CACHE_DIR at an empty folder each time, so they include validating the catalog from YAML.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
SCRIPT = Path(PY).with_name("deploykit")
DK = [str(SCRIPT)] if SCRIPT.exists() else [PY, "-m", "deploykit"]

# (label, argv, target kind, target value): "abs" = seconds, "over-libs" = seconds above `import typer, rich`.
CASES: list[tuple[str, list[str], str, float, bool]] = [
    ("deploykit --help", [*DK, "--help"], "over-libs", 0.15, False),
    ("deploykit --version", [*DK, "--version"], "over-libs", 0.15, False),
    ("plan llama-3.1-8b --profile h100-sxm", [*DK, "plan", "llama-3.1-8b", "--profile", "h100-sxm"], "abs", 0.3,
     False),
    ("plan --profile h100-sxm --gpus 8 (rank)", [*DK, "plan", "--profile", "h100-sxm", "--gpus", "8"], "abs", 0.5,
     False),
    ("plan llama-3.1-8b -p h100-sxm, first run", [*DK, "plan", "llama-3.1-8b", "--profile", "h100-sxm"], "abs",
     0.3, True),
    ("plan --profile h100-sxm --gpus 8, first run", [*DK, "plan", "--profile", "h100-sxm", "--gpus", "8"], "abs",
     0.5, True),
]
BASELINES = [("python -c pass", [PY, "-c", "pass"]), ("python -c 'import typer, rich'",
                                                      [PY, "-c", "import typer, rich"])]


def once(argv: list[str], env: dict[str, str], fresh_cache: bool) -> float:
    tmp = tempfile.mkdtemp(prefix="dk-bench-cache-") if fresh_cache else None
    run_env = {**env, "DEPLOYKIT_CACHE_DIR": tmp} if tmp else env
    start = time.perf_counter()
    proc = subprocess.run(argv, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - start
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (the median is reported)")
    args = parser.parse_args()
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    # pip compiles an installed package's .pyc files; a checkout run with PYTHONDONTWRITEBYTECODE would compile
    # deploykit's sources on every start while typer and rich load from .pyc, which is not what users run
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for _, argv, *_ in CASES:  # warm the OS file cache and deploykit's catalog cache once
        once(argv, env, False)
    samples: dict[str, list[float]] = {label: [] for label, *_ in BASELINES + CASES}
    for _ in range(args.runs):  # interleaved, so background load hits every row alike
        for label, argv in BASELINES:
            samples[label].append(once(argv, env, False))
        for label, argv, _, _, fresh in CASES:
            samples[label].append(once(argv, env, fresh))
    med = {label: statistics.median(v) for label, v in samples.items()}
    bare, libs = med[BASELINES[0][0]], med[BASELINES[1][0]]
    print(f"median of {args.runs} runs each; python: {PY}; load average {os.getloadavg()[0]:.2f}")
    header = f"{'command':<46} {'seconds':>8} {'x pass':>7} {'x libs':>7} {'- libs':>7}  target"
    print(header)
    print("-" * len(header))
    for label, _ in BASELINES:
        print(f"{label:<46} {med[label]:8.3f} {med[label] / bare:7.2f} {med[label] / libs:7.2f} "
              f"{med[label] - libs:7.3f}")
    for label, _, kind, target, _ in CASES:
        t = med[label]
        if kind == "over-libs":
            ok = t - libs <= target
            goal = f"<= libs + {target:.2f} s: {'met' if ok else 'MISSED'}"
        else:
            ok = t <= target
            goal = f"<= {target:.2f} s: {'met' if ok else 'MISSED'}"
        print(f"{label:<46} {t:8.3f} {t / bare:7.2f} {t / libs:7.2f} {t - libs:7.3f}  {goal}")


if __name__ == "__main__":
    main()
