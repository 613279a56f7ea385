"""`deploykit check URL`: a one-shot verdict on any OpenAI-compatible endpoint (ours or not); usable as a container
health check or a CI step: exit 0 healthy, 1 unhealthy."""

from __future__ import annotations

from dataclasses import asdict
from enum import Enum
from pathlib import Path

import typer

from deploykit import validation
from deploykit.cli.output import Format, emit_json, stdout, table
from deploykit.errors import UsageError
from deploykit.runtime.health import check_endpoint


class Task(str, Enum):
    auto = "auto"
    generate = "generate"
    embed = "embed"


def check(
    url: str = typer.Argument(..., help="Base URL, e.g. http://127.0.0.1:8000/v1 (the /v1 is added if missing)."),
    api_key: str = typer.Option(None, "--api-key", envvar="DEPLOYKIT_API_KEY", show_default=False,
                                help="Bearer key (or DEPLOYKIT_API_KEY)."),
    model: str = typer.Option(None, "--model", help="Model to test (default: the first one listed)."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds the whole check may take (a deadline, not a "
                                                          "per-read limit)."),
    task: Task = typer.Option(Task.auto, "--task",
                              help="generate (a smoke completion and time to first token), embed (an embedding "
                                   "model: one /v1/embeddings request, its vector dimension and latency), or auto: "
                                   "the --plan's task, else embed when completions are refused and /v1/embeddings "
                                   "answers."),
    plan_file: Path = typer.Option(None, "--plan", exists=True, dir_okay=False,
                                   help="A plan lock (deploykit plan -o): its task (generate or embed) decides what "
                                        "to test."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for scripts."),
) -> None:
    """Health, model list, a smoke completion with tokens, and time to first token (an embedding model: one
    /v1/embeddings request, its vector dimension and latency)."""
    timeout = validation.seconds("--timeout", timeout)
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"'{validation.redact_url(url)}' is not an http(s) URL",
                         fix="e.g. deploykit check http://127.0.0.1:8000/v1")
    validation.http_url("URL", url)
    chosen, source = (None, "probe") if task is Task.auto else (task.value, "flag")
    if plan_file is not None:
        from deploykit.planning.lockfile import read_lock

        _, plan = read_lock(plan_file)
        if chosen is not None and chosen != plan.task:
            raise UsageError(f"--task {chosen} contradicts {plan_file}, which plans task {plan.task}",
                             fix="drop --task (the plan decides) or drop --plan")
        chosen, source = plan.task, "plan"
    v = check_endpoint(url, api_key=api_key, model=model, timeout_s=timeout, task=chosen, task_source=source)
    if format is Format.json:
        emit_json(asdict(v))
    else:
        verdict = "[bold green]healthy[/bold green]" if v.healthy else "[bold red]unhealthy[/bold red]"
        stdout.print(f"{v.url}: {verdict}")
        rows = [["/health", v.health], ["models", ", ".join(v.models) or "-"], ["tested", v.model or "-"],
                ["smoke completion", f"{v.completion_tokens} tokens"],
                ["time to first token", f"{v.ttft_ms:.0f} ms" if v.ttft_ms is not None else "-"],
                ["completion (8 tokens max)", f"{v.e2e_ms:.0f} ms" if v.e2e_ms is not None else "-"]]
        if v.task == "embed":
            rows[3:] = [["task", f"embed ({v.task_source})"],
                        ["embedding dimension", str(v.embedding_dim) if v.embedding_dim else "-"],
                        ["/v1/embeddings latency", f"{v.e2e_ms:.0f} ms" if v.e2e_ms is not None else "-"]]
        stdout.print(table("check", ["", ""], rows))
        for p in v.problems:
            stdout.print(f"  [red]problem:[/red] {p}", highlight=False)
    if not v.healthy:
        raise typer.Exit(1)
