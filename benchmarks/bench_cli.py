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

Each row also gives the median CPU time (user + system) of the process, which a busy machine inflates far less
than the wall time. `--compare-with DIR` runs every command a second time, interleaved, with DIR/src first on
PYTHONPATH (e.g. an export of an older commit: `git archive OLD | tar -x -C DIR`) and prints that column beside.
"""

from __future__ import annotations

import argparse
import os
import resource
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


def once(argv: list[str], env: dict[str, str], fresh_cache: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    tmp = tempfile.mkdtemp(prefix="dk-bench-cache-") if fresh_cache else None
    run_env = {**env, "DEPLOYKIT_CACHE_DIR": tmp} if tmp else env
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    if proc.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (the median is reported)")
    parser.add_argument("--compare-with", type=Path, help="a source tree (DIR/src/deploykit) to time beside")
    args = parser.parse_args()
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    # pip compiles an installed package's .pyc files; a checkout run with PYTHONDONTWRITEBYTECODE would compile
    # deploykit's sources on every start while typer and rich load from .pyc, which is not what users run
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    trees = {"now": env}
    if args.compare_with:
        trees["other"] = {**env, "PYTHONPATH": str(args.compare_with.resolve() / "src")}
    for tree_env in trees.values():  # warm the OS file cache, the .pyc files and deploykit's catalog cache once
        for _, argv, *_ in CASES:
            once(argv, tree_env, False)
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _ in range(args.runs):  # interleaved, so background load hits every row alike
        for label, argv in BASELINES:
            samples.setdefault((label, "now"), []).append(once(argv, env, False))
        for label, argv, _, _, fresh in CASES:
            for tree, tree_env in trees.items():
                samples.setdefault((label, tree), []).append(once(argv, tree_env, fresh))
    wall = {k: statistics.median(w for w, _ in v) for k, v in samples.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in samples.items()}
    bare, libs = wall[(BASELINES[0][0], "now")], wall[(BASELINES[1][0], "now")]
    print(f"median of {args.runs} runs each; python: {PY}; load average {os.getloadavg()[0]:.2f}")
    other = f" {'other':>7} {'cpu s':>6}" if args.compare_with else ""
    header = f"{'command':<44} {'seconds':>7} {'cpu s':>6} {'x pass':>6} {'x libs':>6} {'- libs':>6}{other}  target"
    print(header)
    print("-" * len(header))
    for label, _ in BASELINES:
        t = wall[(label, "now")]
        pad = f" {'':>7} {'':>6}" if args.compare_with else ""
        print(f"{label:<44} {t:7.3f} {cpu[(label, 'now')]:6.3f} {t / bare:6.2f} {t / libs:6.2f} {t - libs:6.3f}{pad}")
    for label, _, kind, target, _ in CASES:
        t = wall[(label, "now")]
        if kind == "over-libs":
            goal = f"<= libs + {target:.2f} s: {'met' if t - libs <= target else 'MISSED'}"
        else:
            goal = f"<= {target:.2f} s: {'met' if t <= target else 'MISSED'}"
        beside = f" {wall[(label, 'other')]:7.3f} {cpu[(label, 'other')]:6.3f}" if args.compare_with else ""
        print(f"{label:<44} {t:7.3f} {cpu[(label, 'now')]:6.3f} {t / bare:6.2f} {t / libs:6.2f} {t - libs:6.3f}"
              f"{beside}  {goal}")


if __name__ == "__main__":
    main()
