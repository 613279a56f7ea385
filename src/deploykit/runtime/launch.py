"""``up`` for the native runtime: launch, prove readiness, classify failures, retry once on the engine's own
figure, and leave nothing running on any failure, timeout or interrupt."""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from deploykit.errors import EngineFailedError, NotReadyError, UsageError
from deploykit.planning.types import Plan
from deploykit.rendering import argv as A
from deploykit.rendering.context import API_KEY_ENV, plan_kind
from deploykit.runtime import docker, health, logs, ollama, process, state
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


def preflight(host: str, port: int, api_key_env: str | None) -> str | None:
    """Before anything starts: the API key a non-loopback server must require (read from the environment), and a
    free port. Returns the key (None when none is required)."""
    api_key = os.environ.get(api_key_env) if api_key_env else None
    if api_key_env and not api_key:
        raise UsageError(f"{api_key_env} is not set, and a server bound to {host} must require a key",
                         fix=f"export {api_key_env}=<a long random key> (clients send it as a Bearer token)")
    if not port_free(host, port):
        raise EngineFailedError(f"port {port} on {host} is already in use", kind="port_in_use",
                                fix="pass --port with a free port, or stop what holds it (ss -ltnp)")
    return api_key


def default_timeout(plan: Plan) -> float:
    """Load time from the plan, doubled, plus start-up slack; at least three minutes."""
    load = plan.estimates.time_to_load_s if plan.estimates else 120
    return max(180.0, 2 * load + 120)


def is_running(d: state.Deployment) -> bool:
    if d.runtime == "native":
        return process.alive(d.pid, d.pid_start)
    if d.runtime == "docker":
        try:
            return docker.status(docker.client(), d.container_id or "")[0] in ("running", "created", "restarting")
        except Exception:  # noqa: BLE001 - no daemon: nothing of ours runs there
            return False
    if d.runtime == "ollama":
        client = ollama.Ollama(d.base_url.removesuffix("/v1"), timeout=5)
        try:
            return any(m.get("name", "").split(":")[0] == d.served_name.split(":")[0] or
                       m.get("model") == d.served_name for m in client.loaded())
        except Exception:  # noqa: BLE001 - an unreachable server means not running
            return False
        finally:
            client.close()
    return d.status in ("starting", "ready")


def stop(d: state.Deployment) -> bool:
    """Stop whatever runs a deployment and forget it; True when something was running."""
    try:
        if d.runtime == "docker":
            return docker.remove(docker.client(), d.container_id or "")
        if d.runtime == "ollama":
            was = is_running(d)
            client = ollama.Ollama(d.host, timeout=10)
            try:
                client.remove(d.served_name)
            finally:
                client.close()
            return was
        return process.stop(d.pid, started=d.pid_start) if d.pid else False
    except Exception:  # noqa: BLE001 - an unreachable daemon/server has nothing of ours running
        return False
    finally:
        state.remove(d.name)


def ollama_model_name(plan: Plan, fallback: str) -> str:
    served = A.served_name(plan)
    return served if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}", served) else fallback


def start_ollama(name: str, model: str, plan: Plan, url: str, timeout_s: float, *,
                 on_pull: Callable[[ollama.PullProgress], None] | None = None,
                 on_progress: Callable[[health.Readiness, list[str]], None] | None = None) -> Started:
    """Pull the plan's tag, create the planned model (num_ctx, num_gpu), load it for good, and prove it serves.
    On any failure the created model is unloaded and deleted again (the pulled weights stay cached)."""
    client = ollama.Ollama(url)
    version = client.version()
    served = ollama_model_name(plan, name)
    record = state.Deployment(
        name=name, runtime="ollama", engine="ollama", model=model, served_name=served, host=url, port=0,
        base_url=f"{url}/v1", argv=[f"ollama {version}: pull {A.ollama_tag(plan)}, create {served}"],
        plan=plan.model_dump(mode="json"), kv_cache_tokens_planned=plan.kv_cache_tokens)
    state.claim(record, is_running=is_running)
    created = False
    try:
        client.pull(A.ollama_tag(plan), on_pull)
        client.create(served, A.ollama_tag(plan), A.ollama_parameters(plan))
        created = True
        client.load(served, keep_alive=-1, timeout=timeout_s)
        ready = health.wait_ready(record.base_url, served, api_key=None, timeout_s=timeout_s,
                                  alive=lambda: None if is_running(record) else "Ollama does not list the model "
                                                                                "as loaded (GET /api/ps)",
                                  on_progress=(lambda r: on_progress(r, [])) if on_progress else None)
        if not ready.ready:
            raise NotReadyError(f"{served} on Ollama was not ready ({ready.stage}: {ready.detail})",
                                fix="read the Ollama server's log (journalctl -u ollama)")
        record.status, record.ready_seconds = "ready", round(ready.seconds, 1)
        state.put(record)
        return Started(record, ready, logs.KVReport())
    except BaseException:
        if created:
            try:
                client.remove(served)
            except httpx.HTTPError:
                pass
        state.remove(name)
        raise
    finally:
        client.close()


