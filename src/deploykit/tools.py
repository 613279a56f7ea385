"""Where deploykit finds the external programs it runs: one lookup, used by the product and by its tests alike.

Each program is looked up by its environment variable first (what `scripts/test.sh` exports for what it installs
in its cache, and what a user sets for an install of their own), then by its names on PATH. A variable that is set
wins even when it names a file that is not there: the caller then reports that path, rather than silently running
some other copy found on PATH.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tool:
    key: str
    env_var: str
    programs: tuple[str, ...]   # names looked up on PATH, in order; empty: only the variable names it
    install: str               # where it comes from, for messages


TOOLS: dict[str, Tool] = {t.key: t for t in (
    Tool("promtool", "DEPLOYKIT_PROMTOOL", ("promtool",),
         "Debian package prometheus (scripts/engines/validators.sh extracts promtool into its cache)"),
    Tool("systemd-analyze", "DEPLOYKIT_SYSTEMD_ANALYZE", ("systemd-analyze",), "Debian package systemd"),
    Tool("sh", "DEPLOYKIT_SH", ("dash", "sh"), "a POSIX shell (Debian's dash)"),
    # vLLM: the interpreter of its venv; on PATH, the python behind a `vllm` console script.
    Tool("vllm-python", "DEPLOYKIT_VLLM_PYTHON", ("vllm",),
         "vLLM in a virtual environment (scripts/engines/vllm_cpu.sh builds the CPU one)"),
    Tool("llama-server", "DEPLOYKIT_LLAMA_SERVER", ("llama-server",), "llama.cpp's llama-server"),
    Tool("ollama", "DEPLOYKIT_OLLAMA", ("ollama",), "Ollama (ollama.com/download)"),
    Tool("llamacpp-python", "DEPLOYKIT_LLAMACPP_PYTHON", (),
         "llama-cpp-python[server] in a virtual environment (scripts/engines/llamacpp.sh builds one)"),
)}


def find(key: str) -> str | None:
    """The path of tool KEY (a key of TOOLS): its environment variable when set, else the first of its programs on
    PATH; None when neither names one. For `vllm-python` a `vllm` script found either way is turned into the
    interpreter its shebang names."""
    tool = TOOLS[key]
    path = os.environ.get(tool.env_var) or next(filter(None, map(shutil.which, tool.programs)), None)
    if path and key == "vllm-python" and not Path(path).name.startswith("python"):
        return python_of_script(path)
    return path


def missing_message(key: str) -> str:
    """Why tool KEY was not found and how to provide it."""
    tool = TOOLS[key]
    on_path = f" or {'/'.join(tool.programs)} on PATH" if tool.programs else ""
    set_to = os.environ.get(tool.env_var)
    if set_to:
        return f"{tool.env_var}={set_to} does not name a program that runs; install {tool.install}"
    return f"{key} not found (no {tool.env_var}{on_path}); install {tool.install}"


def python_of_script(script: str) -> str | None:
    """The interpreter named by a console script's shebang (how a venv's `vllm` script points at its python)."""
    try:
        first = Path(script).read_text(errors="replace").splitlines()[:1]
    except (OSError, ValueError):
        return None
    if first and first[0].startswith("#!") and "python" in first[0]:
        return first[0][2:].strip().split()[0]
    return None
