"""`deploykit profiles` and `deploykit profiles show NAME`."""

from __future__ import annotations

import typer

from deploykit.catalog.loader import get_profile, load_profiles
from deploykit.cli import names
from deploykit.cli.complete import profile_names
from deploykit.cli.output import Col, Format, emit_json, stdout, table

app = typer.Typer(help="Hardware profiles: GPUs, Apple chips and CPU servers deploykit can plan for.",
                  rich_markup_mode=None)


@app.callback(invoke_without_command=True)
def profiles(
    ctx: typer.Context,
    kind: str = typer.Option(None, "--kind", help="Only nvidia, apple or cpu (comma-separated)."),
    all_sizes: bool = typer.Option(False, "--all", help="Also list each memory size of Apple/CPU profiles."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for scripts."),
) -> None:
    """List the hardware profiles."""
    if ctx.invoked_subcommand:
        return
    kinds = names.check("--kind", names.split_csv(kind), names.PROFILE_KINDS)
    chosen = [p for p in load_profiles().values()
              if (not kinds or p.kind in kinds) and (all_sizes or format is Format.json
                                                           or p.variant_of is None)]
    if format is Format.json:
        emit_json(chosen)
        return
    rows = [[p.name, p.display_name, p.kind, _memory(p), f"{p.memory_bandwidth_gbps:,.0f}",
             _num(p.bf16_tflops), _num(p.fp8_tflops), p.compute_capability or "", p.fp8_mode,
             f"{p.interconnect.kind} {p.interconnect.gpu_to_gpu_gbps:g} GB/s" if p.interconnect.gpu_to_gpu_gbps
             else p.interconnect.kind, f"${p.price.usd_per_hour:.2f}/h" if p.price else ""] for p in chosen]
    stdout.print(table(f"{len(rows)} hardware profiles", [
        "name", Col("device", drop=6), Col("kind", drop=1), "memory GiB", "GB/s", "BF16 TFLOPS", Col("FP8 TFLOPS", drop=2),
        Col("CC", drop=3), Col("FP8", drop=4), Col("interconnect", drop=5), "price"], rows,
        caption="GB/s: memory bandwidth; dense throughput (no sparsity); `deploykit profiles show NAME` for sources; "
                "--all lists every memory size."))


@app.command("show")
def show(name: str = typer.Argument(..., help="Profile name.", autocompletion=profile_names),
         format: Format = typer.Option(Format.table, "--format", "-f")) -> None:
    """One profile with the source of each figure."""
    p = get_profile(name)
    if format is Format.json:
        emit_json(p)
        return
    data = p.model_dump(mode="json")
    rows = [[k, v] for k, v in data.items() if k not in ("interconnect", "price", "notes")]
    rows += [[f"interconnect.{k}", v] for k, v in data["interconnect"].items()]
    if data["price"]:
        rows += [[f"price.{k}", v] for k, v in data["price"].items()]
    stdout.print(table(p.display_name, ["field", "value"], rows))
    for note in p.notes:
        stdout.print(f"  note: {note}", highlight=False)


def _memory(p) -> str:
    if p.memory_options_gib:
        return "/".join(str(m) for m in sorted(p.memory_options_gib))
    return f"{p.memory_gib:g}"


def _num(v: float | None) -> str:
    return f"{v:,.0f}" if v else ""
