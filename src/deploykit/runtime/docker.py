"""The docker runtime, through the docker SDK (the only `docker` import): the image pulled with progress when absent,
GPU device requests from the plan, shm / ipc, the model mounted read-only, the port, and labels that let `ps` and
`down` find the container again. The engine's arguments follow the image's own entrypoint (read from the image):
`vllm serve` or the api_server module for vLLM, llama-server or llama-cpp-python's server for llama.cpp."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deploykit.errors import EngineFailedError, RuntimeUnavailableError
from deploykit.planning.types import Plan
from deploykit.rendering import argv as A

LABEL = "io.deploykit"
HF_CACHE_IN_CONTAINER = "/root/.cache/huggingface"


def client():
    import docker
    from docker.errors import DockerException
    try:
        c = docker.from_env()
        c.ping()
        return c
    except DockerException as exc:
        raise RuntimeUnavailableError(
            f"no Docker daemon answers ({exc})",
            fix="start Docker (systemctl start docker), or point DOCKER_HOST at a running daemon") from exc


def ensure_image(c, image: str, on_progress: Callable[[str], None] | None = None) -> dict:
    """The image's attributes; pulled first when absent. Pull errors arrive as exceptions or as stream events."""
    from docker.errors import APIError, ImageNotFound
    try:
        return c.images.get(image).attrs
    except ImageNotFound:
        pass
    repo, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
    try:
        for event in c.api.pull(repo, tag=tag, stream=True, decode=True):
            if "error" in event:
                raise RuntimeUnavailableError(f"pulling {image} failed: {event['error']}",
                                              fix="check the image name, or docker load it where no registry is "
                                                  "reachable and pass --image")
            if on_progress:
                detail = event.get("progressDetail") or {}
                done = f" {detail['current'] / 1e6:.0f}/{detail['total'] / 1e6:.0f} MB" if detail.get("total") else ""
                on_progress(f"pulling {image}: {event.get('status', '')}{done}")
        return c.images.get(image).attrs
    except (APIError, ImageNotFound) as exc:
        raise RuntimeUnavailableError(
            f"cannot pull {image}: {getattr(exc, 'explanation', None) or exc}",
            fix="no registry reachable? docker save the image elsewhere, docker load it here, and pass --image"
        ) from exc


def entrypoint(attrs: dict) -> list[str]:
    config = attrs.get("Config") or {}
    return list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [] if not config.get("Entrypoint")
                                                        else [])


@dataclass
class ContainerSpec:
    image: str
    command: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    volumes: dict[str, dict] = field(default_factory=dict)
    gpus: int = 0
    network_host: bool = False
    port: int = 0
    host: str = "127.0.0.1"
    ipc_host: bool = False
    shm_gib: int = 2


def container_command(plan: Plan, attrs: dict, *, model_in_container: str, port: int, bind: str) -> list[str]:
    """The arguments after the image's entrypoint, in the dialect that entrypoint speaks."""
    ep = " ".join(entrypoint(attrs))
    serve = A.Serve(host=bind, port=port)
    if plan.engine == "vllm":
        flags = [*A.flags(A.vllm_engine_args(plan)), "--host", bind, "--port", str(port)]
        if "api_server" in ep:
            return ["--model", model_in_container, *flags]
        return [model_in_container, *flags]
    if "llama_cpp.server" in ep:  # llama-cpp-python
        return ["--model", model_in_container, "--model_alias", A.served_name(plan), "--n_ctx",
                str(plan.max_model_len), "--n_gpu_layers", str(plan.gpu_layers or 0), "--interrupt_requests",
                "False", "--host", bind, "--port", str(port)]
    return A.llamacpp_argv(plan, serve, binary="", model_path=model_in_container)[1:]


def run(c, name: str, spec: ContainerSpec, labels: dict[str, str]):
    """Create and start the container; a container that cannot start is removed again."""
    from docker.errors import APIError
    from docker.types import DeviceRequest
    kwargs: dict = {"name": f"deploykit-{name}", "command": spec.command, "detach": True,
                    "environment": spec.environment, "volumes": spec.volumes,
                    "labels": {f"{LABEL}.managed": "true", f"{LABEL}.name": name, **labels}}
    if spec.network_host:
        kwargs["network_mode"] = "host"
    else:
        kwargs["ports"] = {f"{spec.port}/tcp": (spec.host, spec.port)}
    if spec.ipc_host:
        kwargs["ipc_mode"] = "host"
    else:
        kwargs["shm_size"] = f"{spec.shm_gib}g"
    if spec.gpus:
        kwargs["device_requests"] = [DeviceRequest(count=spec.gpus, capabilities=[["gpu"]])]
    try:
        container = c.containers.create(spec.image, **kwargs)
    except APIError as exc:
        raise EngineFailedError(f"docker could not create the container: {exc.explanation or exc}", kind="crash",
                                fix="a container with this name may exist: deploykit down NAME, or docker rm "
                                    f"deploykit-{name}") from exc
    try:
        container.start()
    except APIError as exc:
        container.remove(force=True)
        text = str(exc.explanation or exc)
        if "could not select device driver" in text:
            raise RuntimeUnavailableError(f"Docker cannot give the container GPUs ({text})",
                                          fix="install the NVIDIA Container Toolkit and restart Docker") from exc
        if "address already in use" in text or "port is already allocated" in text:
            raise EngineFailedError(f"port {spec.port} is already in use ({text})", kind="port_in_use",
                                    fix="pass --port with a free port") from exc
        raise EngineFailedError(f"docker could not start the container: {text}", kind="crash",
                                fix="see the docker daemon's log") from exc
    return container


def status(c, container_id: str) -> tuple[str, int | None]:
    """(state, exit code) of a container, ('gone', None) when it no longer exists."""
    from docker.errors import NotFound
    try:
        ctr = c.containers.get(container_id)
    except NotFound:
        return "gone", None
    state = ctr.attrs.get("State") or {}
    return state.get("Status", "unknown"), state.get("ExitCode")


def log_text(c, container_id: str, tail: int | str = "all") -> str:
    from docker.errors import NotFound
    try:
        return c.containers.get(container_id).logs(tail=tail).decode("utf-8", errors="replace")
    except NotFound:
        return ""


def remove(c, container_id: str, grace_s: int = 15) -> bool:
    from docker.errors import NotFound
    try:
        ctr = c.containers.get(container_id)
    except NotFound:
        return False
    running = (ctr.attrs.get("State") or {}).get("Running", False)
    if running:
        ctr.stop(timeout=grace_s)
    ctr.remove(force=True)
    return running


def hf_cache_dir() -> str:
    home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
    return home
