"""Readiness, not liveness: an engine is ready when GET /health answers 200 (or, for servers without /health, the
model list answers), /v1/models lists the served model, and a smoke completion returns tokens. A 200 with zero
completion tokens (llama-cpp-python's fallback chat format does that) is not ready."""

from __future__ import annotations

import asyncio
import json
import re
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
    endpoint_used: str = ""  # chat, completions or embeddings
    embedding_dim: int = 0  # an embedding model: the length of the vector /v1/embeddings returned

    @property
    def ready(self) -> bool:
        return self.stage == "completion" and (self.completion_tokens > 0 or self.embedding_dim > 0)


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
        return
    r.detail = why
    if " answered " in why:  # completions refused: an embedding (pooling) model answers /v1/embeddings
        resp = client.post(f"{r.base_url}/embeddings", headers=_headers(api_key),
                           json={"model": r.served_name, "input": EMBED_INPUT, "encoding_format": "float"})
        dim = embedding_vector_length(resp.json()) if resp.status_code == 200 else 0
        if dim:
            r.stage, r.embedding_dim, r.endpoint_used = "completion", dim, "embeddings"
            r.detail = f"a {dim}-dimension vector from /v1/embeddings"


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
    with httpx.Client(timeout=httpx.Timeout(min(30.0, max(1.0, timeout_s)), connect=2.0)) as client:
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
            except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError,
                    RecursionError) as exc:  # an answer of the wrong shape: not ready (yet)
                r.detail = f"unexpected answer: {type(exc).__name__}: {str(exc)[:200]}"
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
    task: str = "generate"  # generate (chat/completions) or embed (an embedding model: /v1/embeddings)
    task_source: str = "default"  # how the task was decided: flag, plan, probe or default
    embedding_dim: int | None = None  # length of the vector /v1/embeddings returned
    embedding_prompt_tokens: int = 0  # usage.prompt_tokens of that request


# Bounds for `deploykit check`: an OpenAI model list or an 8-token completion is a few KB; a stream of 8 tokens
# (keep-alive comments included) well under a MB. Anything beyond is a broken or hostile server.
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_STREAM_BYTES = 4 * 1024 * 1024


class _TooLarge(Exception):
    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"{what} sent more than {limit // (1024 * 1024)} MiB: stopped reading")


def _printable(value: object, limit: int = 500) -> str:
    """Server-chosen text shown to a person: one line, no terminal control characters, bounded."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(value))[:limit]


def _count(value: object) -> int:
    """A token count from JSON: a plain non-negative integer, else 0 (never a crash on 'abc', 1e400 or -1)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else 0


async def _read(client: httpx.AsyncClient, method: str, url: str, what: str, **kw) -> tuple[int, bytes]:
    async with client.stream(method, url, **kw) as resp:
        body = bytearray()
        async for chunk in resp.aiter_bytes():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise _TooLarge(what, MAX_BODY_BYTES)
        return resp.status_code, bytes(body)


def _json(body: bytes, what: str) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{what} is not JSON ({type(exc).__name__})") from None


def _model_ids(body: bytes) -> list[str]:
    data = _json(body, "/v1/models")
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("/v1/models has no 'data' list")
    return [_printable(m["id"], 200) for m in items[:1000] if isinstance(m, dict) and isinstance(m.get("id"), str)]


async def _smoke(client: httpx.AsyncClient, base_url: str, model: str, api_key: str | None,
                 max_tokens: int = 8) -> tuple[int, str, str]:
    """(completion tokens, text, why-not): chat first, plain completions when chat is refused or empty."""
    why = ""
    for endpoint, body in (
            ("chat/completions", {"messages": [{"role": "user", "content": SMOKE_PROMPT}]}),
            ("completions", {"prompt": SMOKE_PROMPT})):
        status, raw = await _read(client, "POST", f"{base_url}/{endpoint}", f"/v1/{endpoint}",
                                  headers=_headers(api_key),
                                  json={"model": model, "max_tokens": max_tokens, "temperature": 0, **body})
        if status != 200:
            why = f"/v1/{endpoint} answered {status}: {_printable(raw.decode('utf-8', 'replace'), 200)}"
            continue
        data = _json(raw, f"/v1/{endpoint}")
        data = data if isinstance(data, dict) else {}
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        tokens = _count(usage.get("completion_tokens"))
        choices = data.get("choices") if isinstance(data.get("choices"), list) else []
        choice = choices[0] if choices and isinstance(choices[0], dict) else {}
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        text = message.get("content") or choice.get("text") or ""
        if tokens > 0:
            return tokens, _printable(text), ""
        why = f"/v1/{endpoint} returned 200 with 0 completion tokens"
    return 0, "", why


