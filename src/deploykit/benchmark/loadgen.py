"""A closed-loop load generator for OpenAI-compatible streaming endpoints.

At each concurrency level N, N workers each send a request and, when its stream ends, the next one, until the
level's bound (a number of requests, a duration, or whichever comes first) is reached. Every request streams
(``stream: true`` with ``stream_options.include_usage``) and yields one :class:`Sample`:

- TTFT: request sent -> first SSE event carrying generated text (a role-only or empty delta does not count);
- E2E: request sent -> end of the stream;
- completion tokens: ``usage.completion_tokens`` of the final chunk, else the number of text deltas;
- ITL (mean per request): ``(e2e - ttft) / (completion_tokens - 1)``, i.e. vLLM's TPOT, which stays right when a
  server packs several tokens in one delta. The ITL percentiles use the real gaps between deltas for requests whose
  deltas are one token each, and that request's mean for the others.

Cost per request is kept small so that the generator is not what is measured: each worker owns a keep-alive
connection (see :func:`_clients`), request bodies are assembled from pre-encoded bytes, and per network read there
is only a timestamp, a split on newlines and one C-level regex search per SSE line (JSON is parsed once, for the
usage chunk). ``benchmarks/bench_loadgen.py`` measures what it sustains.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import itertools
import json
import math
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from deploykit.errors import NotReadyError, UsageError

ENDPOINTS = {"chat": "chat/completions", "completions": "completions", "embeddings": "embeddings"}
AUTO = "auto"  # chat, unless the model refuses completions while /v1/embeddings answers (an embedding model)
# How servers refuse a route the model cannot serve: vLLM 400 "The model does not support Chat Completions API" (newer
# builds raise NotImplementedError there, which may surface as 500/501), llama-server --embedding 501, 404 where the
# route is absent. Only then is /v1/embeddings tried: a model whose chat answers never gets that request.
PROBE_REFUSALS = (400, 404, 405, 422, 500, 501)
CHARS_PER_TOKEN = 4  # plain English words: about 4 characters per token for Llama/Qwen/Mistral-style tokenizers
PROGRESS_EVERY_S = 0.1
# A response is cut off past these (a broken or hostile server must not fill memory): an error body or a model list
# is a few KB; a stream carries well under 2 KiB per generated token, keep-alive comments included.
MAX_ERROR_BODY_BYTES = 64 * 1024
MAX_MODELS_BYTES = 4 * 1024 * 1024
STREAM_BYTES_BASE = 4 * 1024 * 1024
STREAM_BYTES_PER_TOKEN = 2048
MAX_LINE_BYTES = 1024 * 1024
MAX_PROMPTS_BYTES = 64 * 1024 * 1024
CSV_COLUMNS = ["level", "index", "start_s", "ttft_ms", "e2e_ms", "itl_ms_mean", "prompt_tokens", "completion_tokens",
               "ok", "error"]

# An SSE data line carries generated text when one of these keys has a non-empty string value. JSON escapes every
# quote inside strings, so `"content":"` cannot occur inside a value; `"content":""` and `"content":null` do not match.
_TEXT = re.compile(rb'"(?:content|text|reasoning_content|reasoning)"\s*:\s*"(?!")')
_USAGE = re.compile(rb'"usage"\s*:\s*\{')

_WORDS = (  # noqa: SIM905 - a word list reads best as text
    "time year people way day man thing woman life child world school state family student group country problem "
    "hand part place case week company system program question work government number night point home water room "
    "mother area money story fact month lot right study book eye job word business issue side kind head house "
    "service friend father power hour game line end member law car city community name president team minute idea "
    "kid body information back parent face others level office door health person art war history party result "
    "change morning reason research girl guy moment air teacher force education river garden window market paper "
    "music letter evening summer winter bridge harbor valley forest station village island mountain").split()


# ------------------------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class BenchConfig:
    """What to send and for how long. ``requests`` and ``seconds`` bound each concurrency level (both: whichever is
    reached first). ``prompts`` (from a file) replace the synthetic prompt of about ``prompt_tokens`` tokens."""

    base_url: str
    concurrency: tuple[int, ...] = (1,)
    requests: int | None = None
    seconds: float | None = None
    endpoint: str = "chat"
    model: str | None = None
    prompt_tokens: int = 256
    prompts: tuple[str, ...] | None = None
    max_tokens: int = 128
    api_key: str | None = None
    timeout_s: float = 300.0

    def validate(self) -> None:
        if self.endpoint not in ENDPOINTS and self.endpoint != AUTO:
            raise UsageError(f"unknown endpoint '{self.endpoint}'",
                             fix="use --endpoint auto, chat, completions or embeddings")
        if self.requests is None and self.seconds is None:
            raise UsageError("no bound on the run", fix="pass --requests N or --seconds S (or both)")
        if self.requests is not None and self.requests < 1:
            raise UsageError(f"--requests {self.requests}", fix="use 1 or more requests per level")
        if self.seconds is not None and not self.seconds > 0:
            raise UsageError(f"--seconds {self.seconds}", fix="use a duration above 0")
        if not self.concurrency or any(c < 1 for c in self.concurrency):
            raise UsageError(f"--concurrency {self.concurrency}", fix="use positive integers, e.g. 1,4,16")
        if self.max_tokens < 1 or self.prompt_tokens < 1:
            raise UsageError("--max-tokens and --prompt-tokens must be at least 1", fix="e.g. --max-tokens 128")
        if not self.timeout_s > 0:
            raise UsageError(f"--timeout {self.timeout_s}", fix="use a timeout in seconds above 0")
        if self.prompts is not None and not self.prompts:
            raise UsageError("the prompts file holds no prompt", fix="one prompt per line, or JSONL with "
                                                                     '{"prompt": "..."}')


def parse_concurrency(text: str) -> tuple[int, ...]:
    """'1,4,16' -> (1, 4, 16): positive integers, order kept, duplicates dropped."""
    levels: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = int(part)
        except ValueError:
            raise UsageError(f"--concurrency {text!r}: '{part}' is not an integer",
                             fix="use a comma list of positive integers, e.g. --concurrency 1,4,16") from None
        if value < 1:
            raise UsageError(f"--concurrency {text!r}: {value} is not positive", fix="e.g. --concurrency 1,4,16")
        if value not in levels:
            levels.append(value)
    if not levels:
        raise UsageError("--concurrency is empty", fix="e.g. --concurrency 1,4,16")
    return tuple(levels)


def load_prompts(path: Path) -> tuple[str, ...]:
    """Prompts from a file: JSONL lines with a "prompt" string, or plain text lines (blank lines skipped)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_PROMPTS_BYTES + 1)
        if len(raw) > MAX_PROMPTS_BYTES:
            raise UsageError(f"prompts file {path} is larger than {MAX_PROMPTS_BYTES // (1024 * 1024)} MiB",
                             fix="use a smaller prompts file (prompts are used in turn)")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read prompts file {path}: {exc}", fix="pass a UTF-8 text or JSONL file") from exc
    prompts = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("{"):
            try:
                item = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}:{number}: invalid JSON ({exc.msg})",
                                 fix='each JSONL line is an object like {"prompt": "..."}') from None
            except RecursionError:
                raise UsageError(f"{path}:{number}: JSON nested too deeply",
                                 fix='each JSONL line is an object like {"prompt": "..."}') from None
            prompt = item.get("prompt") if isinstance(item, dict) else None
            if not isinstance(prompt, str) or not prompt:
                raise UsageError(f"{path}:{number}: no \"prompt\" string in this JSON line",
                                 fix='each JSONL line is an object like {"prompt": "..."}')
            prompts.append(prompt)
        else:
            prompts.append(line)
    if not prompts:
        raise UsageError(f"{path} holds no prompt", fix='one prompt per line, or JSONL with {"prompt": "..."}')
    return tuple(prompts)


