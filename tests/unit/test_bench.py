"""`deploykit bench`: the load generator against a local OpenAI-compatible stand-in (tests/contract/openai_standin.py)
that streams SSE with known delays, so the measured numbers can be checked; and the command through CliRunner.
Timing bounds are generous on the slow side (a loaded CI box) and tight only where physics makes them safe (a
request cannot be faster than the delays the server sleeps)."""

from __future__ import annotations

import csv
import io
import json
import socket
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from deploykit.benchmark import loadgen
from deploykit.benchmark.loadgen import BenchConfig, csv_text, run
from deploykit.cli.bench import bench
from deploykit.errors import NotReadyError, OutputExistsError, UsageError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
from openai_standin import Behaviour, OpenAIStandIn


@pytest.fixture
def standin(request):
    behaviour = getattr(request, "param", None) or Behaviour()
    with OpenAIStandIn(behaviour) as server:
        yield server


def cfg(server: OpenAIStandIn, **kw) -> BenchConfig:
    kw.setdefault("requests", 3)
    kw.setdefault("prompt_tokens", 32)
    kw.setdefault("timeout_s", 30.0)
    return BenchConfig(base_url=server.url, **kw)


def only_level(result):
    assert len(result.levels) == 1
    return result.levels[0]


# ---------------------------------------------------------------------------------------------------- numbers
@pytest.mark.parametrize("standin", [Behaviour(tokens=8, first_token_delay_s=0.05, token_delay_s=0.02)],
                         indirect=True)
def test_ttft_itl_e2e_match_the_server_delays(standin):
    result = run(cfg(standin, max_tokens=16))
    level = only_level(result)
    s = level.summary
    assert (s.requests_ok, s.requests_failed) == (3, 0)
    for sample in level.samples:
        assert sample.ok and sample.completion_tokens == 8 and sample.deltas == 8
        assert sample.prompt_tokens and sample.prompt_tokens > 20  # from the usage chunk
        assert 45 <= sample.ttft_ms <= 250  # the role-only first delta does not count as the first token
        assert 18 <= sample.itl_ms_mean <= 60
        assert sample.e2e_ms == pytest.approx(sample.ttft_ms + 7 * sample.itl_ms_mean, abs=0.01)
        assert sample.ttft_ms + 7 * 18 <= sample.e2e_ms <= sample.ttft_ms + 7 * 60
        assert len(sample.gaps_ms) == 7 and all(10 <= g <= 100 for g in sample.gaps_ms)
    assert 18 <= s.itl_ms["p50"] <= 60 and s.itl_ms["p50"] <= s.itl_ms["p95"] <= s.itl_ms["p99"]
    assert 45 <= s.ttft_ms["p50"] <= 250
    assert 180 <= s.e2e_ms["p50"] <= 700
    assert 16 <= s.decode_tokens_per_s_mean <= 56  # 1000 / 20 ms = 50 tokens/s at best
    assert s.completion_tokens_total == 24
    assert s.output_tokens_per_s == pytest.approx(24 / s.wall_s, rel=0.01)
    assert s.requests_per_s == pytest.approx(3 / s.wall_s, rel=0.01)
    # What was sent: the first listed model, streaming with usage, max_tokens, the chat route.
    assert result.model == "standin/tiny-model"
    for body in standin.bodies:
        assert body["model"] == "standin/tiny-model" and body["stream"] is True and body["max_tokens"] == 16
        assert body["stream_options"] == {"include_usage": True}
        assert body["messages"][0]["role"] == "user"
    prompts = [b["messages"][0]["content"] for b in standin.bodies]
    assert len(set(prompts)) == 3  # a distinct start per request: no prefix-cache hits
    assert all(100 <= len(p) <= 160 for p in prompts)  # ~32 tokens at 4 characters each


