"""How much load `deploykit bench` can generate. Run on demand: python benchmarks/bench_loadgen.py [SECONDS]

A local endpoint that answers at once (raw asyncio sockets, pre-encoded SSE, in a separate process;
SERVER_PROCESSES > 1 shares the port with SO_REUSEPORT) is loaded by the generator at concurrency 64 for ~5 s:
  1. a tiny stream (4 one-token deltas, one write): the cost per request (HTTP round trip, bookkeeping);
  2. a 128-token stream in one write: SSE parsing of 128 events per request;
  3. a paced 128-token stream, one write per token every 2 ms (500 tokens/s per stream, 32,000 tokens/s offered at
     64 streams; a real engine's decode at that batch is 20-60 tokens/s per stream): one network read per token, as
     from a real engine, and whether the measured ITL still reads 2 ms.
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

from deploykit.benchmark.loadgen import BenchConfig, run

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


def _paced(tokens: int) -> tuple[bytes, list[bytes]]:
    """The same stream as (response head, one HTTP chunk per SSE event), to be written one event at a time."""
    full = _sse(tokens)
    head, _, rest = full.partition(b"\r\n\r\n")
    body = rest[rest.index(b"\r\n") + 2: -len(b"\r\n0\r\n\r\n")]
    events = [e + b"\n\n" for e in body.split(b"\n\n") if e]
    return head + b"\r\n\r\n", [b"%x\r\n%s\r\n" % (len(e), e) for e in events] + [b"0\r\n\r\n"]


def _models() -> bytes:
    body = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode()
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


class _Instant(asyncio.Protocol):
    """Keep-alive HTTP/1.1: for each complete request in the buffer, one pre-built response."""

    def __init__(self, stream: bytes, models: bytes, paced: tuple[bytes, list[bytes]] | None,
                 interval: float) -> None:
        self.stream, self.models, self.buf, self.paced, self.interval = stream, models, b"", paced, interval

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
            if head.startswith(b"get"):
                self.transport.write(self.models)
            elif self.paced is None:
                self.transport.write(self.stream)
            else:  # role event and first token at once, then one token per interval, the tail with the last
                loop = asyncio.get_running_loop()
                first, events = self.paced
                self.transport.write(first + events[0] + events[1])
                for i, event in enumerate(events[2:-4], 1):
                    loop.call_later(i * self.interval, self.transport.write, event)
                loop.call_later((len(events) - 5) * self.interval, self.transport.write, b"".join(events[-4:]))
            buf = buf[end + 4 + length:]
        self.buf = buf


def _serve(port: int, tokens: int, interval: float, ready) -> None:
    async def serve() -> None:
        stream, models = _sse(tokens), _models()
        paced = _paced(tokens) if interval else None
        loop = asyncio.get_running_loop()
        await loop.create_server(lambda: _Instant(stream, models, paced, interval), "127.0.0.1", port,
                                 reuse_port=True, backlog=1024)
        ready.set()
        await asyncio.Event().wait()
    asyncio.run(serve())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scenario(tokens: int, seconds: float, interval: float = 0.0) -> dict:
    ctx = mp.get_context("spawn")
    port = _free_port()
    procs = []
    for _ in range(SERVER_PROCESSES):
        ready = ctx.Event()
        proc = ctx.Process(target=_serve, args=(port, tokens, interval, ready), daemon=True)
        proc.start()
        if not ready.wait(30):
            sys.exit("the local server did not start")
        procs.append(proc)
    try:
        cfg = BenchConfig(base_url=f"http://127.0.0.1:{port}/v1", concurrency=(CONCURRENCY,), seconds=seconds,
                          max_tokens=tokens, prompt_tokens=64, timeout_s=30)
        cpu0 = time.process_time()
        result = run(cfg)
        cpu = time.process_time() - cpu0
    finally:
        for proc in procs:
            proc.terminate()
            proc.join(5)
    s = result.levels[0].summary
    return {"ok": s.requests_ok, "failed": s.requests_failed, "errors": s.errors, "req_s": s.requests_per_s,
            "tok_s": s.output_tokens_per_s, "wall_s": s.wall_s, "cpu_share": s.generator_cpu_share,
            "cpu_us_per_req": cpu / max(1, s.requests_ok + s.requests_failed) * 1e6,
            "cpu_us_per_token": cpu / max(1, s.completion_tokens_total) * 1e6,
            "e2e_ms": s.e2e_ms or {}, "itl_ms": s.itl_ms or {}}


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    print(f"deploykit bench load generator: concurrency {CONCURRENCY}, {seconds:g} s per scenario, local endpoint "
          f"({SERVER_PROCESSES} server process(es), {os.cpu_count()} CPUs), Python {sys.version.split()[0]}")
    for tokens, interval, label in ((4, 0.0, "1. instant, 4 tokens"), (128, 0.0, "2. instant, 128 tokens"),
                                    (128, 0.002, "3. paced 2 ms/token, 128 tokens")):
        r = scenario(tokens, seconds, interval)
        ref_tok = REFERENCE_REQ_S * tokens
        e2e, itl = r["e2e_ms"], r["itl_ms"]
        print(f"{label}: {r['req_s']:.0f} req/s, {r['tok_s']:.0f} output tokens/s ({r['ok']} requests in "
              f"{r['wall_s']:.2f} s, {r['failed']} failed {r['errors'] or ''})")
        print(f"   e2e p50 {e2e.get('p50', 0):.1f} ms, p99 {e2e.get('p99', 0):.1f} ms; ITL p50 {itl.get('p50', 0):.2f} "
              f"ms, p99 {itl.get('p99', 0):.2f} ms; generator CPU {100 * r['cpu_share']:.0f} %: "
              f"{r['cpu_us_per_req']:.0f} us per request, {r['cpu_us_per_token']:.1f} us per token")
        verdict = " -> far more than a real engine serves" if r["req_s"] > 5 * REFERENCE_REQ_S else ""
        print(f"   vs a real engine at {REFERENCE_REQ_S:g} req/s (assumed; {ref_tok:,.0f} tokens/s at this length): "
              f"{r['req_s'] / REFERENCE_REQ_S:.1f}x the requests/s, {r['tok_s'] / ref_tok:.1f}x the tokens/s{verdict}")


if __name__ == "__main__":
    main()
