"""A stand-in OpenAI-compatible server for the load generator's tests: GET /v1/models and /health, and streaming
POST /v1/chat/completions and /v1/completions (one JSON answer without "stream": true) shaped like vLLM's and
OpenAI's (chunked HTTP/1.1 with keep-alive, SSE `data:` events, a role-only first chat delta with "content": "", `"usage": null` in every chunk when
stream_options.include_usage is set, then a finish chunk, a usage chunk with empty choices, and `data: [DONE]`).

Knobs: a delay before the first token and one per token, tokens per delta (a server that packs several tokens in
one event), whether usage is sent, every k-th request answering 500, an error event instead of tokens, a required
API key. It records each request body and the most requests it had in flight at once.

Embedding models (``Behaviour.embedding_models``) answer POST /v1/embeddings as OpenAI's API does (input: a string,
a list of strings, a token list or a list of token lists; ``encoding_format`` float or base64 of little-endian
float32; optional ``dimensions``; one ``{"object": "embedding", "index": i, "embedding": [...]}`` per input and
``usage`` with prompt_tokens = total_tokens), and refuse chat/completions with 400 "The model does not support
Chat Completions API" as vLLM's pooling runner does; a generative model refuses /v1/embeddings the same way."""

from __future__ import annotations

import base64
import json
import math
import socket
import struct
import threading
import time
from dataclasses import dataclass

from standin_http import JSONHandler, ThreadedServer


@dataclass
class Behaviour:
    tokens: int = 8  # generated per request (capped by max_tokens)
    first_token_delay_s: float = 0.0  # "prefill"
    token_delay_s: float = 0.0  # between deltas, per token in them
    tokens_per_delta: int = 1
    include_usage: bool = True  # honour stream_options.include_usage
    fail_every: int = 0  # every k-th request (the k-th, 2k-th, ...) answers 500
    error_event: bool = False  # stream an error event and no tokens
    api_key: str | None = None
    models: tuple[str, ...] = ("standin/tiny-model", "standin/other")
    embedding_models: tuple[str, ...] = ()  # served models that are embedding (pooling) models
    embedding_dim: int = 16
    embedding_delay_s: float = 0.0  # per embeddings request


