"""`deploykit cost`: the arithmetic checked by hand, the shipped price table, user price files, missing prices,
and the command's JSON."""

from __future__ import annotations

import json
import re

import pytest
import typer
import yaml
from typer.testing import CliRunner

from deploykit.catalog.loader import get_profile, load_models
from deploykit.catalog.resolve import resolve_model
from deploykit.cli.cost import cost as cost_command
from deploykit.errors import DataError, DoesNotFitError, UsageError
from deploykit.planning import cost as costing
from deploykit.planning.box import simulated_box
from deploykit.planning.lockfile import write_lock
from deploykit.planning.planner import plan as make_plan
from deploykit.planning.types import Plan, Policy, Workload

ONE_ROW = {"as_of": "2026-11-01", "prices": [{
    "provider": "example", "model": "small-api", "input_usd_per_mtok": 0.15, "output_usd_per_mtok": 0.60,
    "source": "https://example.com/pricing", "read": "2026-11-01", "comparable_to": ["llama-3.1-8b"]}]}


def _plan(model: str, profile: str, gpus: int = 1, workload: Workload | None = None) -> Plan:
    p = make_plan(resolve_model(model), simulated_box(get_profile(profile), gpus), workload or Workload(), Policy())
    assert p.fits and p.estimates
    return p


def _with_throughput(p: Plan, aggregate: float, workload: bool = False) -> Plan:
    """The planner's plan with a round aggregate throughput, so every figure below can be checked by hand. Without
    ``workload`` the plan carries no request sizes (a lock file from before issue 11): prompts are then priced on
    top of the aggregate."""
    return p.model_copy(update={"estimates": p.estimates.model_copy(update={"aggregate_tokens_per_s": aggregate}),
                                "workload": p.workload if workload else {}})


def test_cost_at_the_planned_workload_counts_prompts_once(one_row):
    """The aggregate of a plan made for 1,024-token prompts and 256-token replies already includes their prefill:
    at that 4:1 ratio the deployment's time goes to output tokens and their prompts, nothing on top."""
    p = _with_throughput(_plan("llama-3.1-8b", "h100-sxm"), 1000.0, workload=True)
    assert p.workload["input_tokens"] == 1024 and p.workload["output_tokens"] == 256
    r = costing.cost(p, None, 1.0, 4.0, one_row)
    assert r.capacity_output_tokens_per_day == pytest.approx(86400 * 1000, rel=1e-6)
    # Every paid hour serves 3.6M output tokens with their 14.4M prompt tokens: $2.99 / 18M tokens blended.
    assert r.usd_per_m_tokens == pytest.approx(2.99 / 18.0, rel=1e-3)
    # More prompt per reply than planned costs extra prefill time (a 10:1 ratio: 6 extra prompt tokens each).
    heavier = costing.cost(p, None, 1.0, 10.0, one_row)
    share = heavier.input_token_share
    assert heavier.capacity_output_tokens_per_day == pytest.approx(86400 * 1000 / (1 + 6 * share), rel=1e-6)


@pytest.fixture(scope="module")
def h100_8b() -> Plan:
    return _with_throughput(_plan("llama-3.1-8b", "h100-sxm"), 1000.0)


@pytest.fixture
def one_row() -> costing.PriceTable:
    return costing.PriceTable.model_validate(ONE_ROW)


