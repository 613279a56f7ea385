"""A hostile stand-in for an OpenAI-compatible server (NOT a contract test of any real server): it trickles bytes,
streams nothing but keep-alive comments, sends endless bodies, or answers each route with whatever bytes a test
(or the fuzz suite) sets. `deploykit check` and `bench` must end at their deadline and bound what they read."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from standin_http import JSONHandler, ThreadedServer

MODELS = {"object": "list", "data": [{"id": "m", "object": "model"}]}
COMPLETION = {"choices": [{"message": {"role": "assistant", "content": "hi"}, "text": "hi"}],
              "usage": {"completion_tokens": 2, "prompt_tokens": 3}}


@dataclass
class Script:
    """How to answer. mode: trickle (1 byte every `interval` s, for ever), keepalive (valid answers, but streams
    send only ': keep-alive' comments), endless (/v1/models never ends), canned (`routes`: path -> (status,
    body bytes); a stream request gets `stream_body`)."""

    mode: str = "canned"
    interval: float = 0.5
    routes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    stream_body: bytes = b"data: [DONE]\n\n"


class HostileServer(ThreadedServer):
    def __init__(self, script: Script) -> None:
        outer = self

        class Handler(JSONHandler):
            protocol_version = "HTTP/1.1"

            def _route(self) -> None:
                s = outer.script
                length = int(self.headers.get("Content-Length") or 0)
                request = self.rfile.read(length) if length else b""
                streaming = b'"stream": true' in request or b'"stream":true' in request
                try:
                    if s.mode == "trickle":
                        self._chunked(200, iter(lambda: b"x", None), s.interval)
                    elif s.mode == "endless" and self.path.endswith("/models"):
                        self._chunked(200, iter(lambda: b"x" * 65536, None), 0)
                    elif s.mode == "keepalive" or s.mode == "endless":
                        if streaming:
                            self._chunked(200, iter(lambda: b": keep-alive\n\n", None), s.interval,
                                          "text/event-stream")
                        elif self.path.endswith("/models"):
                            self._json(200, MODELS)
                        elif self.path.endswith("/health"):
                            self._json(200, {})
                        else:
                            self._json(200, COMPLETION)
                    else:
                        status, body = (200, s.stream_body) if streaming else s.routes.get(
                            self.path, (404, b'{"error": "not found"}'))
                        self.send_response(status)
                        self.send_header("Content-Type", "text/event-stream" if streaming else "application/json")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _chunked(self, status: int, parts, interval: float, content_type: str = "application/json"
                         ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                deadline = time.monotonic() + 120  # a stand-in must not outlive its test by much
                for part in parts:
                    if time.monotonic() > deadline:
                        return
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.flush()
                    if interval:
                        time.sleep(interval)

            do_GET = _route  # noqa: N815
            do_POST = _route  # noqa: N815

        self.script = script
        super().__init__(Handler)


def canned(models: bytes = json.dumps(MODELS).encode(), completion: bytes = json.dumps(COMPLETION).encode(),
           health: tuple[int, bytes] = (200, b"{}"), stream: bytes = b"data: [DONE]\n\n") -> Script:
    return Script("canned", routes={"/health": health, "/v1/models": (200, models),
                                    "/v1/chat/completions": (200, completion), "/v1/completions": (200, completion)},
                  stream_body=stream)
