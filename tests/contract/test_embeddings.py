"""Embedding (pooling) models: `deploykit check` and `bench` use /v1/embeddings for them, decided by the plan lock,
by a flag, or by probing (completions refused while /v1/embeddings answers); the stand-in's /v1/embeddings answers
as OpenAI's API does. Timing bounds are generous on the slow side and tight only where the server's sleep makes
them safe."""

from __future__ import annotations

import base64
import json
import struct

import httpx
import pytest
import typer
from openai_standin import Behaviour, OpenAIStandIn
from typer.testing import CliRunner

from deploykit.benchmark import loadgen
from deploykit.benchmark.loadgen import BenchConfig
from deploykit.cli.bench import bench
from deploykit.cli.check import check
from deploykit.errors import NotReadyError, UsageError
from deploykit.runtime import health
from deploykit.runtime.health import check_endpoint

EMBEDDER = "standin/embed-model"


def embedder(**kw) -> Behaviour:
    kw.setdefault("models", (EMBEDDER,))
    kw.setdefault("embedding_models", (EMBEDDER,))
    kw.setdefault("embedding_dim", 24)
    return Behaviour(**kw)


def invoke(command, *args: str):
    app = typer.Typer()
    app.command()(command)
    app.command("unused")(lambda: None)  # two commands: the first is invoked by name
    return CliRunner().invoke(app, [command.__name__, *args],
                              env={"DEPLOYKIT_API_KEY": "", "NO_COLOR": "1", "COLUMNS": "200"})


def embed_lock(tmp_path, name: str = "nomic-embed-text-v1.5"):
    from deploykit.catalog.loader import get_model, get_profile
    from deploykit.planning import lockfile
    from deploykit.planning.box import simulated_box
    from deploykit.planning.planner import plan

    p = plan(get_model(name), simulated_box(get_profile("l4"), 1))
    assert p.task == ("embed" if "embed" in name else "generate")
    path = tmp_path / "plan.yaml"
    lockfile.write_lock(path, p, {"model": name})
    return path


# ------------------------------------------------------------------------------------------------ the stand-in
def test_standin_embeddings_follow_the_openai_api():
    with OpenAIStandIn(embedder()) as s, httpx.Client() as c:
        one = c.post(f"{s.url}/embeddings", json={"model": EMBEDDER, "input": "a short sentence here"}).json()
        assert one["object"] == "list" and one["model"] == EMBEDDER
        assert [(d["object"], d["index"], len(d["embedding"])) for d in one["data"]] == [("embedding", 0, 24)]
        assert one["usage"]["prompt_tokens"] == one["usage"]["total_tokens"] > 0
        vector = one["data"][0]["embedding"]
        assert sum(x * x for x in vector) == pytest.approx(1.0)  # normalized, as OpenAI's vectors are
        many = c.post(f"{s.url}/embeddings", json={"model": EMBEDDER, "input": ["one", "two two", [1, 2, 3]],
                                                   "dimensions": 8}).json()
        assert [d["index"] for d in many["data"]] == [0, 1, 2] and all(len(d["embedding"]) == 8 for d in many["data"])
        assert many["data"][2] and many["usage"]["prompt_tokens"] >= 3  # a token list counts its tokens
        b64 = c.post(f"{s.url}/embeddings", json={"model": EMBEDDER, "input": "a short sentence here",
                                                  "encoding_format": "base64"}).json()
        decoded = struct.unpack("<24f", base64.b64decode(b64["data"][0]["embedding"]))
        assert decoded == pytest.approx(vector, abs=1e-6)
        refused = c.post(f"{s.url}/chat/completions", json={"model": EMBEDDER, "max_tokens": 4,
                                                            "messages": [{"role": "user", "content": "hi"}]})
        assert refused.status_code == 400 and "Chat Completions" in refused.json()["message"]
        assert c.post(f"{s.url}/embeddings", json={"model": EMBEDDER, "input": "x", "dimensions": 99}
                      ).status_code == 400
    with OpenAIStandIn() as s, httpx.Client() as c:  # a generative model refuses /v1/embeddings
        r = c.post(f"{s.url}/embeddings", json={"model": "standin/tiny-model", "input": "x"})
        assert r.status_code == 400 and "Embeddings" in r.json()["message"]


# ------------------------------------------------------------------------------------------------------ check
@pytest.mark.parametrize("task", [None, "embed"])
def test_check_an_embedding_model(task):
    with OpenAIStandIn(embedder(embedding_delay_s=0.05)) as s:
        v = check_endpoint(s.url, api_key=None, model=None, timeout_s=10, task=task)
        posts = [b for b in s.bodies]
    assert v.healthy, v.problems
    assert (v.task, v.task_source) == ("embed", "probe" if task is None else "flag")
    assert v.embedding_dim == 24 and v.embedding_prompt_tokens > 0
    assert 50 <= v.e2e_ms <= 2000 and v.ttft_ms is None and v.completion_tokens == 0
    embeds = [b for b in posts if "input" in b]
    assert len(embeds) == 1 and embeds[0]["encoding_format"] == "float"
    assert sum("messages" in b or "prompt" in b for b in posts) == (2 if task is None else 0)  # the probe


def test_check_a_generative_model_is_not_taken_for_an_embedder():
    with OpenAIStandIn() as s:
        v = check_endpoint(s.url, api_key=None, model=None, timeout_s=10)
        assert v.healthy and v.task == "generate" and v.embedding_dim is None and v.completion_tokens > 0
        assert not any("input" in b for b in s.bodies)  # chat answered: no embeddings probe
        v = check_endpoint(s.url, api_key=None, model=None, timeout_s=10, task="embed")
    assert not v.healthy and any("/v1/embeddings answered 400" in p for p in v.problems), v.problems


