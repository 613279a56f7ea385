"""The registry of deployments deploykit started: one JSON file in the user's state directory, written atomically
under a lock, tolerant of stale entries (a process that died is reported dead, never as running). Secrets are
never stored: only the *names* of environment variables that hold them."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, Field

from deploykit import atomic
from deploykit.errors import NameInUseError, StateError

REGISTRY_VERSION = 1
MAX_REGISTRY_BYTES = 16 * 1024 * 1024
MAX_OBSERVATIONS_BYTES = 16 * 1024 * 1024


class Deployment(BaseModel):
    name: str = Field(..., description="unique deployment name")
    runtime: str = Field(..., description="native, docker or ollama")
    engine: str = Field(..., description="vllm, llamacpp or ollama")
    model: str = Field(..., description="what the user asked for (catalog name, repo id or path)")
    served_name: str = Field(..., description="the model name the endpoint serves")
    host: str
    port: int
    base_url: str
    api_key_env: str | None = Field(None, description="environment variable holding the API key (never the key)")
    pid: int | None = Field(None, description="native: the engine process (leader of its own process group)")
    pid_start: str | None = Field(None, description="native: the process start time, to tell a reused pid apart")
    container_id: str | None = None
    log_path: str | None = None
    argv: list[str] = Field(default_factory=list, description="what was executed (no secrets: keys go by env)")
    plan: dict = Field(default_factory=dict)
    status: str = Field("starting", description="starting, ready, failed or stopped (as last recorded)")
    created: float = Field(default_factory=time.time)
    ready_seconds: float | None = None
    kv_cache_tokens_reported: int | None = Field(None, description="KV capacity the engine logged")
    kv_cache_tokens_planned: int | None = Field(None, description="KV capacity the plan predicted")
    max_concurrency_reported: float | None = None


def state_dir() -> Path:
    explicit = os.environ.get("DEPLOYKIT_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "deploykit"


def registry_path() -> Path:
    return state_dir() / "deployments.json"


def logs_dir() -> Path:
    return state_dir() / "logs"


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    root = state_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        fh = open(root / ".lock", "w")  # noqa: SIM115 - held for the block
    except OSError as exc:
        raise StateError(f"cannot use the state directory {root}: {exc}",
                         fix="set DEPLOYKIT_STATE_DIR to a writable directory") from exc
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _read() -> dict[str, Deployment]:
    path = registry_path()
    if not path.exists():
        return {}
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_REGISTRY_BYTES + 1)
        if len(raw) > MAX_REGISTRY_BYTES:
            raise ValueError(f"larger than {MAX_REGISTRY_BYTES // (1024 * 1024)} MiB")
        data = json.loads(raw.decode("utf-8"))
        entries = data.get("deployments", {}) if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            raise ValueError("no 'deployments' object")
        return {name: Deployment.model_validate(d) for name, d in entries.items()}
    except (OSError, ValueError, RecursionError) as exc:
        raise StateError(f"the registry {path} is unreadable: {exc}",
                         fix=f"move it aside (mv {path} {path}.bad); running engines keep running") from exc


def _write(deployments: dict[str, Deployment]) -> None:
    path = registry_path()
    text = json.dumps({"version": REGISTRY_VERSION,
                       "deployments": {n: d.model_dump(mode="json") for n, d in sorted(deployments.items())}},
                      indent=2)
    atomic.write_text(path, text)


def load() -> dict[str, Deployment]:
    with _locked():
        return _read()


def get(name: str) -> Deployment | None:
    return load().get(name)


def put(deployment: Deployment) -> None:
    with _locked():
        all_ = _read()
        all_[deployment.name] = deployment
        _write(all_)


def remove(name: str) -> None:
    with _locked():
        all_ = _read()
        if all_.pop(name, None) is not None:
            _write(all_)


def claim(deployment: Deployment, *, is_running) -> None:
    """Register a new deployment; refuse a name that a live deployment holds (a dead one is replaced)."""
    with _locked():
        all_ = _read()
        old = all_.get(deployment.name)
        if old is not None and is_running(old):
            raise NameInUseError(f"a deployment named '{deployment.name}' is running ({old.base_url})",
                             fix=f"choose another --name, or stop it: deploykit down {deployment.name}")
        all_[deployment.name] = deployment
        _write(all_)


def kv_observations(model: str, engine: str, profile: str) -> list[dict]:
    """What engines reported about their KV cache on earlier launches of this model here (launch.record_observation
    appends them), newest last. Unreadable lines are skipped: they are hints, not state."""
    path = state_dir() / "kv_observations.jsonl"
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - MAX_OBSERVATIONS_BYTES))  # the newest rows, when it has grown large
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if not isinstance(row, dict) or not isinstance(row.get("hardware"), dict):
            continue
        if not all(_count(row.get(k)) for k in ("planned_kv_tokens", "reported_kv_tokens")):
            continue  # a row must carry the two figures it is read for
        if row.get("model") == model and row.get("engine") == engine and row["hardware"].get("profile") == profile:
            found.append(row)
    return found


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**13
