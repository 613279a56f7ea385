#!/usr/bin/env python3
"""A stand-in engine for deploykit's fault and retry tests (NOT a contract test of any engine): it is invoked the
way deploykit invokes vLLM (``PYTHON -m vllm.entrypoints.openai.api_server --model M --port P ...``) or
llama-cpp-python, and behaves as FAKE_ENGINE_MODE says:

  serve        answer /health, /v1/models and /v1/chat/completions like an OpenAI-compatible server
  exit         print an error and exit 3 at once
  hang         never open the port
  slow         wait FAKE_ENGINE_DELAY seconds, then serve
  context      when --max-model-len exceeds FAKE_ENGINE_MAX_LEN, print the line vLLM 0.32 prints for that case
               (recorded in tests/fixtures/engine_logs) and exit 1; otherwise serve
  zero_tokens  serve, but every completion returns 0 tokens (llama-cpp-python's fallback chat format did that)
  fork_serve   fork: the child serves, the parent (the process group's leader) only waits
  fork_exit    fork: the child hangs on, the parent exits 3 at once (a leader gone, its child left behind)
"""

from __future__ import annotations

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def arg(name: str, default: str | None = None) -> str | None:
    argv = sys.argv
    for flag in (f"--{name}", f"--{name.replace('-', '_')}"):
        if flag in argv:
            return argv[argv.index(flag) + 1]
    return default


def main() -> None:
    mode = os.environ.get("FAKE_ENGINE_MODE", "serve")
    served = arg("served-model-name") or arg("model_alias") or arg("model") or "fake"
    port = int(arg("port", "8000"))
    print(f"fake engine: mode={mode} argv={sys.argv[1:]}", flush=True)
    if mode in ("fork_serve", "fork_exit") and os.fork() != 0:  # the parent: same process group as the child
        if mode == "fork_exit":
            time.sleep(0.5)
            print("RuntimeError: the fake engine's leader was told to exit", file=sys.stderr, flush=True)
            os._exit(3)
        time.sleep(3600)
        return
    if mode == "fork_exit":
        time.sleep(3600)
    if mode == "exit":
        print("RuntimeError: the fake engine was told to fail", file=sys.stderr, flush=True)
        sys.exit(3)
    if mode == "hang":
        time.sleep(3600)
    if mode == "slow":
        time.sleep(float(os.environ.get("FAKE_ENGINE_DELAY", "3")))
    limit = int(os.environ.get("FAKE_ENGINE_MAX_LEN", "0") or 0)
    length = int(arg("max-model-len", "0") or arg("n_ctx", "0") or 0)
    if mode == "context" and length > limit:
        print("ValueError: To serve at least one request with the models's max seq len "
              f"({length}), (0.50 GiB KV cache is needed, which is larger than the available KV cache memory "
              f"(0.12 GiB). Based on the available memory, the estimated maximum model length is {limit}. Try "
              "increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
              file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"GPU KV cache size: {limit or 4096:,} tokens", flush=True)
    print("Maximum concurrency for 1,024 tokens per request: 4.00x", flush=True)
    tokens = 0 if mode == "zero_tokens" else 5

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/health":
                self._send(200, {})
            elif self.path == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": served, "object": "model"}]})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if body.get("stream"):  # server-sent events, one content delta per token, then [DONE]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for _ in range(tokens):
                    chunk = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                return
            self._send(200, {"choices": [{"message": {"role": "assistant", "content": "hi" if tokens else ""},
                                          "text": "hi" if tokens else ""}],
                             "usage": {"completion_tokens": tokens, "prompt_tokens": 3}})

        def log_message(self, *args) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