def test_check_an_embedder_that_answers_no_vector_is_unhealthy():
    with OpenAIStandIn(embedder(embedding_dim=24)) as s:
        v = check_endpoint(s.url, api_key=None, model=None, timeout_s=10, task="generate")
    assert not v.healthy and v.task == "generate" and any("answered 400" in p for p in v.problems)


def test_check_cli_with_an_embedding_plan(tmp_path):
    lock = embed_lock(tmp_path)
    with OpenAIStandIn(embedder()) as s:
        r = invoke(check, s.url, "--plan", str(lock), "-f", "json")
        assert r.exit_code == 0, (r.stdout, r.exception)
        data = json.loads(r.stdout)
        assert (data["task"], data["task_source"], data["embedding_dim"]) == ("embed", "plan", 24)
        assert not any("messages" in b for b in s.bodies)  # the plan decided: no completion probe
        r = invoke(check, s.url)
        assert r.exit_code == 0 and "embedding dimension" in r.stdout and "24" in r.stdout
        assert "embed (probe)" in r.stdout
        r = invoke(check, s.url, "--plan", str(lock), "--task", "generate")
        assert isinstance(r.exception, UsageError) and "contradicts" in r.exception.message
    with OpenAIStandIn() as s:  # an embedding plan against a chat server: unhealthy, exit 1
        r = invoke(check, s.url, "--plan", str(lock))
        assert r.exit_code == 1 and "/v1/embeddings answered 400" in r.stdout


def test_readiness_of_an_embedding_model():
    with OpenAIStandIn(embedder()) as s:
        r = health.wait_ready(s.url, EMBEDDER, api_key=None, timeout_s=5, alive=lambda: None)
    assert r.ready and r.endpoint_used == "embeddings" and r.embedding_dim == 24 and r.completion_tokens == 0


# ------------------------------------------------------------------------------------------------------ bench
def test_bench_embeddings_numbers():
    with OpenAIStandIn(embedder(embedding_delay_s=0.04)) as s:
        result = loadgen.run(BenchConfig(base_url=s.url, endpoint="embeddings", requests=6, concurrency=(1, 3),
                                         prompt_tokens=64, timeout_s=30))
        bodies = list(s.bodies)
    assert result.endpoint == "embeddings"
    for level in result.levels:
        summary = level.summary
        assert (summary.requests_ok, summary.requests_failed) == (6, 0)
        assert summary.embedding_dim == 24 and summary.completion_tokens_total == 0 and summary.ttft_ms is None
        assert 40 <= summary.e2e_ms["p50"] <= 1000 and summary.e2e_ms["p50"] <= summary.e2e_ms["p99"]
        assert summary.prompt_tokens_total == sum(smp.prompt_tokens for smp in level.samples) > 6 * 50
        assert summary.input_tokens_per_s == pytest.approx(summary.prompt_tokens_total / summary.wall_s, rel=0.01)
        assert summary.requests_per_s == pytest.approx(6 / summary.wall_s, rel=0.01)
    one, three = result.levels[0].summary, result.levels[1].summary
    assert one.requests_per_s <= 1000 / 40 + 0.5  # a closed loop of one cannot beat the server's sleep
    assert three.requests_per_s > 1.5 * one.requests_per_s  # three in flight overlap their sleeps
    assert all(set(b) == {"model", "encoding_format", "input"} for b in bodies)
    assert len({b["input"] for b in bodies}) == 6 and all(200 <= len(b["input"]) <= 300 for b in bodies)


def test_bench_counts_a_missing_vector_as_failed():
    with OpenAIStandIn(embedder(fail_every=2)) as s:
        result = loadgen.run(BenchConfig(base_url=s.url, endpoint="embeddings", requests=4, timeout_s=30))
    summary = result.levels[0].summary
    assert (summary.requests_ok, summary.requests_failed, summary.errors) == (2, 2, {"http 500": 2})


def test_bench_cli_detects_an_embedding_model(tmp_path):
    with OpenAIStandIn(embedder()) as s:
        r = invoke(bench, s.url, "-n", "4", "-c", "1,2", "-f", "json")
        assert r.exit_code == 0, (r.stdout, r.exception)
        data = json.loads(r.stdout)
        assert data["endpoint"] == "embeddings" and data["plan"] is None
        assert [lv["requests_ok"] for lv in data["levels"]] == [4, 4]
        assert all(lv["embedding_dim"] == 24 and lv["input_tokens_per_s"] > 0 for lv in data["levels"])
        assert "answers /v1/embeddings" in r.stderr
        probes = [b for b in s.bodies if "messages" in b]
        assert len(probes) == 1 and probes[0]["max_tokens"] == 1  # one probe, then embeddings only
        r = invoke(bench, s.url, "-n", "2", "--plan", str(embed_lock(tmp_path)))
        assert r.exit_code == 0, (r.stdout, r.exception)
        assert "input tok/s" in r.stdout and "dimension" in r.stdout and "/embeddings" in r.stdout
        assert len([b for b in s.bodies if "messages" in b]) == 1  # the plan decided: no second probe


def test_bench_cli_keeps_chat_for_a_generative_model():
    with OpenAIStandIn(Behaviour(tokens=4)) as s:
        r = invoke(bench, s.url, "-n", "2", "-f", "json")
        assert r.exit_code == 0 and json.loads(r.stdout)["endpoint"] == "chat"
        assert not any("input" in b for b in s.bodies)  # the probe's chat answered: embeddings never tried
        r = invoke(bench, s.url, "-n", "2", "--endpoint", "embeddings", "-f", "json")
    assert isinstance(r.exception, NotReadyError) and "2 x http 400" in r.exception.message
    assert "--endpoint chat" in r.exception.fix