# ---------------------------------------------------------------------------------------------- arithmetic
def test_cost_arithmetic_by_hand(h100_8b, one_row):
    r = costing.cost(h100_8b, None, 0.5, 3.0, one_row)
    # h100-sxm's profile price: $2.99 per GPU-hour, one GPU.
    assert get_profile("h100-sxm").price.usd_per_hour == 2.99
    assert (r.gpu_price.usd_per_device_hour, r.gpu_price.devices) == (2.99, 1)
    assert r.hourly_usd == pytest.approx(2.99)
    assert r.daily_usd == pytest.approx(71.76)                 # 2.99 x 24
    assert r.monthly_usd == pytest.approx(2152.80)             # 71.76 x 30
    # 1000 output tokens/s, busy half the day: 1000 x 3600 x 0.5 = 1.8M output tokens per paid hour.
    assert r.usd_per_m_output_tokens == pytest.approx(2.99 / 1.8, rel=1e-4)   # $1.6611
    # Prefill: 989.4 TFLOPS x 40% / (2 x 8.03B) = 24,642.6 tokens/s, so a prompt token is 1000/24,642.6 of an
    # output token's GPU time.
    assert r.prefill_tokens_per_s == pytest.approx(989.4e12 * 0.4 / (2 * 8.03e9), rel=1e-4)
    share = 1000 / 24642.6
    assert r.input_token_share == pytest.approx(share, rel=1e-4)              # 0.04058
    assert r.usd_per_m_input_tokens == pytest.approx(share * 2.99 / 1.8, rel=1e-3)
    # 3 input tokens per output token: ($1.6611 + 3 x $0.0674) / 4 tokens.
    assert r.usd_per_m_tokens == pytest.approx((1 + 3 * share) * 2.99 / 1.8 / 4, rel=1e-3)
    capacity = 86400 * 1000 / (1 + 3 * share)                                 # 77.5M output tokens/day
    assert r.capacity_output_tokens_per_day == pytest.approx(capacity, rel=1e-4)
    assert r.output_tokens_per_day == pytest.approx(0.5 * capacity, rel=1e-4)
    assert r.input_tokens_per_day == pytest.approx(1.5 * capacity, rel=1e-4)

    (c,) = r.comparisons
    assert (c.provider, c.model) == ("example", "small-api")
    # Hosted: $0.60 per M output + 3 x $0.15 for its prompts = $1.05 per M output tokens, $0.2625 per M tokens.
    assert c.hosted_usd_per_m_tokens == pytest.approx(0.2625)
    # Break-even: $71.76 a day / $1.05 per M output tokens = 68.34M output tokens (273.4M tokens) a day.
    assert c.break_even_output_tokens_per_day == pytest.approx(71.76 / 1.05e-6, abs=1)
    assert c.break_even_tokens_per_day == pytest.approx(4 * 71.76 / 1.05e-6, abs=2)
    assert c.break_even_utilization == pytest.approx(71.76 / 1.05e-6 / capacity, abs=1e-4)   # 88%
    assert c.self_hosting_wins_above_tokens_per_day == c.break_even_tokens_per_day
    assert c.savings_at_utilization == pytest.approx(1 - r.usd_per_m_tokens / 0.2625, abs=1e-3)


def test_utilization_moves_cost_not_break_even(h100_8b, one_row):
    half = costing.cost(h100_8b, None, 0.5, 3.0, one_row)
    full = costing.cost(h100_8b, None, 1.0, 3.0, one_row)
    assert full.usd_per_m_output_tokens == pytest.approx(half.usd_per_m_output_tokens / 2, rel=1e-4)
    assert full.comparisons[0].break_even_tokens_per_day == half.comparisons[0].break_even_tokens_per_day


def test_break_even_beyond_capacity_never_wins(h100_8b, one_row):
    slow = _with_throughput(h100_8b, 100.0)  # 100 tokens/s cannot serve 68M output tokens a day
    (c,) = costing.cost(slow, None, 0.5, 3.0, one_row).comparisons
    assert c.break_even_utilization > 1
    assert c.self_hosting_wins_above_tokens_per_day is None


def test_gpu_hour_price_times_gpus_used(one_row):
    p = _plan("llama-3.3-70b", "h100-sxm", gpus=4)
    r = costing.cost(p, None, prices=one_row, compare=["small-api"])
    assert r.gpu_price.devices == p.gpus_used == 4
    assert r.hourly_usd == pytest.approx(4 * 2.99)
    override = costing.cost(p, 2.0, prices=one_row, compare=["small-api"])
    assert override.hourly_usd == pytest.approx(8.0)
    assert override.gpu_price.source == "--gpu-hour-price"


def test_assumptions_state_every_number(h100_8b, one_row):
    text = "\n".join(costing.cost(h100_8b, None, 0.5, 3.0, one_row).assumptions)
    for figure in ("$2.99/GPU-hour x 1", "$71.76/day", "50%", "1,000 output tokens/s", "24,643 tokens/s",
                   "3 input tokens per output token", "as of 2026-11-01", "40% of dense peak"):
        assert figure in text, figure


def test_input_share_falls_back_without_prefill_estimate(one_row):
    apple = _plan("llama-3.2-1b", "m3-max")  # Ollama plan: no prefill estimate
    r = costing.cost(apple, 1.0, prices=one_row, compare=["small-api"])
    assert r.prefill_tokens_per_s is None
    assert r.input_token_share == costing.FALLBACK_INPUT_SHARE
    assert "10% of an output token's GPU time" in "\n".join(r.assumptions)


def test_bad_arguments(h100_8b, one_row):
    with pytest.raises(UsageError):
        costing.cost(h100_8b, None, 0.0, 3.0, one_row)
    with pytest.raises(UsageError):
        costing.cost(h100_8b, None, 1.5, 3.0, one_row)
    with pytest.raises(UsageError):
        costing.cost(h100_8b, None, 0.5, -1.0, one_row)
    with pytest.raises(UsageError):
        costing.cost(h100_8b, -2.0, 0.5, 3.0, one_row)
    unfit = h100_8b.model_copy(update={"fits": False})
    with pytest.raises(DoesNotFitError):
        costing.cost(unfit, None, 0.5, 3.0, one_row)