def start_native(launch: Launch, *, on_progress: Callable[[health.Readiness, list[str]], None] | None = None
                 ) -> Started:
    api_key = preflight(launch.host, launch.port, launch.api_key_env)
    log_path = state.logs_dir() / f"{launch.name}-{int(time.time())}.log"
    base_url = A.base_url(launch.host, launch.port)
    record = state.Deployment(
        name=launch.name, runtime="native", engine=launch.plan.engine, model=launch.model,
        served_name=A.served_name(launch.plan), host=launch.host, port=launch.port, base_url=base_url,
        api_key_env=launch.api_key_env, log_path=str(log_path), argv=launch.command.argv,
        plan=launch.plan.model_dump(mode="json"),
        kv_cache_tokens_planned=launch.command.expected_kv_tokens or launch.plan.kv_cache_tokens)
    state.claim(record, is_running=is_running)
    proc = None
    try:
        env = {k: v for k, v in os.environ.items() if k not in launch.command.scrub_env}
        env.update(launch.command.env)
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
        return _conclude(record, launch.plan, ready, text, launch.timeout_s,
                         process.tail(log_path, 15) or [f"(the engine wrote nothing to {log_path})"])
    except BaseException:
        if proc is not None:
            process.stop(proc.pid, grace_s=10)
        state.remove(launch.name)
        raise


def _conclude(record: state.Deployment, plan: Plan, ready: health.Readiness, log_text: str, timeout_s: float,
              tail: list[str]) -> Started:
    """Ready: record the engine's own KV figures next to the prediction. Not ready: a classified failure from
    the log (or a crash), else a timeout; the caller cleans up."""
    if not ready.ready:
        failure = logs.classify(log_text)
        if ready.stage == "dead" or failure:
            raise _engine_failed(ready, failure, tail)
        raise NotReadyError(f"{record.served_name} was not ready after {timeout_s:.0f} s (last stage: "
                            f"{ready.stage}: {ready.detail})",
                            fix=f"raise --timeout, or read the log: deploykit logs {record.name} "
                                f"(the engine's last lines: {' | '.join(tail[-3:])})")
    kv = logs.kv_report(log_text)
    record.status, record.ready_seconds = "ready", round(ready.seconds, 1)
    record.kv_cache_tokens_reported, record.max_concurrency_reported = kv.tokens, kv.max_concurrency
    state.put(record)
    record_observation(record, plan)
    return Started(record, ready, kv)


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as fh:
            fh.write(json.dumps(row) + "\n")
    except OSError:  # a hint for later plans, not state: a full or read-only disk must not fail a ready engine
        pass


def start_docker(name: str, model: str, plan: Plan, image: str, *, model_path: str | None, host: str, port: int,
                 network_host: bool, api_key_env: str | None, timeout_s: float,
                 on_pull: Callable[[str], None] | None = None,
                 on_progress: Callable[[health.Readiness, list[str]], None] | None = None) -> Started:
    """Run the engine's container and prove it serves; on any failure the container is stopped and removed."""
    c = docker.client()
    attrs = docker.ensure_image(c, image, on_pull)
    api_key = preflight(host, port, api_key_env)
    volumes: dict[str, dict] = {}
    if model_path:  # a local GGUF file or model directory, read-only
        local = Path(model_path)
        if local.is_dir():
            inside = f"/models/{local.name}"
            volumes[str(local)] = {"bind": inside, "mode": "ro"}
        else:
            inside = f"/models/{local.name}"
            volumes[str(local.parent)] = {"bind": "/models", "mode": "ro"}
    else:
        inside = A.vllm_model_ref(plan)
        volumes[docker.hf_cache_dir()] = {"bind": docker.HF_CACHE_IN_CONTAINER, "mode": "rw"}
    bind = host if network_host else "0.0.0.0"
    env = {k: os.environ[k] for k in ("HF_TOKEN",) if os.environ.get(k)}
    if api_key_env and api_key:  # under the name the image's engine reads
        reads = "API_KEY" if "llama_cpp.server" in " ".join(docker.entrypoint(attrs)) else \
            API_KEY_ENV.get(plan.engine) or api_key_env
        env[reads] = api_key
    gpus = plan.gpus_used if plan_kind(plan) == "nvidia" and (plan.engine == "vllm" or plan.gpu_layers) else 0
    spec = docker.ContainerSpec(image=image, command=docker.container_command(
        plan, attrs, model_in_container=inside, port=port, bind=bind), environment=env, volumes=volumes,
        gpus=gpus, network_host=network_host, port=port, host=host, ipc_host=plan.engine == "vllm")
    base_url = A.base_url(host, port)
    record = state.Deployment(
        name=name, runtime="docker", engine=plan.engine, model=model, served_name=A.served_name(plan), host=host,
        port=port, base_url=base_url, api_key_env=api_key_env, argv=[image, *spec.command],
        plan=plan.model_dump(mode="json"), kv_cache_tokens_planned=plan.kv_cache_tokens)
    state.claim(record, is_running=is_running)
    container = None
    try:
        container = docker.run(c, name, spec, {f"{docker.LABEL}.model": record.served_name})
        record.container_id = container.id
        state.put(record)

        def alive() -> str | None:
            status, code = docker.status(c, container.id)
            return None if status in ("running", "created", "restarting") else \
                f"the container is {status} (exit code {code})"

        ready = health.wait_ready(base_url, record.served_name, api_key=api_key, timeout_s=timeout_s, alive=alive,
                                  on_progress=(lambda r: on_progress(r, docker.log_text(c, container.id, 3)
                                                                     .splitlines())) if on_progress else None)
        text = docker.log_text(c, container.id)
        return _conclude(record, plan, ready, text, timeout_s,
                         text.splitlines()[-15:] or ["(the container wrote nothing)"])
    except BaseException:
        if container is not None:
            docker.remove(c, container.id, grace_s=5)
        state.remove(name)
        raise
