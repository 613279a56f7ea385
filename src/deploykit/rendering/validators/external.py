"""Validators that are programs: systemd-analyze, sh -n, promtool and vLLM's own argument parser (run by the
Python of a vLLM install). Each starts its process at once and is collected with ``Job.result()``, so they run
while the in-process validators work. Each validates every file of its kind in one batched call; only when a batch
fails are the files re-checked one by one to name the culprits."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from deploykit import tools

if TYPE_CHECKING:
    from deploykit.rendering.check import Item, Problem, ValidatorRun

SYSTEMD_FLAGS = ["--man=no", "--generators=no", "--recursive-errors=no"]
# The unit Ollama's Linux installer writes (ollama/ollama scripts/install.sh), which deploykit's drop-ins extend.
OLLAMA_UNIT = """[Unit]
Description=Ollama Service
After=network-online.target

[Service]
ExecStart=/usr/local/bin/ollama serve
User=ollama
Group=ollama
Restart=always
RestartSec=3
Environment="PATH=/usr/local/bin:/usr/bin:/bin"

[Install]
WantedBy=default.target
"""


@dataclass
class Job:
    finish: Callable[[], tuple[ValidatorRun, list[Problem]]]

    def result(self) -> tuple[ValidatorRun, list[Problem]]:
        return self.finish()


def _run(name: str, status: str, detail: str, files: int = 0, seconds: float = 0.0,
         setup_seconds: float = 0.0, parse_seconds: float | None = None) -> ValidatorRun:
    from deploykit.rendering.check import ValidatorRun
    return ValidatorRun(name, status, files, seconds, detail, setup_seconds, parse_seconds)


def _done(run: ValidatorRun, problems: list[Problem] | None = None) -> Job:
    return Job(lambda: (run, problems or []))


def _short_path(path: str) -> str:
    """A path short enough for a table cell at 80 columns: the home folder as ~, and at most its last 4 parts."""
    home = os.path.expanduser("~")
    if home != "/" and (path == home or path.startswith(home + "/")):
        path = "~" + path[len(home):]
    parts = path.split("/")
    return path if len(path) <= 40 or len(parts) <= 5 else ".../" + "/".join(parts[-4:])


def _write_each(items: list[Item], root: Path, suffix: str) -> list[Path]:
    """Each item's content as ROOT/<index><suffix>: the index maps a validator's message back to its file."""
    root.mkdir(parents=True)
    paths = []
    for i, item in enumerate(items):
        path = root / f"{i}{suffix}"
        path.write_text(item.file.content)
        paths.append(path)
    return paths


# --- systemd -------------------------------------------------------------------------------------------------

def systemd(items: list[Item], root: Path, *, require: bool) -> Job:
    name = "systemd-analyze verify"
    if not items:
        return _done(_run(name, "ran", "no units", 0))
    tool = tools.find("systemd-analyze")
    if not tool:
        return _done(_run(name, "missing" if require else "skipped",
                          tools.missing_message("systemd-analyze")))
    unit_dir = root / "etc" / "systemd" / "system"
    unit_dir.mkdir(parents=True)
    names: dict[str, Item] = {}
    for i, item in enumerate(items):
        if item.file.path.endswith(".conf"):  # a drop-in: verify it applied to Ollama's own unit
            unit = f"dk{i}-ollama.service"
            (unit_dir / unit).write_text(OLLAMA_UNIT)
            (unit_dir / f"{unit}.d").mkdir()
            (unit_dir / f"{unit}.d" / Path(item.file.path).name).write_text(item.file.content)
        else:
            unit = f"dk{i}-{Path(item.file.path).name}"
            (unit_dir / unit).write_text(item.file.content)
        names[unit] = item
        for exe in _exec_paths(item.file.content) + ["/usr/local/bin/ollama"]:
            _stub(root, exe)
    started = time.perf_counter()

    def verify(units: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([tool, "verify", *SYSTEMD_FLAGS, f"--root={root}", *units], capture_output=True,
                              text=True)

    def finish() -> tuple[ValidatorRun, list[Problem]]:
        batch = verify(list(names))
        problems: list[Problem] = []
        if batch.returncode != 0 or batch.stderr.strip():
            for unit, item in names.items():  # rare: attribute each message to its file
                one = verify([unit])
                if one.returncode != 0 or one.stderr.strip():
                    problems += [item.problem(name, _clean(line, root)) for line in one.stderr.splitlines()
                                 if line.strip()] or [item.problem(name, f"exit {one.returncode}")]
        detail = ("executables are checked against a scratch root holding the ExecStart paths: the engine is "
                  "installed on the target host, not here")
        return _run(name, "ran", detail, len(items), time.perf_counter() - started), problems

    return Job(finish)


def _exec_paths(unit: str) -> list[str]:
    out = []
    for line in unit.splitlines():
        if line.startswith(("ExecStart=", "ExecStartPre=")):
            words = shlex.split(line.partition("=")[2])
            if words and words[0].startswith("/"):
                out.append(words[0])
    return out


def _stub(root: Path, exe: str) -> None:
    path = root / exe.lstrip("/")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)


def _clean(line: str, root: Path) -> str:
    line = line.replace(str(root), "")
    return re.sub(r"dk\d+-", "", line)


# --- sh -n ---------------------------------------------------------------------------------------------------

def shell_syntax(items: list[Item], root: Path) -> Job:
    """POSIX sh syntax of the rendered scripts (dash, as /bin/sh on Debian)."""
    name = "sh -n (POSIX shell syntax)"
    if not items:
        return _done(_run(name, "ran", "", 0))
    sh = tools.find("sh")
    if not sh:
        return _done(_run(name, "missing", tools.missing_message("sh")))
    paths = _write_each(items, root, ".sh")
    started = time.perf_counter()
    # One shell reads every script with -n (parse, never execute): a syntax error makes it exit non-zero.
    script = "for f do " + sh + " -n \"$f\" || echo \"FAILED $f\"; done"
    proc = subprocess.Popen([sh, "-c", script, "sh", *map(str, paths)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def finish() -> tuple[ValidatorRun, list[Problem]]:
        out, err = proc.communicate()
        problems = []
        failed = set(re.findall(r"FAILED .*/(\d+)\.sh", out))
        for idx in sorted(failed, key=int):
            item = items[int(idx)]
            msgs = [line.replace(str(root), "") for line in err.splitlines() if f"/{idx}.sh" in line]
            problems += [item.problem(name, m) for m in msgs] or [item.problem(name, "syntax error")]
        return _run(name, "ran", "", len(items), time.perf_counter() - started), problems

    return Job(finish)


# --- promtool --------------------------------------------------------------------------------------------------

def promtool(items: list[Item], root: Path, *, require: bool) -> Job:
    name = "promtool check config"
    if not items:
        return _done(_run(name, "ran", "", 0))
    tool = tools.find("promtool")
    if not tool:
        return _done(_run(name, "missing" if require else "skipped",
                          tools.missing_message("promtool")))
    paths = _write_each(items, root, ".yml")
    started = time.perf_counter()
    proc = subprocess.Popen([tool, "check", "config", "--syntax-only", *map(str, paths)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)

    def finish() -> tuple[ValidatorRun, list[Problem]]:
        out, _ = proc.communicate()
        problems = []
        if proc.returncode != 0:
            for line in out.splitlines():
                m = re.search(r"/(\d+)\.yml", line)
                if m and ("FAILED" in line or "error" in line.lower()):
                    problems.append(items[int(m.group(1))].problem(name, line.replace(str(root), "")))
            if not problems:
                problems = [items[0].problem(name, f"promtool exit {proc.returncode}: {out[-500:]}")]
        return _run(name, "ran", "", len(items), time.perf_counter() - started), problems

    return Job(finish)


# --- vLLM's own argument parser -------------------------------------------------------------------------------

def find_vllm_python(explicit: Path | None) -> str | None:
    """The interpreter of a vLLM install: --vllm-python / DEPLOYKIT_VLLM_PYTHON, else the one behind `vllm` on
    PATH (its console script's shebang)."""
    return str(explicit) if explicit else tools.find("vllm-python")


@dataclass
class VllmParserProcess:
    """vLLM's parser process, started early: it imports vLLM (~10 s) and builds the parser before reading its
    request, so the import overlaps with whatever the caller does meanwhile."""

    interpreter: str
    proc: subprocess.Popen
    started: float

    @classmethod
    def start(cls, python: Path | None) -> VllmParserProcess | str:
        """The running process, or why none could start."""
        interpreter = find_vllm_python(python)
        if not interpreter:
            return ("no vLLM install found: pass --vllm-python PATH or set DEPLOYKIT_VLLM_PYTHON "
                    "(scripts/engines/vllm_cpu.sh makes one)")
        script = Path(__file__).resolve().parent.parent / "vllm_argcheck.py"
        try:
            proc = subprocess.Popen([interpreter, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True,
                                    env={**os.environ, "VLLM_LOGGING_LEVEL": "ERROR"})
        except OSError as exc:
            return f"cannot run {interpreter}: {exc}"
        return cls(interpreter, proc, time.perf_counter())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def vllm_parser(argvs: list[tuple[Item, list[str], str | None]], root: Path, python: Path | None, *,
                require: bool, started: VllmParserProcess | None = None) -> Job:
    name = "vLLM argument parser"
    if not argvs:
        if started:
            started.close()
        return _done(_run(name, "ran", "no vLLM command lines", 0))
    parser = started or VllmParserProcess.start(python)
    if isinstance(parser, str):
        return _done(_run(name, "missing" if require else "skipped", parser))
    root.mkdir(parents=True)
    request = []
    for i, (_, argv, config) in enumerate(argvs):
        cwd = None
        if config is not None:  # the --config YAML is read by vLLM itself, relative to the working directory
            cwd = root / str(i)
            cwd.mkdir()
            (cwd / "vllm-config.yaml").write_text(config)
        request.append({"id": str(i), "argv": argv, "cwd": str(cwd) if cwd else None})
    payload = json.dumps({"items": request})

    def finish() -> tuple[ValidatorRun, list[Problem]]:
        out, err = parser.proc.communicate(payload)
        seconds = time.perf_counter() - parser.started
        try:
            answer = json.loads(out)
        except json.JSONDecodeError:
            return _run(name, "missing", f"{parser.interpreter} could not run the parser check (exit "
                        f"{parser.proc.returncode}): {err.strip()[-400:]}", 0, seconds), []
        problems = [argvs[int(r["id"])][0].problem(name, r["error"]) for r in answer["results"] if not r["ok"]]
        # Rendered command lines should parse without a single warning: a deprecated flag parses today and breaks
        # on a later upgrade, an abbreviation or a dropped YAML key means the file says something vLLM won't do.
        problems += [argvs[int(r["id"])][0].problem(name, f"warning: {w}") for r in answer["results"]
                     for w in r.get("warnings", [])]
        timing = answer.get("timing_s", {})
        setup, parse = float(timing.get("build_parser", 0.0)), float(timing.get("parse_items", 0.0))
        return _run(name, "ran", f"vLLM {answer['vllm_version']} at {_short_path(parser.interpreter)}; import + parser build "
                    f"{setup:.1f} s, parsing {parse:.1f} s", len(argvs), seconds, setup, parse), problems

    return Job(finish)