# -------------------------------------------------------------------------------------------- missing price
def test_missing_price_asks_for_override(one_row):
    apple = _plan("llama-3.2-1b", "m3-max")
    assert get_profile("m3-max").price is None
    with pytest.raises(UsageError) as err:
        costing.cost(apple, prices=one_row)
    assert "m3-max" in err.value.message
    assert "--gpu-hour-price" in err.value.fix
    assert costing.one_line_summary(apple) is None


def test_one_line_summary(h100_8b):
    line = costing.one_line_summary(h100_8b)
    assert line.startswith("cost: $1.66 per million output tokens at 50% utilization on 1 x h100-sxm at "
                           "$2.99/GPU-hour")
    assert re.search(r"; (beats|never beats) ", line)


# ------------------------------------------------------------------------------------------ the price table
def test_shipped_price_table_validates_and_is_sourced():
    table = costing.load_prices()
    assert table.file == "data/api_prices.yaml"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", table.as_of)
    assert len(table.prices) >= 10
    assert len({r.provider for r in table.prices}) >= 6
    catalog = set(load_models())
    for row in table.prices:
        assert row.source.startswith("https://"), row.key
        assert re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", row.read), row.key
        assert row.read <= table.as_of, row.key
        assert 0 <= row.input_usd_per_mtok and 0 < row.output_usd_per_mtok, row.key
        assert set(row.comparable_to) <= catalog, (row.key, set(row.comparable_to) - catalog)
    for model in ("llama-3.1-8b", "llama-3.3-70b", "deepseek-v3", "qwen3-30b-a3b"):
        assert table.comparable(model), model
    raw = yaml.safe_load(costing.default_prices_path().read_text())
    assert all("source" in row and "read" in row and "comparable_to" in row for row in raw["prices"])


def test_find_by_model_or_provider_model():
    table = costing.load_prices()
    assert table.find("gpt-4o-mini").provider == "openai"
    assert table.find("groq/llama-3.1-8b-instant").model == "llama-3.1-8b-instant"
    with pytest.raises(UsageError) as err:
        table.find("gpt-4o-min")
    assert "gpt-4o-mini" in err.value.suggestions


def test_user_price_file_overrides(tmp_path, h100_8b):
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump(ONE_ROW))
    table = costing.load_prices(f)
    assert table.file == str(f.resolve())
    assert [r.key for r in table.prices] == ["example/small-api"]
    r = costing.cost(h100_8b, None, 0.5, 3.0, table)
    assert [c.model for c in r.comparisons] == ["small-api"]
    assert r.prices_file == str(f.resolve())


@pytest.mark.parametrize("mutate, expect", [
    (lambda d: d["prices"][0].pop("source"), "prices.0.source"),
    (lambda d: d["prices"][0].update(read="last week"), "prices.0.read"),
    (lambda d: d["prices"][0].update(source="lambda pricing page"), "prices.0.source"),
    (lambda d: d["prices"][0].update(output_usd_per_mtok=0), "prices.0.output_usd_per_mtok"),
    (lambda d: d["prices"].append(dict(d["prices"][0])), "listed twice"),
    (lambda d: d.pop("as_of"), "as_of"),
])
def test_bad_user_price_file(tmp_path, mutate, expect):
    data = json.loads(json.dumps(ONE_ROW))
    mutate(data)
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(data))
    with pytest.raises(DataError) as err:
        costing.load_prices(f)
    assert expect in err.value.message
    assert str(f.resolve()) in err.value.message
    assert "source" in err.value.fix


def test_unreadable_price_files(tmp_path):
    with pytest.raises(DataError) as err:
        costing.load_prices(tmp_path / "missing.yaml")
    assert "--prices" in err.value.fix
    f = tmp_path / "broken.yaml"
    f.write_text("as_of: [unclosed\n")
    with pytest.raises(DataError) as err:
        costing.load_prices(f)
    assert "not valid YAML" in err.value.message


# ------------------------------------------------------------------------------------------------- the CLI
@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    a.command()(cost_command)
    return a