def synthetic_prompt(tokens: int, seed: int = 0) -> str:
    """Plain words, about ``tokens`` tokens long (4 characters a token)."""
    rng = random.Random(seed)
    target = max(1, tokens) * CHARS_PER_TOKEN
    words: list[str] = []
    length = 0
    while length < target:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


def normalize_base_url(url: str) -> str:
    """'127.0.0.1:8000' / 'http://h:8000/' -> 'http://h:8000/v1'; a URL with a path keeps it (e.g. /api/v1)."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    from deploykit.validation import http_url

    http_url("the endpoint URL", url)
    url = url.rstrip("/")
    url = url.removesuffix("/chat/completions").removesuffix("/completions")
    if not urlsplit(url).path:
        url += "/v1"
    return url


# ------------------------------------------------------------------------------------------------------ results
@dataclass(slots=True)
class Sample:
    """One request. Times in ms; ``start_s`` is its start relative to the start of its level."""

    level: int
    index: int
    start_s: float
    ok: bool = False
    ttft_ms: float | None = None
    e2e_ms: float | None = None
    itl_ms_mean: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int = 0
    deltas: int = 0
    error: str = ""
    error_kind: str = ""
    embedding_dim: int = 0  # embeddings: the length of the returned vector
    gaps_ms: list[float] = field(default_factory=list, repr=False)  # inter-delta gaps, for the ITL percentiles


@dataclass
class LevelSummary:
    concurrency: int
    requests_ok: int
    requests_failed: int
    errors: dict[str, int]
    error_examples: dict[str, str]
    wall_s: float
    requests_per_s: float
    output_tokens_per_s: float
    decode_tokens_per_s_mean: float | None
    prompt_tokens_total: int
    completion_tokens_total: int
    ttft_ms: dict[str, float] | None
    itl_ms: dict[str, float] | None
    e2e_ms: dict[str, float] | None
    generator_cpu_share: float = 0.0  # this process's CPU time / wall: near 1, the generator itself was the limit
    input_tokens_per_s: float = 0.0  # prompt tokens (usage.prompt_tokens) of the successful requests / wall
    embedding_dim: int | None = None  # embeddings: the vector length the endpoint returned

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class LevelResult:
    summary: LevelSummary
    samples: list[Sample]


@dataclass
class BenchResult:
    base_url: str
    model: str
    endpoint: str
    max_tokens: int
    prompt_source: str  # "synthetic" or the file's prompt count
    prompt_tokens_target: int | None
    bound: dict[str, float | int | None]
    levels: list[LevelResult]

    def level(self, concurrency: int) -> LevelSummary | None:
        return next((lv.summary for lv in self.levels if lv.summary.concurrency == concurrency), None)

    def as_dict(self) -> dict:
        return {"url": self.base_url, "model": self.model, "endpoint": self.endpoint, "max_tokens": self.max_tokens,
                "prompts": self.prompt_source, "prompt_tokens_target": self.prompt_tokens_target,
                "bound": self.bound, "levels": [lv.summary.as_dict() for lv in self.levels]}


@dataclass(frozen=True)
class Progress:
    """Reported at most every 0.1 s while a level runs, and once when it ends."""

    concurrency: int
    level: int  # 0-based position in the list of levels
    levels: int
    done: int
    errors: int
    elapsed_s: float
    requests: int | None
    seconds: float | None
    finished: bool = False


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default) over an already sorted sequence."""
    if not sorted_values:
        return math.nan
    k = (len(sorted_values) - 1) * p / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    values.sort()
    return {"mean": round(sum(values) / len(values), 3), "p50": round(percentile(values, 50), 3),
            "p95": round(percentile(values, 95), 3), "p99": round(percentile(values, 99), 3)}


