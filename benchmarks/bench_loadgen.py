"""How much load `deploykit bench` can generate. Run on demand: python benchmarks/bench_loadgen.py [SECONDS]

A local endpoint that answers instantly (raw asyncio sockets, a fixed pre-encoded SSE stream written in one call, in
a separate process; SERVER_PROCESSES > 1 shares the port with SO_REUSEPORT) is loaded by the generator at concurrency 64 for ~5 s, twice:
  1. a tiny stream (4 one-token deltas): the cost per request (HTTP round trip, SSE parsing, bookkeeping);
  2. a 128-token stream (128 one-token deltas): the cost per token.
It prints requests/s, tokens/s, the generator's CPU per request (nearly all of it is httpx's own) and the ratio
against a real engine. On a 2-core box the server and the generator share the cores, so the figures are a floor.

Reference (an assumption, not a measurement): 50 requests/s for a small model (7-8B) served by vLLM on one GPU with
short chat requests (~128 output tokens). Output-token throughput of such a setup is a few thousand tokens/s, which
at 128 tokens a request is tens of requests/s; 50 is a round, generous figure. At 128 tokens a request it means
6,400 output tokens/s.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from deploykit.benchmark.loadgen import BenchConfig, run  # noqa: E402

REFERENCE_REQ_S = 50.0  # assumption: a real small-model engine on one GPU (see the docstring)
CONCURRENCY = 64
SERVER_PROCESSES = 1  # one answers ~20k requests/s, far above what the generator sends
MODEL = "bench/instant"


def _sse(tokens: int) -> bytes:
    """A complete chunked HTTP/1.1 response holding a vLLM-shaped chat stream of ``tokens`` one-token deltas."""
    base = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
    events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    events += [{**base, "choices": [{"index": 0, "delta": {"content": " tok"}, "finish_reason": None}]}
               for _ in range(tokens)]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
    events.append({**base, "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": tokens,
                                                    "total_tokens": 10 + tokens}})
    body = b"".join(b"data: " + json.dumps(e, separators=(",", ":")).encode() + b"\n\n" for e in events)
    body += b"data: [DONE]\n\n"
    return (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
            + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))


def _models() -> bytes:
    body = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode()
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


class _Instant(asyncio.Protocol):
    """Keep-alive HTTP/1.1: for each complete request in the buffer, one pre-built response."""

    def __init__(self, stream: bytes, models: bytes) -> None:
        self.stream, self.models, self.buf = stream, models, b""

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:head.find(b"\r\n", at) if head.find(b"\r\n", at) > 0 else None]) \
                if at >= 0 else 0
            if len(buf) < end + 4 + length:
                break
            self.transport.write(self.models if head.startswith(b"get") else self.stream)
            buf = buf[end + 4 + length:]
        self.buf = buf


def _serve(port: int, tokens: int, ready) -> None:
    async def main() -> None:
        stream, models = _sse(tokens), _models()
        loop = asyncio.get_running_loop()
        await loop.create_server(lambda: _Instant(stream, models), "127.0.0.1", port, reuse_port=True, backlog=1024)
        ready.set()
        await asyncio.Event().wait()
    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scenario(tokens: int, seconds: float) -> dict:
    ctx = mp.get_context("spawn")
    port = _free_port()
    procs = []
    for _ in range(SERVER_PROCESSES):
        ready = ctx.Event()
        proc = ctx.Process(target=_serve, args=(port, tokens, ready), daemon=True)
        proc.start()
        if not ready.wait(30):
            sys.exit("the instant server did not start")
        procs.append(proc)
    try:
        cfg = BenchConfig(base_url=f"http://127.0.0.1:{port}/v1", concurrency=(CONCURRENCY,), seconds=seconds,
                          max_tokens=tokens, prompt_tokens=64, timeout_s=30)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = run(cfg)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(5)
    s = result.levels[0].summary
    return {"tokens": tokens, "ok": s.requests_ok, "failed": s.requests_failed, "errors": s.errors,
            "req_s": s.requests_per_s, "tok_s": s.output_tokens_per_s, "wall_s": s.wall_s,
            "cpu_share": cpu / wall, "cpu_us_per_req": cpu / max(1, s.requests_ok + s.requests_failed) * 1e6,
            "e2e_p50_ms": (s.e2e_ms or {}).get("p50"), "e2e_p99_ms": (s.e2e_ms or {}).get("p99")}


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    print(f"deploykit bench load generator: concurrency {CONCURRENCY}, {seconds:g} s per scenario, instant local "
          f"endpoint ({SERVER_PROCESSES} server process(es), {os.cpu_count()} CPUs), Python {sys.version.split()[0]}")
    for tokens in (4, 128):
        r = scenario(tokens, seconds)
        if r["failed"]:
            print(f"  warning: {r['failed']} failed requests: {r['errors']}")
        ref_tok = REFERENCE_REQ_S * tokens
        print(f"{tokens:4d} tokens/request: {r['req_s']:8.0f} req/s, {r['tok_s']:9.0f} output tokens/s "
              f"({r['ok']} requests in {r['wall_s']:.2f} s; e2e p50 {r['e2e_p50_ms']:.2f} ms, p99 "
              f"{r['e2e_p99_ms']:.2f} ms; generator CPU {100 * r['cpu_share']:.0f} %, "
              f"{r['cpu_us_per_req']:.0f} us CPU per request)")
        print(f"      vs a real engine at {REFERENCE_REQ_S:g} req/s (assumed; {ref_tok:,.0f} tokens/s at this "
              f"length): {r['req_s'] / REFERENCE_REQ_S:.0f}x the requests/s, {r['tok_s'] / ref_tok:.0f}x the "
              f"tokens/s -> far more than a real engine serves")


if __name__ == "__main__":
    main()