def _json(app, *args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_cli_json(app):
    data = _json(app, "llama-3.1-8b", "--profile", "h100-sxm")
    assert set(data) >= {"model", "hardware", "gpu_price", "usd_per_m_output_tokens", "usd_per_m_input_tokens",
                         "usd_per_m_tokens", "utilization", "input_output_ratio", "comparisons", "assumptions"}
    assert data["model"] == "llama-3.1-8b" and data["hardware"] == "1 x h100-sxm"
    assert data["gpu_price"]["usd_per_device_hour"] == 2.99
    assert data["utilization"] == 0.5 and data["input_output_ratio"] == 3.0
    apis = {c["model"] for c in data["comparisons"]}
    assert {"gpt-4o-mini", "llama-3.1-8b-instant"} <= apis
    hosted = [c["hosted_usd_per_m_tokens"] for c in data["comparisons"]]
    assert hosted == sorted(hosted)


def test_cli_flags_and_user_prices(app, tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text(yaml.safe_dump(ONE_ROW))
    data = _json(app, "llama-3.1-8b", "-p", "h100-sxm", "--gpu-hour-price", "1.5", "--utilization", "1",
                 "--input-output-ratio", "0", "--prices", str(f))
    assert data["hourly_usd"] == 1.5
    assert [c["model"] for c in data["comparisons"]] == ["small-api"]
    # Output only, busy all day: $1.50 / (A x 3600) per token.
    agg = data["aggregate_tokens_per_s"]
    assert data["usd_per_m_output_tokens"] == pytest.approx(1.5 / (agg * 3600) * 1e6, rel=1e-3)
    assert data["usd_per_m_tokens"] == pytest.approx(data["usd_per_m_output_tokens"], rel=1e-3)


def test_cli_compare_and_plan_file(app, tmp_path):
    p = _plan("llama-3.3-70b", "h100-sxm", gpus=4)
    lock = tmp_path / "plan.yaml"
    write_lock(lock, p, {"model": "llama-3.3-70b", "profile": "h100-sxm", "gpus": 4})
    data = _json(app, "--plan", str(lock), "--compare", "gpt-4.1,claude-sonnet-4.6")
    assert data["hardware"] == "4 x h100-sxm" and data["hourly_usd"] == pytest.approx(11.96)
    assert [c["model"] for c in data["comparisons"]] == ["gpt-4.1", "claude-sonnet-4.6"]
    assert len(_json(app, "--plan", str(lock), "--compare", "all")["comparisons"]) == len(
        costing.load_prices().prices)


def test_cli_errors(app):
    runner = CliRunner()
    missing = runner.invoke(app, ["llama-3.2-1b", "-p", "m3-max", "--format", "json"])
    assert isinstance(missing.exception, UsageError) and "--gpu-hour-price" in missing.exception.fix
    nothing = runner.invoke(app, ["--format", "json"])
    assert isinstance(nothing.exception, UsageError)
    unknown = runner.invoke(app, ["llama-3.1-8b", "-p", "h100-sxm", "--compare", "gpt-4o-min"])
    assert isinstance(unknown.exception, UsageError) and "gpt-4o-mini" in unknown.exception.suggestions


def test_cli_table(app):
    result = CliRunner().invoke(app, ["llama-3.1-8b", "-p", "h100-sxm"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("self-hosted", "against hosted APIs", "assumptions", "$ per million output tokens",
                 "openai/gpt-4o-mini"):
        assert text in result.stdout, text


def test_cli_typical_request_sets_throughput_and_mix(app, tmp_path):
    default = _json(app, "llama-3.1-8b", "-p", "h100-sxm")
    long = _json(app, "llama-3.1-8b", "-p", "h100-sxm", "--input-tokens", "8192", "--output-tokens", "512")
    # The plan is re-estimated at the stated request: longer prompts take prefill time and KV, so less output/s.
    assert long["aggregate_tokens_per_s"] < default["aggregate_tokens_per_s"]
    assert long["input_output_ratio"] == 16 and default["input_output_ratio"] == costing.DEFAULT_INPUT_OUTPUT_RATIO
    assert any("8,192-token prompts and 512-token replies" in a for a in long["assumptions"])
    assert long["usd_per_m_output_tokens"] > default["usd_per_m_output_tokens"]
    expected = _plan("llama-3.1-8b", "h100-sxm", workload=Workload(input_tokens=8192, output_tokens=512))
    assert long["aggregate_tokens_per_s"] == expected.estimates.aggregate_tokens_per_s
    # Only one of them: the other keeps plan's default (1024 in, 256 out).
    assert _json(app, "llama-3.1-8b", "-p", "h100-sxm", "--output-tokens", "128")["input_output_ratio"] == 8
    # An explicit ratio that agrees is accepted; one that contradicts is a usage error, as is re-estimating a lock.
    assert _json(app, "llama-3.1-8b", "-p", "h100-sxm", "--input-tokens", "2048", "--output-tokens", "512",
                 "--input-output-ratio", "4")["input_output_ratio"] == 4
    runner = CliRunner()
    r = runner.invoke(app, ["llama-3.1-8b", "-p", "h100-sxm", "--input-tokens", "2048", "--input-output-ratio", "3"])
    assert isinstance(r.exception, UsageError) and "contradicts" in r.exception.message
    lock = tmp_path / "plan.yaml"
    write_lock(lock, _plan("llama-3.1-8b", "h100-sxm"), {"model": "llama-3.1-8b"})
    r = runner.invoke(app, ["--plan", str(lock), "--input-tokens", "2048"])
    assert isinstance(r.exception, UsageError) and "deploykit plan" in r.exception.fix
