"""Lock files are input from outside: size-limited, read by a YAML loader that refuses aliases, held to a strict
schema (known keys, types, ranges, no free-form nesting), shaped so that no value becomes an engine flag, and
compared with this machine before `up --plan` pulls or starts anything."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import yaml
from render_cases import CASES, case_plan
from test_cli import run

from deploykit.errors import PlanFileError
from deploykit.planning import lockfile


def lock_text(case: str = "single-gpu-vllm", **plan_changes) -> str:
    plan, _, _ = case_plan(case)
    data = lockfile.lock_data(plan, {"model": CASES[case][0], "profile": CASES[case][1], "gpus": CASES[case][2]})
    for dotted, value in plan_changes.items():
        node = data["plan"]
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("case", list(CASES))
def test_every_golden_plan_round_trips(case: str) -> None:
    plan, _, _ = case_plan(case)
    _, again = lockfile.parse_lock(lock_text(case))
    assert again == plan


BILLION_LAUGHS = """deploykit_lock: 1
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
plan: {model: *i}
"""


def test_yaml_aliases_are_refused_at_once() -> None:
    started = time.perf_counter()
    with pytest.raises(PlanFileError, match="aliases"):
        lockfile.parse_lock(BILLION_LAUGHS)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("change, message", [
    ({"hardware__gpus": -4}, "plan.hardware.gpus"),
    ({"data_parallel_size": -3}, "plan.data_parallel_size"),
    ({"max_model_len": -1}, "plan.max_model_len"),
    ({"gpu_memory_utilization": float("nan")}, "plan.gpu_memory_utilization"),
    ({"gpu_memory_utilization": 7.5}, "plan.gpu_memory_utilization"),
    ({"estimates__time_to_load_s": float("inf")}, "plan.estimates.time_to_load_s"),
    ({"weights__artifact": "--trust-remote-code"}, "flag"),
    ({"weights__ollama_tag": "--insecure"}, "flag"),
    ({"model__name": "x\ntrust-remote-code: true"}, "control character"),
    ({"model__extra": {"nested": [1, 2, {"deep": True}]}}, "plan.model.extra"),
    ({"hardware__gpus": "8"}, "plan.hardware.gpus"),
    ({"tensor_parallel_size": True}, "plan.tensor_parallel_size"),
    ({"reasons": "not a list"}, "plan.reasons"),
    ({"surprise": 1}, "plan.surprise"),
])
def test_out_of_range_mistyped_and_unknown_values_are_refused(change: dict, message: str) -> None:
    with pytest.raises(PlanFileError, match="lock schema") as err:
        lockfile.parse_lock(lock_text(**change))
    assert message in err.value.message


def test_size_encoding_and_shape_limits(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("deploykit_lock: 1\n" + "# padding\n" * 200_000)
    with pytest.raises(PlanFileError, match="larger than"):
        lockfile.read_lock(big)
    with pytest.raises(PlanFileError, match="larger than"):
        lockfile.read_lock(Path("/dev/zero"))
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"deploykit_lock: 1\n\xff\xfe")
    with pytest.raises(PlanFileError, match="UTF-8"):
        lockfile.read_lock(binary)
    with pytest.raises(PlanFileError, match="too deeply"):
        lockfile.parse_lock("deploykit_lock: 1\nplan: " + "[" * 50_000 + "]" * 50_000)
    for text in ("[1, 2]", "deploykit_lock: 2", "", "deploykit_lock: 1\nplan: 3\nengine: {name: vllm}"):
        with pytest.raises(PlanFileError):
            lockfile.parse_lock(text)


def test_render_refuses_a_flag_in_the_artifact(tmp_path: Path) -> None:
    path = tmp_path / "lock.yaml"
    path.write_text(lock_text(**{"weights__artifact": "--trust-remote-code"}))
    r = run("render", "--plan", str(path), "-t", "command")
    assert r.returncode == 5, r.stderr
    assert "would read as a flag" in r.stderr or "starts with '-'" in r.stderr
    assert "--trust-remote-code" not in r.stdout


def test_up_plan_compares_the_lock_with_this_machine(tmp_path: Path) -> None:
    path = tmp_path / "h100x8.yaml"
    assert run("plan", "llama-3.1-8b", "-p", "h100-sxm", "--gpus", "8", "-o", str(path)).returncode == 0
    r = run("up", "--plan", str(path), "--dry-run")
    assert r.returncode == 5, r.stderr
    assert "made for another machine" in r.stderr and "hardware profile: locked h100-sxm" in r.stderr
    assert "--force" in r.stderr
    forced = run("up", "--plan", str(path), "--dry-run", "--force", "--engine-bin", sys.executable)
    assert forced.returncode == 0, forced.stderr
    assert "--force: launching despite" in forced.stderr and "--max-model-len" in forced.stdout


def test_up_plan_never_launches_a_lock_that_does_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "nofit.yaml"
    path.write_text(lock_text(fits=False))
    r = run("up", "--plan", str(path), "--dry-run", "--force")
    assert r.returncode == 5 and "does not fit" in r.stderr, r.stderr


def test_up_plan_accepts_a_lock_made_on_this_machine(tmp_path: Path) -> None:
    import json

    from test_up_faults import TINY_CONFIG
    model = tmp_path / "tiny"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(TINY_CONFIG))
    path = tmp_path / "here.yaml"
    assert run("plan", str(model), "--engine", "vllm", "-o", str(path)).returncode == 0
    r = run("up", "--plan", str(path), "--dry-run", "--engine-bin", sys.executable)
    assert r.returncode == 0, r.stderr
    assert "--force" not in r.stderr and "--max-model-len" in r.stdout