def summarize(concurrency: int, samples: list[Sample], wall_s: float, cpu_s: float = 0.0) -> LevelSummary:
    ok = [s for s in samples if s.ok]
    failed = [s for s in samples if not s.ok]
    errors = Counter(s.error_kind for s in failed)
    examples: dict[str, str] = {}
    for s in failed:
        examples.setdefault(s.error_kind, s.error)
    itl: list[float] = []
    decode: list[float] = []
    for s in ok:
        if s.completion_tokens > 1 and s.itl_ms_mean:
            decode.append(1000.0 / s.itl_ms_mean)
            if s.deltas == s.completion_tokens and s.gaps_ms:
                itl.extend(s.gaps_ms)
            else:  # packed (or split) deltas: the request's mean stands for each of its gaps
                itl.extend([s.itl_ms_mean] * (s.completion_tokens - 1))
    tokens = sum(s.completion_tokens for s in ok)
    prompt_total = sum(s.prompt_tokens or 0 for s in ok)
    dims = [s.embedding_dim for s in ok if s.embedding_dim]
    wall = max(wall_s, 1e-9)
    return LevelSummary(
        concurrency=concurrency, requests_ok=len(ok), requests_failed=len(failed), errors=dict(errors),
        error_examples=examples, wall_s=round(wall_s, 4), requests_per_s=round(len(ok) / wall, 3),
        output_tokens_per_s=round(tokens / wall, 2),
        decode_tokens_per_s_mean=round(sum(decode) / len(decode), 2) if decode else None,
        prompt_tokens_total=prompt_total, completion_tokens_total=tokens,
        ttft_ms=_stats([s.ttft_ms for s in ok if s.ttft_ms is not None]), itl_ms=_stats(itl),
        e2e_ms=_stats([s.e2e_ms for s in ok if s.e2e_ms is not None]),
        generator_cpu_share=round(cpu_s / wall, 3), input_tokens_per_s=round(prompt_total / wall, 2),
        embedding_dim=max(dims) if dims else None)


