"""``up`` for the native runtime: launch, prove readiness, classify failures, retry once on the engine's own
figure, and leave nothing running on any failure, timeout or interrupt."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploykit.errors import EngineFailedError, NotReadyError, UsageError
from deploykit.planning.types import Plan
from deploykit.rendering import argv as A
from deploykit.runtime import health, logs, process, state
from deploykit.runtime.engines import NativeCommand

RETRIABLE = ("context_too_long", "oom")


@dataclass
class Launch:
    """What ``up`` asked for, after planning."""

    name: str
    model: str  # as the user gave it
    plan: Plan
    command: NativeCommand
    host: str
    port: int
    api_key_env: str | None
    timeout_s: float


@dataclass
class Started:
    deployment: state.Deployment
    readiness: health.Readiness
    kv: logs.KVReport


def port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def default_timeout(plan: Plan) -> float:
    """Load time from the plan, doubled, plus start-up slack; at least three minutes."""
    load = plan.estimates.time_to_load_s if plan.estimates else 120
    return max(180.0, 2 * load + 120)


def is_running(d: state.Deployment) -> bool:
    if d.runtime == "native":
        return process.alive(d.pid, d.pid_start)
    return d.status in ("starting", "ready")


def start_native(launch: Launch, *, on_progress: Callable[[health.Readiness, list[str]], None] | None = None
                 ) -> Started:
    if not port_free(launch.host, launch.port):
        raise EngineFailedError(f"port {launch.port} on {launch.host} is already in use", kind="port_in_use",
                                fix="pass --port with a free port, or stop what holds it (ss -ltnp)")
    api_key = os.environ.get(launch.api_key_env) if launch.api_key_env else None
    if launch.api_key_env and not api_key:
        raise UsageError(f"{launch.api_key_env} is not set, and a server bound to {launch.host} must require a key",
                         fix=f"export {launch.api_key_env}=<a long random key> (clients send it as a Bearer token)")
    log_path = state.logs_dir() / f"{launch.name}-{int(time.time())}.log"
    base_url = f"http://{'127.0.0.1' if launch.host in ('0.0.0.0', '::') else launch.host}:{launch.port}/v1"
    record = state.Deployment(
        name=launch.name, runtime="native", engine=launch.plan.engine, model=launch.model,
        served_name=A.served_name(launch.plan), host=launch.host, port=launch.port, base_url=base_url,
        api_key_env=launch.api_key_env, log_path=str(log_path), argv=launch.command.argv,
        plan=launch.plan.model_dump(mode="json"),
        kv_cache_tokens_planned=launch.command.expected_kv_tokens or launch.plan.kv_cache_tokens)
    state.claim(record, is_running=is_running)
    proc = None
    try:
        env = {**os.environ, **launch.command.env}
        proc = process.start(launch.command.argv, env=env, log_path=log_path)
        record.pid, record.pid_start = proc.pid, process.start_time(proc.pid)
        state.put(record)

        def alive() -> str | None:
            code = proc.poll()
            if code is not None:
                return f"the engine exited with code {code}"
            return None

        def progress(r: health.Readiness) -> None:
            if on_progress:
                on_progress(r, process.tail(log_path, 3))

        ready = health.wait_ready(base_url, record.served_name, api_key=api_key, timeout_s=launch.timeout_s,
                                  alive=alive, on_progress=progress)
        text = Path(log_path).read_text(errors="replace") if Path(log_path).exists() else ""
        if not ready.ready:
            failure = logs.classify(text)
            tail = process.tail(log_path, 15) or [f"(the engine wrote nothing to {log_path})"]
            if ready.stage == "dead" or failure:
                raise _engine_failed(ready, failure, tail)
            raise NotReadyError(f"{record.served_name} was not ready after {launch.timeout_s:.0f} s (last stage: "
                                f"{ready.stage}: {ready.detail})",
                                fix=f"raise --timeout, or read the log: deploykit logs {launch.name} "
                                    f"(the engine's last lines: {' | '.join(tail[-3:])})")
        kv = logs.kv_report(text)
        record.status, record.ready_seconds = "ready", round(ready.seconds, 1)
        record.kv_cache_tokens_reported, record.max_concurrency_reported = kv.tokens, kv.max_concurrency
        state.put(record)
        record_observation(record, launch.plan)
        return Started(record, ready, kv)
    except BaseException:
        if proc is not None:
            process.stop(proc.pid, grace_s=10)
        state.remove(launch.name)
        raise


def _engine_failed(ready: health.Readiness, failure: logs.Failure | None, tail: list[str]) -> EngineFailedError:
    if failure is None:
        return EngineFailedError(f"the engine crashed while starting ({ready.detail})", kind="crash",
                                 fix="read the engine log below; rerun with --debug for deploykit's side",
                                 log_tail=tail)
    err = EngineFailedError(f"the engine failed: {failure.kind.replace('_', ' ')} ({failure.line})",
                            kind=failure.kind, fix=failure.fix, log_tail=tail)
    err.failure = failure  # type: ignore[attr-defined]
    return err


def record_observation(d: state.Deployment, plan: Plan) -> None:
    """Engine-reported KV capacity next to the plan's prediction (state dir, kv_observations.jsonl), for later
    plans and for calibrating the memory model."""
    if d.kv_cache_tokens_reported is None:
        return
    import json
    row = {"time": time.time(), "model": plan.model["name"], "engine": plan.engine,
           "hardware": plan.hardware, "max_model_len": plan.max_model_len, "kv_cache_dtype": plan.kv_cache_dtype,
           "gpu_memory_utilization": plan.gpu_memory_utilization, "planned_kv_tokens": d.kv_cache_tokens_planned,
           "reported_kv_tokens": d.kv_cache_tokens_reported, "reported_max_concurrency": d.max_concurrency_reported}
    path = state.state_dir() / "kv_observations.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")
