"""Readiness, not liveness: an engine is ready when GET /health answers 200 (or, for servers without /health, the
model list answers), /v1/models lists the served model, and a smoke completion returns tokens. A 200 with zero
completion tokens (llama-cpp-python's fallback chat format does that) is not ready."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

SMOKE_PROMPT = "Say hello."


@dataclass
class Readiness:
    base_url: str
    served_name: str
    stage: str = "alive"  # the last stage reached
    detail: str = ""
    seconds: float = 0.0
    completion_tokens: int = 0
    completion_text: str = ""
    models: list[str] = field(default_factory=list)
    endpoint_used: str = ""  # chat or completions

    @property
    def ready(self) -> bool:
        return self.stage == "completion" and self.completion_tokens > 0


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def check_once(client: httpx.Client, r: Readiness, api_key: str | None) -> None:
    """Advance ``r`` as far as the endpoint allows right now; raises httpx errors when it does not answer."""
    root = r.base_url.removesuffix("/v1")
    health = client.get(f"{root}/health")
    if health.status_code == 404:  # llama-cpp-python has no /health: the model list stands in
        r.detail = "no /health route; using /v1/models"
    elif health.status_code != 200:
        r.detail = f"/health answered {health.status_code}"
        return
    r.stage = "health"
    models = client.get(f"{r.base_url}/models", headers=_headers(api_key))
    if models.status_code != 200:
        r.detail = f"/v1/models answered {models.status_code}: {models.text[:200]}"
        return
    r.models = [m.get("id", "") for m in models.json().get("data", [])]
    if r.served_name not in r.models:
        r.detail = f"/v1/models lists {r.models}, not {r.served_name}"
        return
    r.stage = "models"
    tokens, text, used, why = smoke_completion(client, r.base_url, r.served_name, api_key)
    r.completion_tokens, r.completion_text, r.endpoint_used = tokens, text, used
    if tokens > 0:
        r.stage = "completion"
        r.detail = f"{tokens} token(s) from /v1/{used}"
    else:
        r.detail = why


def smoke_completion(client: httpx.Client, base_url: str, model: str, api_key: str | None,
                     max_tokens: int = 8) -> tuple[int, str, str, str]:
    """(completion tokens, text, endpoint, why-not). Chat first; plain completions when chat is refused (a base
    model without a chat template) or returns nothing."""
    why = ""
    for endpoint, body in (
            ("chat/completions", {"messages": [{"role": "user", "content": SMOKE_PROMPT}]}),
            ("completions", {"prompt": SMOKE_PROMPT})):
        resp = client.post(f"{base_url}/{endpoint}", headers=_headers(api_key),
                           json={"model": model, "max_tokens": max_tokens, "temperature": 0, **body})
        if resp.status_code != 200:
            why = f"/v1/{endpoint} answered {resp.status_code}: {resp.text[:200]}"
            continue
        data = resp.json()
        tokens = int((data.get("usage") or {}).get("completion_tokens") or 0)
        choice = (data.get("choices") or [{}])[0]
        text = (choice.get("message") or {}).get("content") or choice.get("text") or ""
        if tokens > 0:
            return tokens, text, endpoint, ""
        why = f"/v1/{endpoint} returned 200 with 0 completion tokens"
    return 0, "", "", why


def wait_ready(base_url: str, served_name: str, *, api_key: str | None, timeout_s: float,
               alive: Callable[[], str | None], on_progress: Callable[[Readiness], None] | None = None,
               interval_s: float = 0.25) -> Readiness:
    """Poll until ready, the engine dies (``alive`` returns why), or the timeout. Never raises for the endpoint's
    answers: the returned Readiness says how far it got."""
    r = Readiness(base_url, served_name)
    started = time.monotonic()
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=2.0)) as client:
        while True:
            r.seconds = time.monotonic() - started
            dead = alive()
            if dead:
                r.detail = dead
                r.stage = "dead"
                return r
            try:
                check_once(client, r, api_key)
            except httpx.HTTPError as exc:
                r.detail = f"not answering yet ({type(exc).__name__})"
            except ValueError as exc:  # JSON decode
                r.detail = f"unexpected answer: {exc}"
            if r.ready:
                r.seconds = time.monotonic() - started
                return r
            if on_progress:
                on_progress(r)
            if time.monotonic() - started > timeout_s:
                r.seconds = time.monotonic() - started
                return r
            time.sleep(interval_s)


@dataclass
class Verdict:
    """`deploykit check URL`: one look at any OpenAI-compatible endpoint."""

    url: str
    healthy: bool = False
    health: str = "not checked"  # "200", "no /health route", or the problem
    models: list[str] = field(default_factory=list)
    model: str = ""
    completion_tokens: int = 0
    completion_text: str = ""
    ttft_ms: float | None = None
    e2e_ms: float | None = None
    problems: list[str] = field(default_factory=list)


def _first_token_ms(client: httpx.Client, base_url: str, model: str, api_key: str | None) -> float | None:
    """Time to the first content delta of a streamed chat completion (None when the endpoint streams nothing)."""
    started = time.perf_counter()
    body = {"model": model, "messages": [{"role": "user", "content": SMOKE_PROMPT}], "max_tokens": 8,
            "temperature": 0, "stream": True}
    with client.stream("POST", f"{base_url}/chat/completions", json=body, headers=_headers(api_key)) as resp:
        if resp.status_code != 200:
            return None
        for line in resp.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            try:
                delta = (json.loads(line[5:])["choices"] or [{}])[0].get("delta") or {}
            except (ValueError, KeyError, IndexError):
                continue
            if delta.get("content") or delta.get("reasoning_content"):
                return (time.perf_counter() - started) * 1000
    return None


def check_endpoint(url: str, *, api_key: str | None, model: str | None, timeout_s: float) -> Verdict:
    base = url.rstrip("/")
    base = base if base.endswith("/v1") else f"{base}/v1"
    v = Verdict(base)
    with httpx.Client(timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s))) as client:
        try:
            health = client.get(f"{base.removesuffix('/v1')}/health")
            v.health = "200" if health.status_code == 200 else "no /health route" if health.status_code == 404 \
                else f"/health answered {health.status_code}"
            if health.status_code not in (200, 404):
                v.problems.append(v.health)
            models = client.get(f"{base}/models", headers=_headers(api_key))
            if models.status_code != 200:
                v.problems.append(f"/v1/models answered {models.status_code}: {models.text[:200]}")
                return v
            v.models = [m.get("id", "") for m in models.json().get("data", [])]
            v.model = model or (v.models[0] if v.models else "")
            if not v.model:
                v.problems.append("/v1/models lists no model")
                return v
            if model and model not in v.models:
                v.problems.append(f"{model} is not among the served models {v.models}")
            started = time.perf_counter()
            tokens, text, _, why = smoke_completion(client, base, v.model, api_key)
            v.e2e_ms = (time.perf_counter() - started) * 1000
            v.completion_tokens, v.completion_text = tokens, text
            if tokens <= 0:
                v.problems.append(why or "the smoke completion returned no tokens")
                return v
            v.ttft_ms = _first_token_ms(client, base, v.model, api_key)
            if v.ttft_ms is None:
                v.problems.append("streaming returned no content (time to first token unknown)")
        except httpx.HTTPError as exc:
            v.problems.append(f"{type(exc).__name__}: {exc}")
        except ValueError as exc:
            v.problems.append(f"unexpected answer: {exc}")
    v.healthy = not v.problems
    return v
