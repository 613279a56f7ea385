"""The `deploykit` command: parse, call the core, print. Errors go through the one table in deploykit.errors."""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback

import click
import typer

from deploykit import __version__

# command -> (module, attribute, kind, one-line help). Only the module of the command being run is imported:
# importing all of them (pydantic, httpx, the docker SDK, the validators...) cost ~0.4 s on every invocation.
# `deploykit --help` lists the commands from the one-line helps here (a test keeps each one the start of its
# command's own docstring).
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "detect": ("deploykit.cli.detect", "detect", "command",
               "Detect GPUs (NVML), Apple Silicon or the CPU, and match each to a hardware profile."),
    "models": ("deploykit.cli.models", "app", "group", "The model catalog: what deploykit knows how to serve."),
    "profiles": ("deploykit.cli.profiles", "app", "group",
                 "Hardware profiles: GPUs, Apple chips and CPU servers deploykit can plan for."),
    "plan": ("deploykit.cli.plan", "plan", "command",
             "Plan a deployment: engine, weight and KV formats, parallelism, context, concurrency"),
    "cost": ("deploykit.cli.cost", "cost", "command",
             "Cost a deployment: USD per million tokens at a stated utilization"),
    "render": ("deploykit.cli.render", "render", "command",
               "Turn a plan into files: vLLM/llama.cpp argv and config, compose, systemd, Kubernetes"),
    "pull": ("deploykit.cli.pull", "pull", "command",
             "Download the plan's weights (the chosen format's safetensors, or its one GGUF)"),
    "up": ("deploykit.cli.up", "up", "command",
           "Launch MODEL, wait until it really answers"),
    "ps": ("deploykit.cli.up", "ps", "command",
           "List the deployments deploykit started, with whether each is really still running."),
    "logs": ("deploykit.cli.up", "logs", "command", "Print a deployment's engine log."),
    "down": ("deploykit.cli.up", "down", "command",
             "Stop a deployment (SIGTERM, then SIGKILL after a grace period) and forget it."),
    "check": ("deploykit.cli.check", "check", "command",
              "Health, model list, a smoke completion with tokens, and time to first token"),
    "bench": ("deploykit.cli.bench", "bench", "command",
              "Benchmark a running OpenAI-compatible endpoint"),
    "doctor": ("deploykit.cli.doctor", "doctor", "command",
               "What a bug report needs: versions, driver and CUDA, the detected box, validators, engines, folders."),
}
COMPLETE_VAR = "_DEPLOYKIT_COMPLETE"


def _version(value: bool) -> None:
    if value:
        print(f"deploykit {__version__}")
        raise typer.Exit()


def _stub(ctx: typer.Context) -> None:
    """Stands in for a command in the listing; never run (main() builds the real one when a command is named)."""


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI with just the ``only`` command (what main() runs when the arguments name one), or, without it, the
    command listing of ``deploykit --help`` (each command a stub carrying its one-line help)."""
    app = typer.Typer(
        name="deploykit", no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
        suggest_commands=False,  # click already says "Did you mean"; both would print it twice
        rich_markup_mode=None, context_settings={"max_content_width": 120},
        help="Plan, render and launch self-hosted open-weight LLMs: what fits here, with which settings, and is it "
             "up.")

    @app.callback()
    def _root(
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
        version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                     help="Print the version."),
    ) -> None:
        """deploykit: self-host open-weight models without the week of OOMs."""

    for name, (module, attr, kind, short) in COMMANDS.items():
        if only is None:
            app.command(name, help=short, short_help=short, add_help_option=False,
                        context_settings={"ignore_unknown_options": True, "allow_extra_args": True})(_stub)
            continue
        if name != only:
            continue
        target = getattr(importlib.import_module(module), attr)
        if kind == "group":
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def command_help(name: str) -> str:
    """The one-line help of a command as its own module states it (its docstring's first sentence or line)."""
    module, attr, kind, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module), attr)
    if kind == "group":
        text = target.info.help or ""
    else:
        text = target.__doc__ or ""
    return " ".join(text.split())


def _command_name(argv: list[str]) -> str | None:
    """The command the arguments name (the first word that is not an option), when it is a known one."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def _completion_words() -> list[str]:
    """The words already typed when the shell asks for completions (bash: COMP_WORDS; zsh, fish, PowerShell:
    _TYPER_COMPLETE_ARGS), without the program name."""
    import shlex

    raw = os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS") or ""
    try:
        words = shlex.split(raw)
    except ValueError:
        words = raw.split()
    return words[1:]


def _closed_pipe() -> None:
    """stdout's reader went away (`deploykit models | head -3`): that is not an error. Point stdout at /dev/null
    so the interpreter's final flush does not complain, and exit 0."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(0)


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
    completing = COMPLETE_VAR in os.environ
    try:
        app = build_app(_command_name(_completion_words() if completing else argv))
        result = app(args=argv, standalone_mode=False, prog_name="deploykit")
        sys.stdout.flush()
    except BrokenPipeError:
        _closed_pipe()
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the one place errors become messages
        from rich.markup import escape

        from deploykit.cli.output import stderr
        from deploykit.errors import describe

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