EMBED_INPUT = "deploykit health check: embed this sentence."


def embedding_vector_length(data: object) -> int:
    """The length of the first vector of an OpenAI embeddings answer ({"data": [{"embedding": [floats]}]}); 0 when
    the answer has no such vector (a base64 string is not asked for, so it does not count)."""
    items = data.get("data") if isinstance(data, dict) else None
    first = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
    vector = first.get("embedding")
    if not isinstance(vector, list) or not vector:
        return 0
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in vector[:64]):
        return 0
    return len(vector)


async def _embed(client: httpx.AsyncClient, base_url: str, model: str, api_key: str | None
                 ) -> tuple[int, int, str]:
    """(vector dimension, prompt tokens, why-not): one POST /v1/embeddings with a short sentence."""
    status, raw = await _read(client, "POST", f"{base_url}/embeddings", "/v1/embeddings", headers=_headers(api_key),
                              json={"model": model, "input": EMBED_INPUT, "encoding_format": "float"})
    if status != 200:
        return 0, 0, f"/v1/embeddings answered {status}: {_printable(raw.decode('utf-8', 'replace'), 200)}"
    data = _json(raw, "/v1/embeddings")
    dim = embedding_vector_length(data)
    if not dim:
        return 0, 0, "/v1/embeddings returned 200 without an embedding vector"
    usage = data.get("usage") if isinstance(data, dict) and isinstance(data.get("usage"), dict) else {}
    return dim, _count(usage.get("prompt_tokens")), ""


async def _first_token_ms(client: httpx.AsyncClient, base_url: str, model: str, api_key: str | None
                          ) -> float | None:
    """Time to the first content delta of a streamed chat completion (None when the endpoint streams nothing).
    The stream is read within MAX_STREAM_BYTES (keep-alive comments count): the caller's deadline ends the rest."""
    started = time.perf_counter()
    body = {"model": model, "messages": [{"role": "user", "content": SMOKE_PROMPT}], "max_tokens": 8,
            "temperature": 0, "stream": True}
    async with client.stream("POST", f"{base_url}/chat/completions", json=body, headers=_headers(api_key)) as resp:
        if resp.status_code != 200:
            return None
        seen = 0
        rest = b""
        async for chunk in resp.aiter_bytes():
            seen += len(chunk)
            if seen > MAX_STREAM_BYTES:
                raise _TooLarge("the stream", MAX_STREAM_BYTES)
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            if len(rest) > 64 * 1024:  # one SSE line is small
                raise _TooLarge("one stream line", 64 * 1024)
            for line in lines:
                line = line.strip()
                if not line.startswith(b"data:") or line == b"data: [DONE]":
                    continue
                try:
                    event = json.loads(line[5:])
                    choices = event.get("choices") or [{}]
                    delta = choices[0].get("delta") or {}
                except (ValueError, RecursionError, AttributeError, IndexError, TypeError, KeyError):
                    continue
                if isinstance(delta, dict) and (delta.get("content") or delta.get("reasoning_content")):
                    return (time.perf_counter() - started) * 1000
    return None


