"""Plan lock files: written atomically, read back, and compared with the environment they are used in."""

import pytest

from deploykit.catalog.loader import get_model, get_profile
from deploykit.errors import OutputExistsError, PlanFileError
from deploykit.planning import lockfile
from deploykit.planning.box import simulated_box
from deploykit.planning.planner import plan


def make(profile="h100-sxm", gpus=1):
    return plan(get_model("llama-3.1-8b"), simulated_box(get_profile(profile), gpus))


def test_round_trip_and_no_difference_on_the_same_box(tmp_path):
    path = tmp_path / "plan.yaml"
    p = make()
    lockfile.write_lock(path, p, {"model": "llama-3.1-8b"})
    data, again = lockfile.read_lock(path)
    assert again == p and data["engine"]["image"].startswith("vllm/vllm-openai:")
    assert lockfile.differences(data, make()) == []
    with pytest.raises(OutputExistsError):
        lockfile.write_lock(path, p, {})
    assert [f.name for f in tmp_path.iterdir()] == ["plan.yaml"]  # no temporary file left behind


def test_a_different_box_is_reported(tmp_path):
    path = tmp_path / "plan.yaml"
    lockfile.write_lock(path, make(), {})
    data, _ = lockfile.read_lock(path)
    diffs = lockfile.differences(data, make("a100-40gb", 2))
    assert any("profile" in d for d in diffs) and any("gpus" in d for d in diffs)
    assert any("GPU memory" in d for d in diffs)


def test_engine_version_drift_is_reported(tmp_path):
    path = tmp_path / "plan.yaml"
    lockfile.write_lock(path, make(), {})
    data, _ = lockfile.read_lock(path)
    data["engine"]["version"] = "0.0.1"
    assert any("engine vllm" in d for d in lockfile.differences(data, make()))


def test_not_a_lock_file(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("hello: world\n")
    with pytest.raises(PlanFileError):
        lockfile.read_lock(bad)
