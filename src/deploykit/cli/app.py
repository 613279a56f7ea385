"""The `deploykit` command: parse, call the core, print. Errors go through the one table in deploykit.errors."""

from __future__ import annotations

import importlib
import json
import sys
import traceback

import click
import typer
from rich.markup import escape

from deploykit import __version__
from deploykit.cli.output import stderr
from deploykit.errors import describe

# command -> (module, attribute, kind). Only the module of the command being run is imported: importing all of
# them (httpx, the docker SDK, the validators...) cost ~0.4 s on every invocation.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "detect": ("deploykit.cli.detect", "detect", "command"),
    "models": ("deploykit.cli.models", "app", "group"),
    "profiles": ("deploykit.cli.profiles", "app", "group"),
    "plan": ("deploykit.cli.plan", "plan", "command"),
    "cost": ("deploykit.cli.cost", "cost", "command"),
    "render": ("deploykit.cli.render", "render", "command"),
    "pull": ("deploykit.cli.pull", "pull", "command"),
    "up": ("deploykit.cli.up", "up", "command"),
    "ps": ("deploykit.cli.up", "ps", "command"),
    "logs": ("deploykit.cli.up", "logs", "command"),
    "down": ("deploykit.cli.up", "down", "command"),
    "check": ("deploykit.cli.check", "check", "command"),
    "bench": ("deploykit.cli.bench", "bench", "command"),
}


def _version(value: bool) -> None:
    if value:
        print(f"deploykit {__version__}")
        raise typer.Exit()


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI with every command, or with just ``only`` (what main() runs when the command is named)."""
    app = typer.Typer(
        name="deploykit", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
        help="Plan, render and launch self-hosted open-weight LLMs: what fits here, with which settings, and is it "
             "up.")

    @app.callback()
    def _root(
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                     help="Print the version."),
    ) -> None:
        """deploykit: self-host open-weight models without the week of OOMs."""

    for name, (module, attr, kind) in COMMANDS.items():
        if only is not None and name != only:
            continue
        target = getattr(importlib.import_module(module), attr)
        if kind == "group":
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def _command_name(argv: list[str]) -> str | None:
    """The command the arguments name (the first word that is not an option), when it is a known one."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def _wants_json(argv: list[str]) -> bool:
    return any(a in ("--format=json", "-fjson") for a in argv) or any(
        a in ("--format", "-f") and i + 1 < len(argv) and argv[i + 1] == "json" for i, a in enumerate(argv))


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # answered without building the CLI
        print(f"deploykit {__version__}")
        sys.exit(0)
    debug = "--debug" in argv
    if debug:  # accepted anywhere on the line, not only before the command
        argv = ["--debug", *[a for a in argv if a != "--debug"]]
    try:
        app = build_app(_command_name(argv))
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
