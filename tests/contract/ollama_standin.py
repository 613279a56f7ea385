"""A stand-in Ollama server for contract tests (no Ollama binary installs here). It follows ollama/ollama's
docs/api.md and server/routes.go (v0.33.0-rc2, read 2026-11-21) for the routes deploykit uses: shapes of requests
and answers, streamed pull progress, errors as {"error": "..."}, and the documented parameter names and types of
/api/create. It is stricter than the real server where that catches client mistakes (unknown fields in create)."""

from __future__ import annotations

import json
import time

from standin_http import JSONHandler, ThreadedServer

INT_PARAMS = {"num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx", "num_batch", "num_gpu",
              "num_thread", "draft_num_predict", "main_gpu"}
FLOAT_PARAMS = {"top_p", "min_p", "typical_p", "temperature", "repeat_penalty", "presence_penalty",
                "frequency_penalty"}
CREATE_FIELDS = {"model", "from", "parameters", "stream", "system", "template", "messages", "license", "adapters",
                 "files", "quantize"}


class StandIn:
    def __init__(self, library: dict[str, int], *, max_ctx: int | None = None) -> None:
        self.library = library  # tag -> size in bytes, what "the registry" has
        self.max_ctx = max_ctx  # load fails above this num_ctx, with Ollama's memory error
        self.pulled: set[str] = set()
        self.created: dict[str, dict] = {}  # name -> {"from", "parameters"}
        self.loaded: dict[str, object] = {}  # name -> keep_alive
        self.calls: list[tuple[str, str, dict]] = []
        self.http = ThreadedServer(self._handler())

    @property
    def url(self) -> str:
        return f"{self.http.root}"

    def __enter__(self) -> StandIn:
        self.http.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.http.__exit__(*exc)

    def _handler(self):
        standin = self

        class Handler(JSONHandler):
            def _body(self) -> dict:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                return json.loads(raw) if raw else {}

            def do_GET(self) -> None:  # noqa: N802
                standin.calls.append(("GET", self.path, {}))
                if self.path == "/api/version":
                    self._json(200, {"version": "0.33.0"})
                elif self.path == "/api/ps":
                    self._json(200, {"models": [{"name": n, "model": n, "size": 1, "size_vram": 0,
                                                 "context_length": standin.created.get(n, {}).get(
                                                     "parameters", {}).get("num_ctx", 4096),
                                                 "expires_at": "2318-01-01T00:00:00Z"}
                                                for n in standin.loaded]})
                elif self.path == "/v1/models":
                    names = sorted(standin.pulled | set(standin.created))
                    self._json(200, {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "library"}
                                                                for n in names]})
                elif self.path == "/":
                    self._json(200, "Ollama is running")
                else:
                    self._json(404, {"error": "404 page not found"})

            def do_DELETE(self) -> None:  # noqa: N802
                body = self._body()
                standin.calls.append(("DELETE", self.path, body))
                name = body.get("model")
                if self.path == "/api/delete" and name in standin.created:
                    standin.created.pop(name)
                    standin.loaded.pop(name, None)
                    self._json(200, {})
                else:
                    self._json(404, {"error": f"model '{name}' not found"})

            def do_POST(self) -> None:  # noqa: N802
                body = self._body()
                standin.calls.append(("POST", self.path, body))
                route = {"/api/pull": self._pull, "/api/create": self._create, "/api/generate": self._generate,
                         "/v1/chat/completions": self._chat, "/v1/completions": self._chat}.get(self.path)
                if route is None:
                    self._json(404, {"error": "404 page not found"})
                else:
                    route(body)

            def _pull(self, body: dict) -> None:
                tag = body.get("model")
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.end_headers()
                events = [{"status": "pulling manifest"}]
                if tag not in standin.library:
                    events.append({"error": "pull model manifest: file does not exist"})
                else:
                    size = standin.library[tag]
                    events += [{"status": "pulling 6a0746a1ec1a", "digest": "sha256:6a0746a1ec1a", "total": size,
                                "completed": size * i // 4} for i in range(5)]
                    events += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"},
                               {"status": "success"}]
                    standin.pulled.add(tag)
                for event in events:
                    self.wfile.write((json.dumps(event) + "\n").encode())
                    self.wfile.flush()
                    time.sleep(0.01)

            def _create(self, body: dict) -> None:
                unknown = set(body) - CREATE_FIELDS
                if unknown or "model" not in body:
                    self._json(400, {"error": f"invalid create request: {sorted(unknown) or 'model missing'}"})
                    return
                base = body.get("from")
                if base not in standin.pulled and base not in standin.created:
                    self._json(404, {"error": f"model '{base}' not found"})
                    return
                for key, value in (body.get("parameters") or {}).items():
                    ok = (key in INT_PARAMS and isinstance(value, int)) or (
                        key in FLOAT_PARAMS and isinstance(value, (int, float))) or key == "stop"
                    if not ok:
                        self._json(400, {"error": f"invalid parameter '{key}'"})
                        return
                standin.created[body["model"]] = {"from": base, "parameters": body.get("parameters") or {}}
                self._json(200, {"status": "success"})

            def _generate(self, body: dict) -> None:
                name = body.get("model")
                if name not in standin.created and name not in standin.pulled:
                    self._json(404, {"error": f"model '{name}' not found"})
                    return
                keep = body.get("keep_alive", "5m")
                if keep == 0:
                    standin.loaded.pop(name, None)
                    self._json(200, {"model": name, "response": "", "done": True, "done_reason": "unload"})
                    return
                ctx = standin.created.get(name, {}).get("parameters", {}).get("num_ctx", 4096)
                if standin.max_ctx is not None and ctx > standin.max_ctx:
                    self._json(500, {"error": "model requires more system memory (9.1 GiB) than is available "
                                              "(6.0 GiB)"})
                    return
                standin.loaded[name] = keep
                self._json(200, {"model": name, "created_at": "2026-11-21T00:00:00Z", "response": "", "done": True,
                                 "done_reason": "load"})

            def _chat(self, body: dict) -> None:
                name = body.get("model")
                if name not in standin.created and name not in standin.pulled:
                    self._json(404, {"error": {"message": f"model \"{name}\" not found, try pulling it first",
                                               "type": "api_error", "param": None, "code": None}})
                    return
                n = min(int(body.get("max_tokens") or 16), 3)
                self._json(200, {"id": "chatcmpl-1", "object": "chat.completion", "model": name,
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there!"},
                                              "text": "Hi there!", "finish_reason": "length"}],
                                 "usage": {"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n}})

        return Handler
