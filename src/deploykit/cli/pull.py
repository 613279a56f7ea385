"""`deploykit pull MODEL` (or `--plan FILE`): download exactly what the plan needs, check disk space first and
the hub's sizes and hashes after."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from deploykit.catalog.resolve import resolve_model
from deploykit.cli.complete import model_names, profile_names
from deploykit.cli.output import Format, emit_json, hint, stderr, stdout
from deploykit.cli.plan import fitting_plan, planning_inputs
from deploykit.errors import UsageError
from deploykit.planning import lockfile
from deploykit.runtime import pull as pulling


def pull(
    model: str = typer.Argument(None, help="Catalog name or Hugging Face repo id.", autocompletion=model_names),
    plan_file: Path = typer.Option(None, "--plan", help="Pull what a plan lock needs."),
    local_dir: Path = typer.Option(None, "--local-dir", file_okay=False,
                                   help="Download into this folder (to carry into an air-gapped site) instead of "
                                        "the Hugging Face cache."),
    no_hash: bool = typer.Option(False, "--no-hash", help="Check sizes only, not the published sha256."),
    profile: str = typer.Option(None, "--profile", "-p", help="Plan for a simulated box of this profile.",
                                autocompletion=profile_names),
    gpus: int = typer.Option(1, "--gpus", min=1, max=64, help="GPUs per node of the simulated box."),
    engine: str = typer.Option(None, "--engine", help="vllm or llamacpp (default: chosen by hardware)."),
    quant: str = typer.Option("auto", "--quant", help="Weight format (see deploykit plan --help)."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for scripts."),
) -> None:
    """Download the plan's weights (the chosen format's safetensors, or its one GGUF) through huggingface-hub;
    resumes, checks free disk first, verifies sizes and hashes; HF_HUB_OFFLINE=1 checks what is already here."""
    if bool(model) == bool(plan_file):
        raise UsageError("name a MODEL or pass --plan FILE (one of the two)", fix="e.g. deploykit pull llama-3.1-8b")
    if plan_file:
        _, plan = lockfile.read_lock(plan_file)
    else:
        box, workload, policy = planning_inputs(profile, gpus, 1, None, None, engine, quant, "auto", None, None)
        plan = fitting_plan(resolve_model(model), box, workload, policy)
    with stderr.status("asking the hub which files the plan needs...") as status:
        report = pulling.pull(plan, local_dir=local_dir, verify_hashes=not no_hash,
                              on_step=lambda msg: status.update(msg))
    if format is Format.json:
        emit_json(asdict(report))
        return
    where = "found offline in" if report.offline else "ready in"
    stdout.print(f"{report.repo} ({len(report.files)} files, {report.bytes_total / 1e9:.2f} GB) {where} "
                 f"{report.folder}", highlight=False)
    if report.verified:
        hint(f"verified: {sum('sha256' in v for v in report.verified)} sha256, {len(report.verified)} sizes; "
             f"downloaded {report.bytes_downloaded / 1e9:.2f} GB")
    if report.offline:
        hint("offline: sizes and hashes were not compared with the hub")