def check_endpoint(url: str, *, api_key: str | None, model: str | None, timeout_s: float,
                   task: str | None = None, task_source: str = "flag") -> Verdict:
    """One look at an OpenAI-compatible endpoint within ``timeout_s`` in all: a real deadline (a server that
    trickles bytes or streams only keep-alive comments is cut off at it), bodies and streams capped. Credentials
    in the URL are used but never shown: the verdict carries the URL with them redacted.

    ``task``: "generate" (a smoke completion and the time to first token), "embed" (one /v1/embeddings request:
    the vector's dimension and the latency), or None: probe, i.e. a model whose completions are refused while
    /v1/embeddings answers with a vector is an embedding model."""
    from deploykit.validation import redact, redact_url

    base = url.rstrip("/")
    base = base if base.endswith("/v1") else f"{base}/v1"
    v = Verdict(redact_url(base))
    if task is not None:
        v.task, v.task_source = task, task_source
    else:
        v.task_source = "probe"
    try:
        asyncio.run(asyncio.wait_for(_check(v, base, api_key, model, timeout_s, task), timeout_s))
    except (asyncio.TimeoutError, TimeoutError):
        v.problems.append(f"no complete answer within the {timeout_s:g} s deadline (--timeout)")
    v.problems = [redact(p, base) for p in v.problems]
    v.healthy = not v.problems
    return v


async def _check_embeddings(v: Verdict, client: httpx.AsyncClient, base: str, api_key: str | None) -> None:
    """The embedding model's check: one /v1/embeddings request answered with a vector, and its latency."""
    started = time.perf_counter()
    dim, prompt_tokens, why = await _embed(client, base, v.model, api_key)
    v.e2e_ms = (time.perf_counter() - started) * 1000
    v.embedding_dim, v.embedding_prompt_tokens = dim or None, prompt_tokens
    if not dim:
        v.problems.append(why)


async def _check(v: Verdict, base: str, api_key: str | None, model: str | None, timeout_s: float,
                 task: str | None = None) -> None:
    timeout = httpx.Timeout(timeout_s, connect=min(5.0, timeout_s))
    async with httpx.AsyncClient(timeout=timeout) as client:
        try:
            status, _ = await _read(client, "GET", f"{base.removesuffix('/v1')}/health", "/health")
            v.health = "200" if status == 200 else "no /health route" if status == 404 \
                else f"/health answered {status}"
            if status not in (200, 404):
                v.problems.append(v.health)
            status, raw = await _read(client, "GET", f"{base}/models", "/v1/models", headers=_headers(api_key))
            if status != 200:
                v.problems.append(f"/v1/models answered {status}: {_printable(raw.decode('utf-8', 'replace'), 200)}")
                return
            v.models = _model_ids(raw)
            v.model = model or (v.models[0] if v.models else "")
            if not v.model:
                v.problems.append("/v1/models lists no model")
                return
            if model and model not in v.models:
                v.problems.append(f"{model} is not among the served models {v.models[:20]}")
            if task == "embed":
                await _check_embeddings(v, client, base, api_key)
                return
            started = time.perf_counter()
            tokens, text, why = await _smoke(client, base, v.model, api_key)
            v.e2e_ms = (time.perf_counter() - started) * 1000
            v.completion_tokens, v.completion_text = tokens, text
            if tokens <= 0 and task is None and " answered " in why:
                # Completions refused: an embedding model answers /v1/embeddings instead.
                probe = Verdict(v.url, model=v.model)
                await _check_embeddings(probe, client, base, api_key)
                if not probe.problems:
                    v.task, v.task_source = "embed", "probe"
                    v.e2e_ms, v.embedding_dim = probe.e2e_ms, probe.embedding_dim
                    v.embedding_prompt_tokens = probe.embedding_prompt_tokens
                    return
            if tokens <= 0:
                v.problems.append(why or "the smoke completion returned no tokens")
                return
            v.ttft_ms = await _first_token_ms(client, base, v.model, api_key)
            if v.ttft_ms is None:
                v.problems.append("streaming returned no content (time to first token unknown)")
        except httpx.HTTPError as exc:
            v.problems.append(f"{type(exc).__name__}: {_printable(exc, 300)}")
        except (ValueError, _TooLarge) as exc:
            v.problems.append(f"unexpected answer: {_printable(exc, 300)}")