@pytest.mark.parametrize("standin", [Behaviour(tokens=8, token_delay_s=0.02, tokens_per_delta=4)], indirect=True)
def test_packed_deltas_spread_with_usage(standin):
    """Two deltas of four tokens: completion_tokens comes from usage, ITL = (e2e - ttft) / 7, not one big gap."""
    level = only_level(run(cfg(standin, requests=2)))
    for sample in level.samples:
        assert sample.ok and sample.deltas == 2 and sample.completion_tokens == 8
        assert sample.itl_ms_mean == pytest.approx((sample.e2e_ms - sample.ttft_ms) / 7, rel=1e-6)
        assert 80 / 7 * 0.9 <= sample.itl_ms_mean <= 40
    assert level.summary.itl_ms["p50"] == pytest.approx(level.summary.itl_ms["mean"], rel=0.5)
    assert level.summary.itl_ms["p99"] < 60  # never the 80 ms gap between the packed deltas


@pytest.mark.parametrize("standin", [Behaviour(tokens=5, include_usage=False)], indirect=True)
def test_without_usage_the_deltas_are_counted(standin):
    level = only_level(run(cfg(standin, requests=2)))
    assert [(s.ok, s.completion_tokens, s.prompt_tokens) for s in level.samples] == [(True, 5, None)] * 2


def test_completions_endpoint(standin):
    result = run(cfg(standin, endpoint="completions", requests=2, max_tokens=4))
    level = only_level(result)
    assert level.summary.requests_ok == 2
    assert all(s.completion_tokens == 4 for s in level.samples)
    assert all("prompt" in b and "messages" not in b and b["stream_options"]["include_usage"] for b in standin.bodies)


def test_prompts_file_is_used_in_turn(standin, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "first \\"quoted\\" prompt"}\n\nplain second line\n')
    prompts = loadgen.load_prompts(path)
    assert prompts == ('first "quoted" prompt', "plain second line")
    run(cfg(standin, prompts=prompts, requests=3))
    assert [b["messages"][0]["content"] for b in standin.bodies] == [prompts[0], prompts[1], prompts[0]]


# ---------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("standin", [Behaviour(tokens=3, fail_every=3)], indirect=True)
def test_server_errors_are_counted_by_kind(standin):
    level = only_level(run(cfg(standin, requests=9, concurrency=(3,))))
    s = level.summary
    assert (s.requests_ok, s.requests_failed) == (6, 3)
    assert s.errors == {"http 500": 3}
    assert "stand-in failure" in s.error_examples["http 500"]
    assert s.completion_tokens_total == 18  # failed requests add nothing
    failed = [x for x in level.samples if not x.ok]
    assert all(x.ttft_ms is None and x.error.startswith("HTTP 500") for x in failed)


@pytest.mark.parametrize("standin", [Behaviour(error_event=True)], indirect=True)
def test_error_event_in_stream(standin):
    level = only_level(run(cfg(standin, requests=2)))
    assert level.summary.errors == {"stream error": 2}
    assert "stand-in engine error" in level.summary.error_examples["stream error"]


@pytest.mark.parametrize("standin", [Behaviour(tokens=8, token_delay_s=0.2)], indirect=True)
def test_per_request_timeout(standin):
    level = only_level(run(cfg(standin, requests=1, timeout_s=0.3)))
    assert level.summary.errors == {"timeout": 1}
    assert level.samples[0].e2e_ms < 1500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_answering_is_not_ready():
    with pytest.raises(NotReadyError) as info:
        run(BenchConfig(base_url=f"http://127.0.0.1:{free_port()}/v1", requests=1, timeout_s=5))
    assert "nothing answers" in info.value.message and "deploykit up" in info.value.fix


@pytest.mark.parametrize("standin", [Behaviour(api_key="s3cret")], indirect=True)
def test_api_key(standin):
    with pytest.raises(UsageError) as info:
        run(cfg(standin, requests=1))
    assert "--api-key" in info.value.fix
    result = run(cfg(standin, requests=1, api_key="s3cret"))
    assert result.levels[0].summary.requests_ok == 1
    assert standin.headers[-1]["Authorization"] == "Bearer s3cret"


