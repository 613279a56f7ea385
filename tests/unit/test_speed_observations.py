"""data/speed_observations.yaml: every row is complete and sourced, and the estimator can price every row (the
accuracy itself is reported by benchmarks/bench_speed.py, not asserted here)."""

import importlib.util
from pathlib import Path

import pytest
import yaml

from deploykit.catalog.loader import find_model, load_profiles

REPO = Path(__file__).resolve().parents[2]
ROWS = yaml.safe_load((REPO / "data" / "speed_observations.yaml").read_text())["observations"]
REQUIRED = {"id", "source", "quote", "engine", "engine_version", "profile", "gpus", "model", "format",
            "tensor_parallel", "input_tokens", "output_tokens", "concurrency", "metric", "measured"}


def _bench():
    spec = importlib.util.spec_from_file_location("bench_speed", REPO / "benchmarks" / "bench_speed.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_enough_rows_and_unique_ids():
    assert len(ROWS) >= 30
    assert len({r["id"] for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_row_is_complete_and_priced(row):
    assert REQUIRED <= set(row), REQUIRED - set(row)
    assert row["source"].startswith("https://") and row["quote"]
    assert row["profile"] in load_profiles()
    assert row["metric"] in ("decode_tokens_per_s", "aggregate_tokens_per_s", "ttft_s") and row["measured"] > 0
    if row["model"]:
        assert find_model(row["model"]) is not None
    else:
        assert row["model_file_gib"] > 0 and row["params_b"] > 0 and row["num_layers"] > 0
    assert _bench().estimate(row) > 0
