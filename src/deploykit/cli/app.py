"""The `deploykit` command: parse, call the core, print. Errors go through the one table in deploykit.errors."""

from __future__ import annotations

import json
import sys
import traceback

import click
import typer
from rich.markup import escape

from deploykit import __version__
from deploykit.cli import bench as bench_cmd
from deploykit.cli import check as check_cmd
from deploykit.cli import cost as cost_cmd
from deploykit.cli import detect as detect_cmd
from deploykit.cli import models as models_cmd
from deploykit.cli import plan as plan_cmd
from deploykit.cli import profiles as profiles_cmd
from deploykit.cli import pull as pull_cmd
from deploykit.cli import render as render_cmd
from deploykit.cli import up as up_cmd
from deploykit.cli.output import stderr
from deploykit.errors import describe

app = typer.Typer(
    name="deploykit", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Plan, render and launch self-hosted open-weight LLMs: what fits here, with which settings, and is it up.")


def _version(value: bool) -> None:
    if value:
        print(f"deploykit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """deploykit: self-host open-weight models without the week of OOMs."""


app.command("detect")(detect_cmd.detect)
app.add_typer(models_cmd.app, name="models")
app.add_typer(profiles_cmd.app, name="profiles")
app.command("plan")(plan_cmd.plan)
app.command("cost")(cost_cmd.cost)
app.command("render")(render_cmd.render)
app.command("up")(up_cmd.up)
app.command("ps")(up_cmd.ps)
app.command("logs")(up_cmd.logs)
app.command("down")(up_cmd.down)
app.command("check")(check_cmd.check)
app.command("bench")(bench_cmd.bench)
app.command("pull")(pull_cmd.pull)


def _wants_json(argv: list[str]) -> bool:
    return any(a in ("--format=json", "-fjson") for a in argv) or any(
        a in ("--format", "-f") and i + 1 < len(argv) and argv[i + 1] == "json" for i, a in enumerate(argv))


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if debug:  # accepted anywhere on the line, not only before the command
        argv = ["--debug", *[a for a in argv if a != "--debug"]]
    try:
        result = app(args=argv, standalone_mode=False, prog_name="deploykit")
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        stderr.print("interrupted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the one place errors become messages
        if debug:
            traceback.print_exc()
        info = describe(exc)
        if _wants_json(argv):
            sys.stderr.write(json.dumps(info) + "\n")
        else:
            stderr.print(f"[bold red]error:[/bold red] {escape(str(info['message']))}", highlight=False)
            if info["did_you_mean"]:
                stderr.print(f"  did you mean: {escape(', '.join(info['did_you_mean']))}?", highlight=False)
            if info.get("log_tail"):
                stderr.print("  engine log (last lines):", highlight=False)
                for line in info["log_tail"]:
                    stderr.print(f"    {escape(str(line))}", highlight=False)
            if info["fix"]:
                stderr.print(f"  fix: {escape(str(info['fix']))}", highlight=False)
            if not debug and info["exit_code"] == 70:
                stderr.print("  (run with --debug for the traceback)", highlight=False)
        sys.exit(int(info["exit_code"]))
    # click returns the code of a typer.Exit instead of raising it when standalone_mode is off.
    sys.exit(result if isinstance(result, int) else 0)
