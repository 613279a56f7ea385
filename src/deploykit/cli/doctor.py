"""`deploykit doctor`: what a bug report needs, found the same way the commands find each thing."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys

import typer

from deploykit import __version__
from deploykit.cli.output import Format, emit_json, stdout, table


def _package(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _ask(python: str, code: str) -> str | None:
    """A one-line answer from another interpreter (an engine's venv), or None when it cannot say."""
    try:
        r = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else None


def _engines() -> list[dict]:
    from deploykit import tools
    from deploykit.errors import DeploykitError
    from deploykit.runtime import engines

    out = []
    try:
        py = engines.vllm_python(None)
        out.append({"name": "vllm", "where": py,
                    "version": _ask(py, "import importlib.metadata as m; print(m.version('vllm'))"),
                    "found_by": "DEPLOYKIT_VLLM_PYTHON or vllm on PATH"})
    except DeploykitError as exc:
        out.append({"name": "vllm", "where": None, "version": None, "found_by": exc.message})
    server = tools.find("llama-server")
    llama_py = tools.find("llamacpp-python")
    if server:
        out.append({"name": "llama.cpp (llama-server)", "where": server, "version": _ask_binary(server),
                    "found_by": "DEPLOYKIT_LLAMA_SERVER or llama-server on PATH"})
    elif llama_py:
        out.append({"name": "llama.cpp (llama-cpp-python)", "where": llama_py,
                    "version": _ask(llama_py, "import llama_cpp; print(llama_cpp.__version__)"),
                    "found_by": "DEPLOYKIT_LLAMACPP_PYTHON"})
    else:
        out.append({"name": "llama.cpp", "where": None, "version": None,
                    "found_by": "no llama-server on PATH, DEPLOYKIT_LLAMA_SERVER or DEPLOYKIT_LLAMACPP_PYTHON"})
    ollama = tools.find("ollama")
    from deploykit.runtime.ollama import server_url
    out.append({"name": "ollama", "where": ollama, "version": _ask_binary(ollama, "--version") if ollama else None,
                "found_by": f"ollama on PATH; server expected at {server_url(None)} (OLLAMA_HOST)"})
    docker_sock = os.environ.get("DOCKER_HOST") or ("/var/run/docker.sock" if os.path.exists("/var/run/docker.sock")
                                                    else None)
    out.append({"name": "docker", "where": docker_sock, "version": _package("docker"),
                "found_by": "DOCKER_HOST or /var/run/docker.sock (version: the docker SDK)"})
    return out


def _ask_binary(path: str, flag: str = "--version") -> str | None:
    try:
        r = subprocess.run([path, flag], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (r.stdout or r.stderr).strip().splitlines()
    return text[-1][:80] if text else None


def _validators() -> list[dict]:
    from deploykit import tools

    rows = []
    for pkg, what in (("check-jsonschema", "compose schema"), ("kubernetes-validate", "Kubernetes schemas")):
        version = _package(pkg)
        rows.append({"name": pkg, "checks": what, "where": "python package" if version else None,
                     "version": version})
    for tool, what in (("systemd-analyze", "systemd units"), ("promtool", "Prometheus config")):
        rows.append({"name": tool, "checks": what, "where": tools.find(tool), "version": None})
    vllm = tools.find("vllm-python")
    rows.append({"name": "vLLM argument parser", "checks": "vLLM flags", "where": vllm, "version": None})
    return rows


def report() -> dict:
    from deploykit.catalog.loader import load_profiles
    from deploykit.hardware import inventory
    from deploykit.paths import cache_dir, data_dir
    from deploykit.runtime import state

    inv = inventory.detect(load_profiles())
    nvidia = inv.nvidia
    return {
        "deploykit": __version__,
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "platform": platform.platform(),
        "packages": {p: _package(p) for p in ("typer", "click", "rich", "pydantic", "jinja2", "httpx",
                                              "huggingface-hub", "nvidia-ml-py", "docker", "PyYAML")},
        "nvidia": {"driver": nvidia.driver_version if nvidia else None,
                   "cuda": nvidia.cuda_driver_version if nvidia else None,
                   "gpus": [g.name for g in nvidia.gpus] if nvidia else []},
        "box": {"kind": inv.kind, "profile": inv.profile, "nearest_profile": inv.nearest_profile,
                "notes": list(inv.notes)},
        "engines": _engines(),
        "validators": _validators(),
        "folders": {"state": str(state.state_dir()), "logs": str(state.logs_dir()), "cache": str(cache_dir()),
                    "data": str(data_dir("model_catalog").parent),
                    "hf_home": os.environ.get("HF_HOME") or os.path.expanduser("~/.cache/huggingface")},
    }


def doctor(format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for a bug "
                                                                             "report.")) -> None:
    """What a bug report needs: versions, driver and CUDA, the detected box, validators, engines, folders. Paste
    its output (or --format json) into the issue."""
    r = report()
    if format is Format.json:
        emit_json(r)
        return
    n = r["nvidia"]
    rows = [["deploykit", r["deploykit"]], ["python", f"{r['python']['version']} ({r['python']['executable']})"],
            ["platform", r["platform"]],
            ["NVIDIA driver / CUDA", f"{n['driver']} / {n['cuda']}" if n["driver"] else "no NVML (no NVIDIA driver)"],
            ["GPUs", ", ".join(n["gpus"]) or "none"],
            ["detected box", f"{r['box']['kind']}, profile {r['box']['profile'] or 'none'}"
             + (f" (nearest {r['box']['nearest_profile']})" if r["box"]["nearest_profile"] else "")]]
    rows += [[name, version or "not installed"] for name, version in r["packages"].items()]
    stdout.print(table("deploykit doctor", ["", "value"], rows))
    stdout.print(table("engines", ["engine", "where", "version", "found by"],
                       [[e["name"], e["where"] or "not found", e["version"] or "", e["found_by"]]
                        for e in r["engines"]]))
    stdout.print(table("validators (render --check)", ["validator", "checks", "where", "version"],
                       [[v["name"], v["checks"], v["where"] or "not found", v["version"] or ""]
                        for v in r["validators"]]))
    stdout.print(table("folders", ["", "path"], [[k, v] for k, v in r["folders"].items()]))
    for note in r["box"]["notes"]:
        stdout.print(f"note: {note}", highlight=False)
