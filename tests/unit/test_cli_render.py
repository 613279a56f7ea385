"""`deploykit render` run for real as a subprocess: files, refusals, dry runs, plan files and the check report."""

from __future__ import annotations

import shlex

import yaml
from test_cli import REPO, run, run_json


def test_render_writes_every_applicable_target(tmp_path) -> None:
    out = tmp_path / "deploy"
    data, _ = run_json("render", "llama-3.1-8b", "-p", "h100-sxm", "-o", str(out))
    names = sorted(p.name for p in out.iterdir())
    assert names == ["compose.yaml", "kubernetes.yaml", "litellm-config.yaml", "llama-3-1-8b.service",
                     "prometheus.yml", "serve.sh", "vllm-config.yaml"]
    assert sorted(data["written"]) == sorted(str(out / n) for n in names)
    r = run("render", "llama-3.1-8b", "-p", "h100-sxm", "-o", str(out))
    assert r.returncode == 2 and "--force" in r.stderr
    assert run("render", "llama-3.1-8b", "-p", "h100-sxm", "-o", str(out), "--force").returncode == 0


def test_render_prints_one_target_to_stdout() -> None:
    r = run("render", "gemma-3-270m", "-p", "cpu-server", "-t", "compose")
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(r.stdout)
    assert doc["services"]["gemma-3-270m"]["image"].startswith("ghcr.io/ggml-org/llama.cpp:server")


def test_dry_run_prints_the_argv_and_writes_nothing(tmp_path) -> None:
    r = run("render", "llama-3.1-8b", "-p", "h100-sxm", "--gpus", "2", "-o", str(tmp_path / "x"), "--dry-run")
    assert r.returncode == 0, r.stderr
    argv = shlex.split(r.stdout)
    assert argv[:3] == ["vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct"]
    assert "--data-parallel-size" in argv and argv[argv.index("--host") + 1] == "127.0.0.1"
    assert "would write" in r.stderr and not (tmp_path / "x").exists()


def test_render_from_a_plan_lock(tmp_path) -> None:
    lock = tmp_path / "plan.yaml"
    assert run("plan", "qwen2.5-7b", "-p", "l40s", "-o", str(lock)).returncode == 0
    data, _ = run_json("render", "--plan", str(lock), "-t", "command")
    config = next(f for f in data["files"] if f["path"] == "vllm-config.yaml")
    assert yaml.safe_load(config["content"])["served-model-name"] == "qwen2.5-7b"
    r = run("render", "--plan", str(lock), "--context", "4096")
    assert r.returncode == 2 and "already holds" in r.stderr


def test_render_errors_name_the_fix() -> None:
    r = run("render", "llama-3.1-8b", "-p", "h100-sxm", "-t", "kubernets")
    assert r.returncode == 2 and "kubernetes" in r.stderr
    r = run("render", "gemma-3-4b", "-p", "m3-max", "-t", "compose")
    assert r.returncode == 2 and "apple" in r.stderr
    r = run("render", "llama-3.1-405b", "-p", "l40s", "--engine", "vllm")
    assert r.returncode == 3 and "does not fit" in r.stderr
    assert run("render").returncode == 2
    r = run("render", "llama-3.1-8b", "-p", "h100-sxm", "--fallback", "gpt-4")
    assert r.returncode == 2 and "provider/model" in r.stderr


def test_render_check_one_model_reports_json() -> None:
    data, _ = run_json("render", "gemma-3-270m", "-p", "cpu-server", "--check")
    assert data["check"]["ok"] is True
    assert data["check"]["files_checked"] == len(data["files"])


def test_render_all_check_on_a_slice() -> None:
    data, _ = run_json("render", "--all", "--check", "--models", "llama-3.1-8b,gemma-3-270m",
                       "--profiles", "h100-sxm,m3-max,cpu-server,rtx-4090")
    # 2 models x 4 profiles: every pair renders (llama-3.1-8b has GGUF files for llama.cpp on cpu-server)
    assert data["cases"] == 8 and data["check"]["ok"] is True
    assert {v["name"].split(" (")[0] for v in data["check"]["validators"]} >= {"compose-spec", "kubernetes-validate"}


def test_packaged_templates_exist() -> None:
    assert (REPO / "templates" / "vllm" / "compose.yaml.j2").is_file()