def csv_text(result: BenchResult) -> str:
    """One row per request, every level: level, index, start_s, ttft_ms, e2e_ms, itl_ms_mean, prompt_tokens,
    completion_tokens, ok, error."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def num(v: float | None, digits: int = 3) -> str:
        return "" if v is None else f"{v:.{digits}f}"
    for lv in result.levels:
        for s in lv.samples:
            writer.writerow([s.level, s.index, num(s.start_s, 6), num(s.ttft_ms), num(s.e2e_ms), num(s.itl_ms_mean),
                             "" if s.prompt_tokens is None else s.prompt_tokens, s.completion_tokens,
                             "true" if s.ok else "false", s.error])
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------- requests
class _Bodies:
    """Request bodies as bytes, assembled from pre-encoded parts (no json.dumps per request)."""

    def __init__(self, cfg: BenchConfig, model: str) -> None:
        head = {"model": model, "max_tokens": cfg.max_tokens, "stream": True, "stream_options": {"include_usage": True}}
        if cfg.endpoint == "embeddings":  # not streamed; one input string per request
            head = {"model": model, "encoding_format": "float"}
        opening = json.dumps(head)[:-1]
        if cfg.endpoint == "embeddings":
            self.head = (opening + ', "input": ').encode()
            self.tail = b"}"
        elif cfg.endpoint == "chat":
            self.head = (opening + ', "messages": [{"role": "user", "content": ').encode()
            self.tail = b"}]}"
        else:
            self.head = (opening + ', "prompt": ').encode()
            self.tail = b"}"
        if cfg.prompts is not None:
            self.fixed = [self.head + json.dumps(p).encode() + self.tail for p in cfg.prompts]
            self.synthetic = b""
        else:
            # A per-request prefix ("Request 17. ...") keeps prefix caching from turning prefill into a cache hit.
            self.fixed = []
            body = synthetic_prompt(max(1, cfg.prompt_tokens - 4))
            self.synthetic = json.dumps(body).encode()[1:]  # without its opening quote

    def __call__(self, index: int) -> bytes:
        if self.fixed:
            return self.fixed[index % len(self.fixed)]
        return b"".join((self.head, b'"Request %d. ' % index, self.synthetic, self.tail))


if sys.version_info >= (3, 11):
    _deadline = asyncio.timeout
else:  # pragma: no cover - Python 3.10
    class _deadline:  # a stand-in for asyncio.timeout: cancels the task when the time is up
        def __init__(self, seconds: float) -> None:
            self.seconds = seconds

        async def __aenter__(self) -> None:
            task = asyncio.current_task()
            self.expired = False

            def fire() -> None:
                self.expired = True
                task.cancel()
            self.handle = asyncio.get_running_loop().call_later(self.seconds, fire)

        async def __aexit__(self, exc_type, exc, tb) -> bool:
            self.handle.cancel()
            if self.expired and exc_type is asyncio.CancelledError:
                raise TimeoutError
            return False


async def _capped(resp: httpx.Response, limit: int) -> bytes:
    body = bytearray()
    async for chunk in resp.aiter_bytes():
        body += chunk
        if len(body) > limit:
            break
    return bytes(body[:limit])


class _StreamTooLong(Exception):
    pass


async def _one(client: httpx.AsyncClient, url: str, body: bytes, sample: Sample, timeout_s: float,
               t_start: float, max_stream_bytes: int = STREAM_BYTES_BASE + 128 * STREAM_BYTES_PER_TOKEN) -> None:
    """Send one streaming request and fill ``sample``. Never raises for the endpoint's failures. The request has a
    real deadline (``timeout_s`` in all, whatever trickles in) and its stream a size limit."""
    perf = time.perf_counter
    stamps: list[float] = []
    append = stamps.append
    usage_line = b""
    error_line = b""
    text_search = _TEXT.search
    try:
        async with _deadline(timeout_s), client.stream("POST", url, content=body) as resp:
            if resp.status_code != 200:
                raw = await _capped(resp, MAX_ERROR_BODY_BYTES)
                sample.error_kind = f"http {resp.status_code}"
                sample.error = f"HTTP {resp.status_code}: {_brief(raw)}"
                sample.e2e_ms = (perf() - t_start) * 1000.0
                return
            rest = b""
            seen = 0
            async for chunk in resp.aiter_bytes():
                now = perf()
                seen += len(chunk)
                if seen > max_stream_bytes or len(rest) > MAX_LINE_BYTES:
                    raise _StreamTooLong
                if rest:
                    chunk = rest + chunk
                lines = chunk.split(b"\n")
                rest = lines.pop()
                for line in lines:
                    if line[:5] != b"data:":
                        continue
                    if text_search(line) is not None:
                        append(now)
                    elif b"[DONE]" in line:
                        continue
                    elif b'"error"' in line:
                        error_line = line
                    if b'"usage"' in line:
                        usage_line = line
            if rest[:5] == b"data:":  # a last event without its newline
                if text_search(rest) is not None:
                    append(perf())
                if b'"usage"' in rest:
                    usage_line = rest
    except _StreamTooLong:
        sample.error_kind = "too large"
        sample.error = (f"the stream passed {max_stream_bytes // 1024} KiB (or one line {MAX_LINE_BYTES // 1024} KiB)"
                        f" after {len(stamps)} deltas: stopped reading")
        sample.e2e_ms = (perf() - t_start) * 1000.0
        return
    except (TimeoutError, asyncio.TimeoutError, httpx.TimeoutException):
        _failed(sample, "timeout", f"no complete answer within {timeout_s:g} s ({len(stamps)} deltas received)",
                t_start)
        return
    except httpx.HTTPError as exc:
        _transport_failed(sample, exc, t_start)
        return
    end = perf()
    sample.e2e_ms = (end - t_start) * 1000.0
    sample.deltas = len(stamps)
    if usage_line and _USAGE.search(usage_line):
        try:
            usage = json.loads(usage_line[5:]).get("usage") or {}
        except (ValueError, AttributeError, RecursionError):
            usage = {}
        if not isinstance(usage, dict):
            usage = {}
        if _is_count(usage.get("completion_tokens")):
            sample.completion_tokens = usage["completion_tokens"]
        if _is_count(usage.get("prompt_tokens")):
            sample.prompt_tokens = usage["prompt_tokens"]
    if not sample.completion_tokens:
        sample.completion_tokens = len(stamps)
    if error_line and not stamps:
        sample.error_kind = "stream error"
        sample.error = "error event in the stream: " + _brief(error_line[5:])
        return
    if not stamps:
        sample.error_kind = "no tokens"
        sample.error = "the stream ended without any generated text"
        return
    sample.ok = True
    first = stamps[0]
    sample.ttft_ms = (first - t_start) * 1000.0
    if sample.completion_tokens > 1:
        sample.itl_ms_mean = (end - first) * 1000.0 / (sample.completion_tokens - 1)
    if len(stamps) > 1 and len(stamps) == sample.completion_tokens:
        sample.gaps_ms = [(b - a) * 1000.0 for a, b in itertools.pairwise(stamps)]
    if error_line:  # text came, then the server reported an error: count it as failed, keep the numbers
        sample.ok = False
        sample.error_kind = "stream error"
        sample.error = "error event in the stream: " + _brief(error_line[5:])


def _failed(sample: Sample, kind: str, error: str, t_start: float) -> None:
    sample.error_kind, sample.error = kind, error
    sample.e2e_ms = (time.perf_counter() - t_start) * 1000.0


def _transport_failed(sample: Sample, exc: httpx.HTTPError, t_start: float) -> None:
    _failed(sample, _transport_kind(exc), f"{type(exc).__name__}: {exc}"[:300], t_start)


async def _one_embedding(client: httpx.AsyncClient, url: str, body: bytes, sample: Sample, timeout_s: float,
                         t_start: float, max_bytes: int = STREAM_BYTES_BASE) -> None:
    """Send one /v1/embeddings request and fill ``sample``: its latency (``e2e_ms``), ``usage.prompt_tokens`` and
    the vector's length. Never raises for the endpoint's failures; the same deadline and size limit as a stream."""
    perf = time.perf_counter
    try:
        async with _deadline(timeout_s), client.stream("POST", url, content=body) as resp:
            raw = await _capped(resp, max_bytes + 1)
            status = resp.status_code
    except (TimeoutError, asyncio.TimeoutError, httpx.TimeoutException):
        _failed(sample, "timeout", f"no complete answer within {timeout_s:g} s", t_start)
        return
    except httpx.HTTPError as exc:
        _transport_failed(sample, exc, t_start)
        return
    sample.e2e_ms = (perf() - t_start) * 1000.0
    if status != 200:
        sample.error_kind, sample.error = f"http {status}", f"HTTP {status}: {_brief(raw)}"
        return
    if len(raw) > max_bytes:
        sample.error_kind = "too large"
        sample.error = f"the answer passed {max_bytes // 1024} KiB: stopped reading"
        return
    from deploykit.runtime.health import embedding_vector_length

    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    dim = embedding_vector_length(data)
    if not dim:
        sample.error_kind, sample.error = "no embedding", "the answer carries no embedding vector"
        return
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    if _is_count(usage.get("prompt_tokens")):
        sample.prompt_tokens = usage["prompt_tokens"]
    sample.embedding_dim = dim
    sample.ok = True


async def detect_endpoint(client: httpx.AsyncClient, base_url: str, model: str, timeout_s: float) -> str:
    """"chat", or "embeddings" for an embedding model: one non-streamed 1-token chat request; when the server
    refuses it (4xx/501: not a chat/generation model) and /v1/embeddings answers with a vector, embeddings."""
    async def post(route: str, body: dict) -> tuple[int, bytes]:
        async with client.stream("POST", f"{base_url}/{route}", json=body) as resp:
            return resp.status_code, await _capped(resp, STREAM_BYTES_BASE)

    try:
        async with _deadline(min(timeout_s, 60.0)):
            status, _ = await post("chat/completions", {"model": model, "max_tokens": 1, "messages": [
                {"role": "user", "content": "Say hello."}]})
            if status not in PROBE_REFUSALS:
                return "chat"
            status, raw = await post("embeddings", {"model": model, "input": "hello", "encoding_format": "float"})
    except (TimeoutError, asyncio.TimeoutError, httpx.HTTPError):
        return "chat"  # the run itself reports what is wrong
    if status != 200:
        return "chat"
    from deploykit.runtime.health import embedding_vector_length

    try:
        return "embeddings" if embedding_vector_length(json.loads(raw)) else "chat"
    except (ValueError, RecursionError):
        return "chat"


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9


def _brief(raw: bytes, limit: int = 200) -> str:
    text = raw[:MAX_ERROR_BODY_BYTES].decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
        if isinstance(data, dict) and data.get("error") is not None:
            err = data["error"]
            text = str(err.get("message", json.dumps(err))) if isinstance(err, dict) else str(err)
        elif isinstance(data, dict) and "detail" in data:
            text = str(data["detail"])
    except (ValueError, RecursionError):
        pass
    return re.sub(r"[\x00-\x1f\x7f]", " ", " ".join(text[:20 * limit].split()))[:limit]


def _transport_kind(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connect error"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed"
    if isinstance(exc, httpx.ReadError):
        return "read error"
    return type(exc).__name__


# ------------------------------------------------------------------------------------------------------ running
def _headers(api_key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


async def resolve_model(client: httpx.AsyncClient, base_url: str, model: str | None, timeout_s: float) -> str:
    """GET {base}/models: proves something answers, and gives the default model (the first id listed). Within
    ``timeout_s`` (at most 30 s) in all, and at most MAX_MODELS_BYTES read."""
    from deploykit.validation import redact_url

    shown = redact_url(base_url)

    async def fetch() -> tuple[int, bytes]:
        async with client.stream("GET", f"{base_url}/models") as resp:
            return resp.status_code, await _capped(resp, MAX_MODELS_BYTES + 1)

    try:
        status, raw = await asyncio.wait_for(fetch(), min(timeout_s, 30.0))
    except (TimeoutError, asyncio.TimeoutError):
        raise NotReadyError(f"{shown}/models gave no complete answer within {min(timeout_s, 30.0):g} s",
                            fix="check that the URL is the engine's OpenAI API base, and that it is not overloaded"
                            ) from None
    except httpx.HTTPError as exc:
        raise NotReadyError(
            f"nothing answers at {shown}: {type(exc).__name__}: {_brief(str(exc).encode())}",
            fix="start the engine first (deploykit up MODEL --detach prints its URL), or check the host, port "
                "and scheme; the URL is the API base, e.g. http://127.0.0.1:8000/v1") from None
    if status in (401, 403):
        raise UsageError(f"{shown}/models answered {status}: the endpoint wants an API key "
                         f"(or refused this one)",
                         fix="pass --api-key KEY or set DEPLOYKIT_API_KEY (deploykit up exposes the key it set in "
                             "VLLM_API_KEY / LLAMA_API_KEY)")
    if model:
        return model
    ids: list[str] = []
    if status == 200 and len(raw) <= MAX_MODELS_BYTES:
        try:
            data = json.loads(raw)
            items = data.get("data", []) if isinstance(data, dict) else []
            ids = [m["id"] for m in items if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]] \
                if isinstance(items, list) else []
        except (ValueError, RecursionError):
            ids = []
    if not ids:
        raise UsageError(f"cannot learn the served model from {shown}/models (HTTP {status}"
                         f"{', no model listed' if status == 200 else ''})",
                         fix="pass --model NAME, and check that the URL is the OpenAI API base (ends in /v1)")
    return ids[0]


async def _run_level(clients: list[httpx.AsyncClient], cfg: BenchConfig, url: str, bodies: _Bodies,
                     concurrency: int, position: int, on_progress: Callable[[Progress], None] | None) -> LevelResult:
    samples: list[Sample] = []
    perf = time.perf_counter
    cpu0 = time.process_time()
    t0 = perf()
    deadline = t0 + cfg.seconds if cfg.seconds is not None else math.inf
    limit = cfg.requests if cfg.requests is not None else sys.maxsize
    counters = {"next": 0, "errors": 0, "reported": t0}
    stream_limit = STREAM_BYTES_BASE + cfg.max_tokens * STREAM_BYTES_PER_TOKEN

    def report(finished: bool = False) -> None:
        if on_progress is not None:
            on_progress(Progress(concurrency, position, len(cfg.concurrency), len(samples), counters["errors"],
                                 perf() - t0, cfg.requests, cfg.seconds, finished))

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            start = perf()
            index = counters["next"]
            if start >= deadline or index >= limit:
                return
            counters["next"] = index + 1
            sample = Sample(concurrency, index, start - t0)
            if cfg.endpoint == "embeddings":
                await _one_embedding(client, url, bodies(index), sample, cfg.timeout_s, start)
            else:
                await _one(client, url, bodies(index), sample, cfg.timeout_s, start, stream_limit)
            samples.append(sample)
            if not sample.ok:
                counters["errors"] += 1
            if on_progress is not None:
                now = perf()
                if now - counters["reported"] >= PROGRESS_EVERY_S:
                    counters["reported"] = now
                    report()

    report()
    await asyncio.gather(*(worker(clients[i]) for i in range(concurrency)))
    wall = perf() - t0
    cpu = time.process_time() - cpu0
    report(finished=True)
    samples.sort(key=lambda s: s.index)
    return LevelResult(summarize(concurrency, samples, wall, cpu), samples)


def _clients(cfg: BenchConfig, count: int) -> list[httpx.AsyncClient]:
    """One single-connection client per worker, all sharing one TLS context and the same headers and timeouts.

    Not one client with a pool of N: httpcore's pool rescans every connection (and, for each, the count of idle
    ones) on each request and each release, O(N^2) work per request that cost ~2 ms of CPU per request at N = 64
    (benchmarks/bench_loadgen.py); a worker owning its connection is the same closed loop at O(1)."""
    tls = httpx.create_ssl_context()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    timeout = httpx.Timeout(cfg.timeout_s, connect=min(cfg.timeout_s, 30.0), pool=None)
    headers = _headers(cfg.api_key)
    return [httpx.AsyncClient(headers=headers, limits=limits, timeout=timeout, verify=tls) for _ in range(count)]


async def run_async(cfg: BenchConfig, on_progress: Callable[[Progress], None] | None = None) -> BenchResult:
    cfg.validate()
    base = normalize_base_url(cfg.base_url)
    clients = _clients(cfg, max(cfg.concurrency))
    try:
        model = await resolve_model(clients[0], base, cfg.model, cfg.timeout_s)
        if cfg.endpoint == AUTO:
            cfg = dataclasses.replace(cfg, endpoint=await detect_endpoint(clients[0], base, model, cfg.timeout_s))
        bodies = _Bodies(cfg, model)
        url = f"{base}/{ENDPOINTS[cfg.endpoint]}"
        levels = []
        for position, concurrency in enumerate(cfg.concurrency):
            levels.append(await _run_level(clients, cfg, url, bodies, concurrency, position, on_progress))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
    from deploykit.validation import redact, redact_url
    for level in levels:  # never show credentials that the URL carried
        for sample in level.samples:
            if sample.error:
                sample.error = redact(sample.error, base)
        level.summary.error_examples = {k: redact(v, base) for k, v in level.summary.error_examples.items()}
    return BenchResult(
        base_url=redact_url(base), model=model, endpoint=cfg.endpoint, max_tokens=cfg.max_tokens,
        prompt_source="synthetic" if cfg.prompts is None else f"file ({len(cfg.prompts)} prompts)",
        prompt_tokens_target=cfg.prompt_tokens if cfg.prompts is None else None,
        bound={"requests": cfg.requests, "seconds": cfg.seconds}, levels=levels)


def run(cfg: BenchConfig, on_progress: Callable[[Progress], None] | None = None) -> BenchResult:
    """Run every concurrency level in turn (a fresh event loop); see :func:`run_async`."""
    return asyncio.run(run_async(cfg, on_progress))
