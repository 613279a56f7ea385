"""`deploykit cost [MODEL]`: what a plan costs per million tokens, and where it beats hosted APIs."""

from __future__ import annotations

from pathlib import Path

import typer

from deploykit.catalog.resolve import resolve_model
from deploykit.cli.complete import model_names, profile_names
from deploykit.cli.models import split_csv
from deploykit.cli.output import Format, emit_json, hint, stdout, table, warn
from deploykit.cli.units import context_option
from deploykit.errors import UsageError
from deploykit.planning import cost as costing
from deploykit.planning.lockfile import read_lock
from deploykit.planning.planner import plan as make_plan
from deploykit.planning.types import Plan


def cost(
    model: str = typer.Argument(None, help="Catalog name, Hugging Face repo id or local model dir to plan and cost.",
                                autocompletion=model_names),
    plan_file: Path = typer.Option(None, "--plan",
                                   help="Cost a plan lock file (deploykit plan MODEL -o FILE) instead of planning."),
    profile: str = typer.Option(None, "--profile", "-p", help="Plan for a simulated box of this hardware profile.",
                                autocompletion=profile_names),
    gpus: int = typer.Option(1, "--gpus", min=1, max=64, help="GPUs per node of the simulated box."),
    nodes: int = typer.Option(1, "--nodes", min=1, max=64, help="Nodes of the simulated box."),
    context: int = context_option(),
    concurrency: int = typer.Option(None, "--concurrency", min=1,
                                    help="Full-length requests in flight: sets the throughput the cost rests on."),
    input_tokens: int = typer.Option(None, "--input-tokens", min=1,
                                     help="Prompt tokens of a typical request: the throughput and the traffic mix "
                                          "rest on it (default 1024, as for plan)."),
    output_tokens: int = typer.Option(None, "--output-tokens", min=1,
                                      help="Generated tokens of a typical request (default 256, as for plan)."),
    engine: str = typer.Option(None, "--engine", help="vllm, ollama or llamacpp (default: chosen by hardware)."),
    quant: str = typer.Option("auto", "--quant", help="Weight format (see deploykit plan --help)."),
    gpu_hour_price: float = typer.Option(None, "--gpu-hour-price", min=0.0001,
                                         help="USD per GPU-hour (per machine-hour for Apple/CPU); default: the "
                                              "hardware profile's published price."),
    utilization: float = typer.Option(costing.DEFAULT_UTILIZATION, "--utilization", min=0.01, max=1.0,
                                      help="Share of the day the deployment is busy (idle hours are still paid)."),
    input_output_ratio: float = typer.Option(None, "--input-output-ratio", min=0.0,
                                             help="Input (prompt) tokens per output token in your traffic (default: "
                                                  "--input-tokens / --output-tokens when either is given, else "
                                                  f"{costing.DEFAULT_INPUT_OUTPUT_RATIO:g})."),
    prices: Path = typer.Option(None, "--prices", exists=True, dir_okay=False,
                                help="Hosted API price table replacing the shipped one (same format as "
                                     "data/api_prices.yaml)."),
    compare: str = typer.Option(None, "--compare",
                                help="Hosted APIs to compare with (model or provider/model, comma-separated, or "
                                     "'all'); default: those listed as comparable to MODEL."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for scripts."),
) -> None:
    """Cost a deployment: USD per million tokens at a stated utilization, and the daily token volume above which
    it is cheaper than each comparable hosted API. Every assumption is printed with its number."""
    plan = _plan(model, plan_file, profile, gpus, nodes, context, concurrency, engine, quant, input_tokens,
                 output_tokens)
    input_output_ratio = _traffic_ratio(plan, input_output_ratio, input_tokens, output_tokens)
    table_ = costing.load_prices(prices) if prices else costing.load_prices()
    report = costing.cost(plan, gpu_hour_price, utilization, input_output_ratio, table_,
                          compare=split_csv(compare) or None)
    if format is Format.json:
        emit_json(report)
        return
    print_report(report)
    if not report.comparisons:
        hint(f"no hosted API in {report.prices_file} is listed as comparable to {report.model}: pass --compare "
             "MODEL[,MODEL] (e.g. gpt-4o-mini) or --compare all")


def _traffic_ratio(plan: Plan, ratio: float | None, input_tokens: int | None, output_tokens: int | None) -> float:
    """Input tokens per output token: --input-output-ratio, else the typical request's (when --input-tokens or
    --output-tokens describe it), else the default mix. Both given must agree."""
    if input_tokens is None and output_tokens is None:
        return costing.DEFAULT_INPUT_OUTPUT_RATIO if ratio is None else ratio
    wl = plan.workload or {}
    request_ratio = (input_tokens or wl.get("input_tokens") or 1024) / (output_tokens or wl.get("output_tokens")
                                                                        or 256)
    if ratio is not None and abs(ratio - request_ratio) > 0.01 * max(ratio, request_ratio):
        raise UsageError(f"--input-output-ratio {ratio:g} contradicts the typical request of "
                         f"{input_tokens or wl.get('input_tokens')} input and {output_tokens or wl.get('output_tokens')}"
                         f" output tokens ({request_ratio:g}:1)",
                         fix="give --input-tokens/--output-tokens or --input-output-ratio, not both")
    return request_ratio


def _plan(model: str | None, plan_file: Path | None, profile: str | None, gpus: int, nodes: int,
          context: int | None, concurrency: int | None, engine: str | None, quant: str,
          input_tokens: int | None = None, output_tokens: int | None = None) -> Plan:
    if plan_file is not None:
        if model:
            raise UsageError("give a MODEL or --plan FILE, not both", fix="drop MODEL: the lock file names it")
        if input_tokens is not None or output_tokens is not None:
            raise UsageError("--input-tokens/--output-tokens re-estimate the throughput, which a lock file fixes",
                             fix="plan again with them (deploykit plan MODEL --input-tokens N --output-tokens M -o "
                                 "FILE), or cost the model by name with them")
        if profile or gpus != 1 or nodes != 1 or context or concurrency or engine or quant != "auto":
            warn("--plan fixes the hardware and settings: the planning flags are ignored")
        _, plan = read_lock(plan_file)
        return plan
    if not model:
        raise UsageError("nothing to cost", fix="name a MODEL (deploykit cost llama-3.1-8b -p h100-sxm) or pass "
                                                "--plan FILE")
    from deploykit.cli.plan import planning_inputs

    box, workload, policy = planning_inputs(profile, gpus, nodes, context, concurrency, engine, quant, "auto",
                                            None, None, input_tokens=input_tokens, output_tokens=output_tokens)
    return make_plan(resolve_model(model), box, workload, policy)


def print_report(r: costing.CostReport) -> None:
    h = costing.human_tokens
    g = r.gpu_price
    stdout.print(f"[bold]{r.model}[/bold] on {r.hardware} ({r.engine}): self-hosted cost", highlight=False)
    rows = [
        [f"{g.unit} price", f"${g.usd_per_device_hour:.2f}/{g.unit}-hour x {g.devices} = ${r.hourly_usd:,.2f}/hour"],
        ["fixed cost", f"${r.daily_usd:,.2f}/day, ${r.monthly_usd:,.0f}/month"],
        ["throughput (estimate)", f"{r.aggregate_tokens_per_s:,.0f} output tokens/s"
                                  + (f", prefill ~{r.prefill_tokens_per_s:,.0f} tokens/s"
                                     if r.prefill_tokens_per_s else "")],
        ["utilization", f"{r.utilization:.0%}"],
        ["served per day", (f"{h(r.output_tokens_per_day)} output + {h(r.input_tokens_per_day)} input tokens "
                            f"(capacity {h(r.capacity_output_tokens_per_day)} output at 100%)")],
        ["$ per million output tokens", f"${r.usd_per_m_output_tokens:,.3f}"],
        ["$ per million input tokens", f"${r.usd_per_m_input_tokens:,.3f}"],
        [f"$ per million tokens ({r.input_output_ratio:g}:1 mix)", f"${r.usd_per_m_tokens:,.3f}"],
    ]
    stdout.print(table("self-hosted", ["", "value"], rows))
    if r.comparisons:
        mix = f"{r.input_output_ratio:g}:1"
        crows = [[f"{c.provider}/{c.model}", f"${c.input_usd_per_mtok:.2f}", f"${c.output_usd_per_mtok:.2f}",
                  f"${c.hosted_usd_per_m_tokens:.3f}", f"{c.self_hosted_usd_per_m_tokens / c.hosted_usd_per_m_tokens:.2f}x",
                  h(c.break_even_tokens_per_day), f"{c.break_even_utilization:.0%}",
                  "yes" if c.self_hosting_wins_above_tokens_per_day is not None else "never", c.read]
                 for c in r.comparisons]
        stdout.print(table(
            f"against hosted APIs (prices as of {r.prices_as_of}, {r.prices_file})",
            ["API", "$/M in", "$/M out", f"$/M at {mix}", f"self-hosted / hosted at {r.utilization:.0%}",
             "break-even tokens/day", "break-even utilization", "can win", "price read"], crows,
            caption=f"self-hosted: ${r.usd_per_m_tokens:.3f}/M tokens at {mix}; break-even = input + output tokens "
                    "a day at which the GPUs' fixed cost equals the hosted bill"))
    stdout.print("[bold]assumptions[/bold]")
    for a in r.assumptions:
        stdout.print(f"  - {a}", highlight=False)