# ---------------------------------------------------------------------------------------------------- bounds
@pytest.mark.parametrize("standin", [Behaviour(tokens=4, token_delay_s=0.02)], indirect=True)
def test_request_bound_and_concurrency(standin):
    result = run(cfg(standin, requests=10, concurrency=(4, 1)))
    assert [lv.summary.concurrency for lv in result.levels] == [4, 1]
    first, second = result.levels
    assert [s.index for s in first.samples] == list(range(10))
    assert len(second.samples) == 10
    assert standin.posts == 20 and standin.max_in_flight == 4  # closed loop: never more than N in flight
    assert first.summary.requests_per_s > second.summary.requests_per_s * 1.5


@pytest.mark.parametrize("standin", [Behaviour(tokens=4, token_delay_s=0.02)], indirect=True)
def test_seconds_bound(standin):
    result = run(cfg(standin, requests=None, seconds=0.5, concurrency=(2,)))
    level = only_level(result)
    assert len(level.samples) >= 4  # ~60 ms each, 2 at a time
    assert all(s.start_s < 0.5 for s in level.samples)  # nothing starts after the bound
    assert 0.5 <= level.summary.wall_s <= 0.5 + 1.0  # only the requests in flight run past it


@pytest.mark.parametrize("standin", [Behaviour(tokens=2, token_delay_s=0.05)], indirect=True)
def test_requests_and_seconds_whichever_first(standin):
    level = only_level(run(cfg(standin, requests=1000, seconds=0.3)))
    assert 2 <= len(level.samples) < 1000


def test_progress_callback(standin):
    seen = []
    run(cfg(standin, requests=5, concurrency=(1, 2)), on_progress=seen.append)
    finals = [p for p in seen if p.finished]
    assert [(p.concurrency, p.done, p.errors, p.level, p.levels) for p in finals] == [(1, 5, 0, 0, 2), (2, 5, 0, 1, 2)]
    assert all(p.elapsed_s >= 0 for p in seen)


# ---------------------------------------------------------------------------------------------------- inputs
def test_parse_concurrency():
    assert loadgen.parse_concurrency("1, 4,16,4") == (1, 4, 16)
    for bad in ("0", "a,b", "", "1,-2"):
        with pytest.raises(UsageError):
            loadgen.parse_concurrency(bad)


def test_bad_prompts_file(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"text": "no prompt key"}\n')
    with pytest.raises(UsageError, match="p.jsonl:1"):
        loadgen.load_prompts(path)
    path.write_text("\n\n")
    with pytest.raises(UsageError):
        loadgen.load_prompts(path)


def test_synthetic_prompt_length():
    for tokens in (1, 32, 1000):
        assert tokens * 4 <= len(loadgen.synthetic_prompt(tokens)) <= tokens * 4 + 20


def test_base_url_normalized():
    norm = loadgen.normalize_base_url
    assert norm("127.0.0.1:8000") == "http://127.0.0.1:8000/v1"
    assert norm("http://h:8000/v1/") == "http://h:8000/v1"
    assert norm("http://h:8000/v1/chat/completions") == "http://h:8000/v1"
    assert norm("https://h/api/v1") == "https://h/api/v1"
    with pytest.raises(UsageError):
        norm("ftp://h/")


def test_config_needs_a_bound():
    with pytest.raises(UsageError):
        BenchConfig(base_url="http://x/v1").validate()


def test_percentile_and_csv(standin):
    assert loadgen.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert loadgen.percentile([5.0], 99) == 5.0
    rows = list(csv.DictReader(io.StringIO(csv_text(run(cfg(standin, requests=3))))))
    assert list(rows[0]) == loadgen.CSV_COLUMNS
    assert [r["index"] for r in rows] == ["0", "1", "2"]
    assert all(r["ok"] == "true" and float(r["ttft_ms"]) > 0 and r["completion_tokens"] == "8" for r in rows)


# ---------------------------------------------------------------------------------------------------- the command
def cli(*args: str):
    app = typer.Typer()
    app.command()(bench)
    return CliRunner().invoke(app, list(args), env={"DEPLOYKIT_API_KEY": "", "NO_COLOR": "1", "COLUMNS": "200"})


