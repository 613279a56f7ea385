"""Nothing is exposed without authentication: Ollama (which has no key) is never bound beyond loopback unless the
operator opts out loudly; systemd units bound beyond loopback refuse to start without the key; Kubernetes always
reads the key from a Secret and checks it is non-empty before the engine starts."""

from __future__ import annotations

import os
import shlex
import subprocess

import pytest
import yaml
from render_cases import case_plan
from test_cli import run

from deploykit.errors import UsageError
from deploykit.rendering import context as C
from deploykit.rendering.render import render, resolve_targets


def rendered(case: str, **opts) -> dict[str, str]:
    plan, kind, base = case_plan(case)
    options = C.RenderOptions(**{**base.__dict__, **opts})
    return {f.path: f.content for f in render(plan, resolve_targets(None, plan, kind), options)}


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "::"])
def test_ollama_beyond_loopback_is_refused(host: str) -> None:
    plan, _, _ = case_plan("rtx4090-ollama")
    with pytest.raises(UsageError, match="Ollama has no API key") as err:
        C.build(plan, C.RenderOptions(host=host))
    assert "LiteLLM" in err.value.fix and "--expose-ollama-unauthenticated" in err.value.fix


def test_ollama_opt_out_is_marked_in_every_file() -> None:
    files = rendered("rtx4090-ollama", host="0.0.0.0", expose_ollama_unauthenticated=True)
    for path in ("compose.yaml", "ollama.sh", "ollama.service.d/deploykit-qwen2-5-7b.conf"):
        assert "WITHOUT authentication" in files[path], path


def test_ollama_on_loopback_stays_on_loopback() -> None:
    files = rendered("rtx4090-ollama")
    assert 'OLLAMA_HOST=127.0.0.1:11434' in files["ollama.service.d/deploykit-qwen2-5-7b.conf"]
    assert "WITHOUT authentication" not in "".join(files.values())


def test_cli_refuses_exposed_ollama_and_warns_on_opt_out() -> None:
    r = run("render", "llama-3.1-8b", "-p", "h100-sxm", "--engine", "ollama", "--host", "0.0.0.0", "-t", "systemd")
    assert r.returncode == 2, r.stderr
    assert "Ollama has no API key" in r.stderr and r.stdout == ""
    r = run("render", "llama-3.1-8b", "-p", "h100-sxm", "--engine", "ollama", "--host", "0.0.0.0", "-t", "systemd",
            "--expose-ollama-unauthenticated")
    assert r.returncode == 0, r.stderr
    assert "WITHOUT any authentication" in r.stderr
    assert "OLLAMA_HOST=0.0.0.0:11434" in r.stdout


def _exec_start_pre(unit: str) -> str:
    line = next(x for x in unit.splitlines() if x.startswith("ExecStartPre="))
    # systemd turns $$ into $ before running the command (the key itself never lands in an argv)
    return line.partition("=")[2].replace("$$", "$")


@pytest.mark.parametrize("case, unit, key", [("tp8-vllm-exposed", "llama-3-1-405b.service", "VLLM_API_KEY")])
def test_exposed_unit_needs_the_env_file_and_a_non_empty_key(case: str, unit: str, key: str) -> None:
    text = rendered(case)[unit]
    assert "EnvironmentFile=/etc/deploykit/" in text and "EnvironmentFile=-" not in text
    argv = shlex.split(_exec_start_pre(text))
    assert argv[:2] == ["/bin/sh", "-c"] and "/etc/deploykit/" in argv[2]
    env = {k: v for k, v in os.environ.items() if k != key}
    assert subprocess.run(argv, env=env, capture_output=True).returncode != 0
    assert subprocess.run(argv, env={**env, key: ""}, capture_output=True).returncode != 0
    assert subprocess.run(argv, env={**env, key: "k3y"}, capture_output=True).returncode == 0


def test_llamacpp_unit_exposed_or_with_api_key_is_strict() -> None:
    text = rendered("cpu-llamacpp", host="0.0.0.0")["gemma-3-270m.service"]
    assert "EnvironmentFile=/etc/deploykit/gemma-3-270m.env" in text and "LLAMA_API_KEY" in _exec_start_pre(text)
    loopback = rendered("cpu-llamacpp")["gemma-3-270m.service"]
    assert "EnvironmentFile=-/etc/deploykit/" in loopback and "ExecStartPre" not in loopback


@pytest.mark.parametrize("case", ["single-gpu-vllm", "multi-node-lws"])
def test_kubernetes_always_requires_the_key_from_a_secret(case: str) -> None:
    docs = [d for d in yaml.safe_load_all(rendered(case)["kubernetes.yaml"]) if d]
    workload = next(d for d in docs if d["kind"] in ("Deployment", "LeaderWorkerSet"))
    spec = workload["spec"]["template"]["spec"] if workload["kind"] == "Deployment" else \
        workload["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]
    server = spec["containers"][0]
    key = next(e for e in server["env"] if e["name"] == "VLLM_API_KEY")
    assert key["valueFrom"]["secretKeyRef"]["name"].endswith("-api-key")
    assert not key["valueFrom"]["secretKeyRef"].get("optional")
    init = spec["initContainers"][0]
    script = init["args"][0]
    env = {k: v for k, v in os.environ.items() if k != "VLLM_API_KEY"}
    assert subprocess.run(["/bin/sh", "-c", script], env={**env, "VLLM_API_KEY": ""}).returncode != 0
    assert subprocess.run(["/bin/sh", "-c", script], env={**env, "VLLM_API_KEY": "k"}).returncode == 0


def test_render_warns_when_the_required_key_is_unset_here() -> None:
    r = run("render", "llama-3.1-8b", "-p", "h100-sxm", "--host", "0.0.0.0", "-t", "systemd")
    assert r.returncode == 0
    assert "require VLLM_API_KEY, which is not set here" in r.stderr