class OpenAIStandIn:
    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.bodies: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.posts = 0
        self._lock = threading.Lock()
        self.http = ThreadedServer(self._handler())

    @property
    def url(self) -> str:
        return f"{self.http.root}/v1"

    def __enter__(self) -> OpenAIStandIn:
        self.http.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.http.__exit__(*exc)

    def _handler(self):
        standin = self

        class Handler(JSONHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _authorized(self) -> bool:
                key = standin.behaviour.api_key
                if key and self.headers.get("Authorization") != f"Bearer {key}":
                    self._json(401, {"error": {"message": "Unauthorized", "type": "invalid_request_error"}})
                    return False
                return True

            def do_GET(self) -> None:
                if self.path == "/health":
                    self._json(200, {})
                elif self.path == "/v1/models":
                    if self._authorized():
                        self._json(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "x"}
                                                                    for m in standin.behaviour.models]})
                else:
                    self._json(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path not in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings"):
                    self._json(404, {"detail": "Not Found"})
                    return
                if not self._authorized():
                    return
                body = json.loads(raw)
                b = standin.behaviour
                embedder = body.get("model") in b.embedding_models
                if (self.path == "/v1/embeddings") != embedder:
                    api = "Embeddings" if self.path == "/v1/embeddings" else (
                        "Chat Completions" if self.path.endswith("chat/completions") else "Completions")
                    with standin._lock:
                        standin.bodies.append(body)
                    self._json(400, {"object": "error", "message": f"The model does not support {api} API",
                                     "type": "BadRequestError", "param": None, "code": 400})
                    return
                with standin._lock:
                    standin.bodies.append(body)
                    standin.headers.append(dict(self.headers))
                    standin.posts += 1
                    number = standin.posts
                    standin.in_flight += 1
                    standin.max_in_flight = max(standin.max_in_flight, standin.in_flight)
                try:
                    if b.fail_every and number % b.fail_every == 0:
                        self._json(500, {"error": {"message": f"stand-in failure on request {number}",
                                                   "type": "InternalServerError", "code": 500}})
                        return
                    if embedder:
                        self._embeddings(body)
                    elif not body.get("stream"):
                        self._complete(body, chat=self.path.endswith("chat/completions"))
                    else:
                        self._stream(body, chat=self.path.endswith("chat/completions"))
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    self.close_connection = True
                finally:
                    with standin._lock:
                        standin.in_flight -= 1

            def _complete(self, body: dict, chat: bool) -> None:
                """A non-streamed answer: one JSON body with the whole text and usage."""
                b = standin.behaviour
                n = min(b.tokens, int(body.get("max_tokens") or b.tokens))
                time.sleep(b.first_token_delay_s + b.token_delay_s * max(0, n - 1))
                text = "".join(f" tok{i}" for i in range(n))
                prompt = body["messages"][-1]["content"] if chat else body["prompt"]
                choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}
                          if chat else {"index": 0, "text": text, "logprobs": None, "finish_reason": "length"})
                prompt_tokens = max(1, len(prompt) // 4)
                self._json(200, {"id": "cmpl-standin", "object": "chat.completion" if chat else "text_completion",
                                 "created": int(time.time()), "model": body["model"], "choices": [choice],
                                 "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": n,
                                           "total_tokens": prompt_tokens + n}})

            def _embeddings(self, body: dict) -> None:
                b = standin.behaviour
                given = body.get("input")
                if isinstance(given, str) or (isinstance(given, list) and given and isinstance(given[0], int)):
                    inputs = [given]
                elif isinstance(given, list) and given:
                    inputs = given
                else:
                    self._json(400, {"object": "error", "message": "input must be a non-empty string or list",
                                     "type": "BadRequestError", "param": "input", "code": 400})
                    return
                dim = body.get("dimensions") or b.embedding_dim
                if not isinstance(dim, int) or not 1 <= dim <= b.embedding_dim:
                    self._json(400, {"object": "error", "message": f"dimensions must be 1..{b.embedding_dim}",
                                     "type": "BadRequestError", "param": "dimensions", "code": 400})
                    return
                time.sleep(b.embedding_delay_s)
                data, tokens = [], 0
                for i, item in enumerate(inputs):
                    n = len(item) if isinstance(item, list) else max(1, len(item) // 4)
                    tokens += n
                    raw = [math.sin(n + k) for k in range(dim)]
                    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
                    vector = [x / norm for x in raw]
                    if body.get("encoding_format") == "base64":
                        vector = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
                    data.append({"object": "embedding", "index": i, "embedding": vector})
                self._json(200, {"object": "list", "data": data, "model": body["model"],
                                 "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

            def _send(self, payload: str) -> None:
                data = payload.encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

            def _event(self, obj: object) -> None:
                self._send("data: " + json.dumps(obj) + "\n\n")

            def _stream(self, body: dict, chat: bool) -> None:
                b = standin.behaviour
                usage_wanted = b.include_usage and (body.get("stream_options") or {}).get("include_usage")
                extra = {"usage": None} if usage_wanted else {}
                n = min(b.tokens, int(body.get("max_tokens") or b.tokens))
                prompt = body["messages"][-1]["content"] if chat else body["prompt"]
                kind = "chat.completion.chunk" if chat else "text_completion"
                base = {"id": "cmpl-standin", "object": kind, "created": int(time.time()), "model": body["model"]}

                def choice(text: str | None, finish: str | None = None, role: bool = False) -> dict:
                    if chat:
                        delta = {} if text is None else {"content": text}
                        if role:
                            delta = {"role": "assistant", "content": ""}
                        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                    return {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}

                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if chat:
                    self._event({**base, "choices": [choice(None, role=True)], **extra})
                if b.error_event:
                    self._event({"error": {"message": "stand-in engine error", "type": "BadRequestError",
                                           "code": 400}})
                else:
                    time.sleep(b.first_token_delay_s)
                    sent = 0
                    while sent < n:
                        k = min(b.tokens_per_delta, n - sent)
                        if sent:
                            time.sleep(b.token_delay_s * k)
                        self._event({**base, "choices": [choice("".join(f" tok{sent + i}" for i in range(k)))],
                                     **extra})
                        sent += k
                    self._event({**base, "choices": [choice(None if chat else "", finish="length")], **extra})
                    if usage_wanted:
                        prompt_tokens = max(1, len(prompt) // 4)
                        self._event({**base, "choices": [], "usage": {
                            "prompt_tokens": prompt_tokens, "completion_tokens": n,
                            "total_tokens": prompt_tokens + n}})
                self._send("data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")

        return Handler