@pytest.mark.parametrize("standin", [Behaviour(tokens=6, token_delay_s=0.01, fail_every=4)], indirect=True)
def test_cli_json_and_csv(standin, tmp_path):
    out = tmp_path / "samples.csv"
    r = cli(standin.url, "-n", "8", "-c", "1,2", "--max-tokens", "6", "--csv", str(out), "--format", "json")
    assert r.exit_code == 0, (r.stdout, r.stderr, r.exception)
    data = json.loads(r.stdout)
    assert set(data) >= {"url", "model", "endpoint", "max_tokens", "prompts", "bound", "levels", "plan", "csv"}
    assert data["bound"] == {"requests": 8, "seconds": None} and data["plan"] is None
    assert [lv["concurrency"] for lv in data["levels"]] == [1, 2]
    level = data["levels"][0]
    assert set(level) >= {"requests_ok", "requests_failed", "errors", "ttft_ms", "itl_ms", "e2e_ms",
                          "output_tokens_per_s", "requests_per_s", "decode_tokens_per_s_mean", "wall_s"}
    assert set(level["ttft_ms"]) == {"mean", "p50", "p95", "p99"}
    assert level["requests_ok"] + level["requests_failed"] == 8 and level["errors"] == {"http 500": 2}
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 16 and {r["level"] for r in rows} == {"1", "2"}
    assert sum(r["ok"] == "false" for r in rows) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["samples.csv"]  # no temporary file left behind
    # An existing CSV is refused before anything is sent; --force replaces it.
    posts = standin.posts
    r = cli(standin.url, "-n", "2", "--csv", str(out))
    assert isinstance(r.exception, OutputExistsError) and standin.posts == posts
    r = cli(standin.url, "-n", "2", "--csv", str(out), "--force")
    assert r.exit_code == 0 and len(list(csv.DictReader(out.open()))) == 2


@pytest.mark.parametrize("standin", [Behaviour(tokens=6, token_delay_s=0.02)], indirect=True)
def test_cli_table_and_plan_comparison(standin, tmp_path):
    from deploykit.catalog.loader import get_model, get_profile
    from deploykit.planning import lockfile
    from deploykit.planning.box import simulated_box
    from deploykit.planning.planner import plan

    lock = tmp_path / "plan.yaml"
    p = plan(get_model("llama-3.1-8b"), simulated_box(get_profile("h100-sxm"), 1))
    lockfile.write_lock(lock, p, {"model": "llama-3.1-8b"})
    r = cli(standin.url, "-n", "2", "--plan", str(lock), "-f", "json")
    assert r.exit_code == 0, (r.stdout, r.stderr, r.exception)
    cmp = json.loads(r.stdout)["plan"]
    planned = p.estimates.decode_tokens_per_s
    assert cmp["planned_decode_tokens_per_s"] == planned
    assert 10 <= cmp["measured_decode_tokens_per_s"] <= 51
    assert cmp["ratio"] == pytest.approx(cmp["measured_decode_tokens_per_s"] / planned, abs=0.001)
    r = cli(standin.url, "-n", "2", "--plan", str(lock))
    assert r.exit_code == 0
    assert "TTFT ms" in r.stdout and "decode at concurrency 1" in r.stdout and "ratio" in r.stdout
    assert "the plan is for" in r.stderr  # the stand-in serves another model than the plan's


@pytest.mark.parametrize("standin", [Behaviour(fail_every=1)], indirect=True)
def test_cli_every_request_failing_exits_not_ready_after_printing(standin):
    r = cli(standin.url, "-n", "2", "-f", "json")
    assert isinstance(r.exception, NotReadyError) and "2 x http 500" in r.exception.message
    assert json.loads(r.stdout)["levels"][0]["requests_failed"] == 2


def test_cli_bad_input():
    r = cli("http://127.0.0.1:9/v1", "-c", "1,x")
    assert isinstance(r.exception, UsageError)
    r = cli(f"http://127.0.0.1:{free_port()}/v1", "-n", "1")
    assert isinstance(r.exception, NotReadyError)
