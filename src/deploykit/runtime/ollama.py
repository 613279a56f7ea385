"""The Ollama runtime: deploykit drives an Ollama server through its documented HTTP API (ollama/ollama docs/api.md):
GET /api/version to find it, POST /api/pull (streamed progress), POST /api/create with the plan's parameters
(num_ctx, num_gpu), POST /api/generate with keep_alive to load and keep the model, GET /api/ps to see it loaded,
the OpenAI-compatible /v1 routes for readiness, and keep_alive 0 / DELETE /api/delete to stop."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from deploykit.errors import DeploykitError, EngineFailedError, RuntimeUnavailableError

DEFAULT_HOST = "http://127.0.0.1:11434"


def server_url(explicit: str | None = None) -> str:
    """OLLAMA_HOST as Ollama reads it: host:port, or a URL; default 127.0.0.1:11434."""
    value = explicit or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST
    if "://" not in value:
        value = f"http://{value}"
    scheme, rest = value.split("://", 1)
    host = rest.rstrip("/")
    if ":" not in host.split("]")[-1]:
        host += ":11434" if scheme == "http" else ":443"
    if host.startswith("0.0.0.0"):
        host = "127.0.0.1" + host[len("0.0.0.0"):]
    return f"{scheme}://{host}"


@dataclass
class PullProgress:
    status: str
    completed: int = 0
    total: int = 0


class Ollama:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=httpx.Timeout(timeout, connect=3.0))

    def close(self) -> None:
        self.client.close()

    def _error(self, resp: httpx.Response, what: str) -> DeploykitError:
        try:
            message = resp.json().get("error", resp.text)
        except ValueError:
            message = resp.text
        kind = "model_not_found" if resp.status_code == 404 or "not found" in message or "does not exist" in \
            message else "oom" if "memory" in message else "crash"
        return EngineFailedError(f"Ollama could not {what}: {message} (HTTP {resp.status_code})", kind=kind,
                                 fix="check the model tag (https://ollama.com/library) and the server's log")

    def version(self) -> str:
        try:
            resp = self.client.get("/api/version")
        except httpx.HTTPError as exc:
            raise RuntimeUnavailableError(
                f"no Ollama server answers at {self.url} ({type(exc).__name__})",
                fix="start it (ollama serve, or the Ollama app), or point OLLAMA_HOST at it") from exc
        if resp.status_code != 200:
            raise RuntimeUnavailableError(f"{self.url} is not an Ollama server (GET /api/version: "
                                          f"{resp.status_code})", fix="check OLLAMA_HOST")
        return str(resp.json().get("version", "unknown"))

    def pull(self, tag: str, on_progress: Callable[[PullProgress], None] | None = None) -> None:
        with self.client.stream("POST", "/api/pull", json={"model": tag, "stream": True},
                                timeout=httpx.Timeout(None, connect=3.0)) as resp:
            if resp.status_code != 200:
                resp.read()
                raise self._error(resp, f"pull {tag}")
            for line in resp.iter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                if "error" in event:
                    raise EngineFailedError(f"Ollama could not pull {tag}: {event['error']}", kind="model_not_found"
                                            if "not found" in event["error"] or "does not exist" in event["error"]
                                            else "crash", fix="check the tag at https://ollama.com/library")
                if on_progress:
                    on_progress(PullProgress(event.get("status", ""), int(event.get("completed") or 0),
                                             int(event.get("total") or 0)))

    def create(self, name: str, base: str, parameters: dict[str, int]) -> None:
        resp = self.client.post("/api/create", json={"model": name, "from": base, "parameters": parameters,
                                                     "stream": False}, timeout=httpx.Timeout(600, connect=3.0))
        if resp.status_code != 200:
            raise self._error(resp, f"create {name} from {base}")

    def load(self, name: str, keep_alive: int | str = -1, timeout: float = 600) -> None:
        """An empty generate request loads the model and keeps it for ``keep_alive`` (-1: until told)."""
        resp = self.client.post("/api/generate", json={"model": name, "keep_alive": keep_alive},
                                timeout=httpx.Timeout(timeout, connect=3.0))
        if resp.status_code != 200:
            raise self._error(resp, f"load {name}")

    def loaded(self) -> list[dict]:
        resp = self.client.get("/api/ps")
        return resp.json().get("models", []) if resp.status_code == 200 else []

    def unload(self, name: str) -> None:
        self.client.post("/api/generate", json={"model": name, "keep_alive": 0})

    def delete(self, name: str) -> None:
        self.client.request("DELETE", "/api/delete", json={"model": name})

    def remove(self, name: str) -> None:
        """Unload a model deploykit created and delete it (the weights it was created from stay)."""
        self.unload(name)
        self.delete(name)
