"""The deployment registry: atomic, locked, tolerant of stale entries, and never holding a secret."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from deploykit.errors import NameInUseError, StateError
from deploykit.runtime import process, state


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYKIT_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def record(name: str = "m", pid: int | None = None, started: str | None = None) -> state.Deployment:
    return state.Deployment(name=name, runtime="native", engine="vllm", model="m", served_name="m",
                            host="127.0.0.1", port=8000, base_url="http://127.0.0.1:8000/v1", pid=pid,
                            pid_start=started, api_key_env="VLLM_API_KEY")


def test_put_get_remove_round_trip(state_dir) -> None:
    state.put(record("a"))
    state.put(record("b"))
    assert sorted(state.load()) == ["a", "b"]
    state.remove("a")
    assert list(state.load()) == ["b"]
    data = json.loads((state_dir / "deployments.json").read_text())
    assert data["version"] == 1 and data["deployments"]["b"]["api_key_env"] == "VLLM_API_KEY"
    assert not [p for p in state_dir.iterdir() if p.name.startswith(".deployments.")], "no temporary file left"


def test_a_dead_pid_or_a_reused_one_is_not_running() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        started = process.start_time(proc.pid)
        assert process.alive(proc.pid, started)
        assert not process.alive(proc.pid, str(int(started) + 1)), "same pid, other start time: a reused pid"
    finally:
        proc.kill()
        proc.wait()
    assert not process.alive(proc.pid, started)


def test_claim_replaces_a_dead_entry_but_refuses_a_live_one() -> None:
    state.put(record("x", pid=999999))
    state.claim(record("x", pid=1), is_running=lambda d: False)
    assert state.get("x").pid == 1
    with pytest.raises(NameInUseError, match="is running") as err:
        state.claim(record("x", pid=2), is_running=lambda d: True)
    assert "deploykit down x" in err.value.fix


def test_corrupt_registry_is_an_error_with_the_fix(state_dir) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / "deployments.json").write_text("{not json")
    with pytest.raises(StateError, match="unreadable") as err:
        state.load()
    assert "mv " in err.value.fix


def test_unwritable_state_dir_names_the_fix(tmp_path, monkeypatch) -> None:
    if os.geteuid() == 0:
        monkeypatch.setenv("DEPLOYKIT_STATE_DIR", "/proc/deploykit-cannot-exist")
    else:
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        monkeypatch.setenv("DEPLOYKIT_STATE_DIR", str(locked / "state"))
    with pytest.raises(StateError, match="cannot use the state directory") as err:
        state.put(record())
    assert "DEPLOYKIT_STATE_DIR" in err.value.fix
