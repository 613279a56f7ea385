"""`deploykit check URL`: a one-shot verdict on any OpenAI-compatible endpoint (ours or not); usable as a container
health check or a CI step: exit 0 healthy, 1 unhealthy."""

from __future__ import annotations

from dataclasses import asdict

import typer

from deploykit import validation
from deploykit.cli.output import Format, emit_json, stdout, table
from deploykit.errors import UsageError
from deploykit.runtime.health import check_endpoint


def check(
    url: str = typer.Argument(..., help="Base URL, e.g. http://127.0.0.1:8000/v1 (the /v1 is added if missing)."),
    api_key: str = typer.Option(None, "--api-key", envvar="DEPLOYKIT_API_KEY", show_default=False,
                                help="Bearer key (or DEPLOYKIT_API_KEY)."),
    model: str = typer.Option(None, "--model", help="Model to test (default: the first one listed)."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds the whole check may take (a deadline, not a "
                                                          "per-read limit)."),
    format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for scripts."),
) -> None:
    """Health, model list, a smoke completion with tokens, and time to first token."""
    timeout = validation.seconds("--timeout", timeout)
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"'{validation.redact_url(url)}' is not an http(s) URL",
                         fix="e.g. deploykit check http://127.0.0.1:8000/v1")
    validation.http_url("URL", url)
    v = check_endpoint(url, api_key=api_key, model=model, timeout_s=timeout)
    if format is Format.json:
        emit_json(asdict(v))
    else:
        verdict = "[bold green]healthy[/bold green]" if v.healthy else "[bold red]unhealthy[/bold red]"
        stdout.print(f"{v.url}: {verdict}")
        rows = [["/health", v.health], ["models", ", ".join(v.models) or "-"], ["tested", v.model or "-"],
                ["smoke completion", f"{v.completion_tokens} tokens"],
                ["time to first token", f"{v.ttft_ms:.0f} ms" if v.ttft_ms is not None else "-"],
                ["completion (8 tokens max)", f"{v.e2e_ms:.0f} ms" if v.e2e_ms is not None else "-"]]
        stdout.print(table("check", ["", ""], rows))
        for p in v.problems:
            stdout.print(f"  [red]problem:[/red] {p}", highlight=False)
    if not v.healthy:
        raise typer.Exit(1)
