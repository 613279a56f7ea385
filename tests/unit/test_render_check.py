"""``render --check``: the golden files pass every validator, and each validator catches the mistake it exists
for (a check that cannot fail proves nothing)."""

from __future__ import annotations

import pytest
from needs import need_tool
from render_cases import CASES, case_plan

from deploykit.rendering import check as K
from deploykit.rendering.render import RenderedFile, render, resolve_targets


def rendered(case: str) -> K.Rendered:
    plan, kind, opts = case_plan(case)
    return K.Rendered(case, plan.model["name"], plan.hardware["profile"], plan.engine,
                      render(plan, resolve_targets(None, plan, kind), opts))


def broken(case: str, path: str, old: str, new: str) -> K.Rendered:
    r = rendered(case)
    files = []
    for f in r.files:
        if f.path == path:
            assert old in f.content, f"{old!r} not in {path}"
            f = RenderedFile(f.target, f.path, f.content.replace(old, new, 1))
        files.append(f)
    return K.Rendered(r.label, r.model, r.profile, r.engine, files)


def problems(r: K.Rendered) -> list[K.Problem]:
    return K.check([r], require_all=False).problems


def test_golden_cases_pass_every_validator_that_is_here() -> None:
    report = K.check([rendered(c) for c in sorted(CASES)])
    assert report.problems == []
    ran = {v.name.split(" (")[0] for v in report.validators if v.status == "ran"}
    assert {"compose-spec", "kubernetes-validate", "LeaderWorkerSet CRD schema", "modelfile", "litellm config",
            "sh -n"} <= ran


@pytest.mark.parametrize(("case", "path", "old", "new", "validator", "needle"), [
    ("single-gpu-vllm", "compose.yaml", "    healthcheck:", "    healtcheck:", "compose-spec", "healtcheck"),
    ("single-gpu-vllm", "compose.yaml", "count: 1", "cnt: 1", "compose-spec", "cnt"),
    ("single-gpu-vllm", "kubernetes.yaml", "          resources:", "          resoures:", "kubernetes-validate",
     "resoures"),
    ("single-gpu-vllm", "kubernetes.yaml", "failureThreshold: 3", "failureThreshold: three", "kubernetes-validate",
     "three"),
    ("multi-node-lws", "kubernetes.yaml", "RecreateGroupOnPodRestart", "Sometimes", "LeaderWorkerSet", "Sometimes"),
    ("multi-node-lws", "kubernetes.yaml", "    size: 2", "    sizee: 2", "LeaderWorkerSet", "sizee"),
    ("rtx4090-ollama", "Modelfile", "PARAMETER num_ctx", "PARAMETER num_context", "modelfile", "num_context"),
    ("rtx4090-ollama", "Modelfile", "FROM ", "FRM ", "modelfile", "FRM"),
    ("apple-ollama", "litellm-config.yaml", '"os.environ/ANTHROPIC_API_KEY"', '"sk-ant-123"', "litellm",
     "literal secret"),
    ("apple-ollama", "litellm-config.yaml", '["claude-haiku-4"]', '["claude-haiku-5"]', "litellm", "claude-haiku-5"),
    ("cpu-llamacpp", "serve.sh", "set -eu", "if then", "sh -n", "syntax"),
])
def test_validator_catches(case, path, old, new, validator, needle) -> None:
    found = [p for p in problems(broken(case, path, old, new)) if p.validator.startswith(validator)]
    assert found, f"{validator} accepted a broken {path}"
    assert any(needle in p.message for p in found) or needle == "syntax", [p.message for p in found]
    assert all(p.file.endswith(path) and p.model for p in found)


@pytest.mark.parametrize(("path", "old", "new", "needle"), [
    ("gemma-3-270m.service", "Restart=on-failure", "Restrat=on-failure", "Restrat"),
    ("gemma-3-270m.service", "Restart=on-failure", "Restart=sometimes", "sometimes"),
])
def test_systemd_analyze_catches(path, old, new, needle) -> None:
    need_tool("systemd-analyze")
    found = [p for p in problems(broken("cpu-llamacpp", path, old, new)) if p.validator.startswith("systemd")]
    assert any(needle in p.message for p in found), found


def test_systemd_drop_in_is_checked_against_ollamas_unit() -> None:
    need_tool("systemd-analyze")
    r = broken("rtx4090-ollama", "ollama.service.d/deploykit-qwen2-5-7b.conf", "Environment=", "Enviroment=")
    found = [p for p in problems(r) if p.validator.startswith("systemd")]
    assert any("Enviroment" in p.message for p in found), found


def test_promtool_catches_a_bad_interval() -> None:
    need_tool("promtool")
    found = [p for p in problems(broken("cpu-llamacpp", "prometheus.yml", "scrape_interval: 15s",
                                        "scrape_interval: 15")) if p.validator.startswith("promtool")]
    assert found and "duration" in found[0].message


def test_missing_required_validator_fails_the_report(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    for var in ("DEPLOYKIT_VLLM_PYTHON", "DEPLOYKIT_PROMTOOL", "DEPLOYKIT_SYSTEMD_ANALYZE"):
        monkeypatch.delenv(var, raising=False)
    report = K.check([rendered("single-gpu-vllm")], require_all=True)
    missing = {v.name for v in report.validators if v.status == "missing"}
    assert "vLLM argument parser" in missing and "promtool check config" in missing
    assert report.failed
    lenient = K.check([rendered("single-gpu-vllm")])
    assert {v.status for v in lenient.validators if v.name == "vLLM argument parser"} == {"skipped"}


@pytest.mark.engine
def test_vllm_parser_accepts_every_rendered_vllm_command_and_rejects_renamed_flags() -> None:
    python = need_tool("vllm-python")
    good = K.check([rendered("single-gpu-vllm"), rendered("tp8-vllm-exposed"), rendered("multi-node-lws")],
                   vllm_python=python, require_vllm=True)
    run = next(v for v in good.validators if v.name == "vLLM argument parser")
    assert run.status == "ran" and run.files == 4 + 4 + 1, run  # serve.sh, config, compose, k8s; LWS leader
    assert good.problems == []
    bad = K.check([broken("single-gpu-vllm", "serve.sh", "--max-model-len", "--max-model-length"),
                   broken("tp8-vllm-exposed", "vllm-config.yaml", "max-num-seqs:", "max-num-sequences:"),
                   broken("multi-node-lws", "kubernetes.yaml", "--pipeline-parallel-size 2",
                          "--pipeline-parallel-size two")], vllm_python=python, require_vllm=True)
    messages = {p.file.split("/", 1)[1]: p.message for p in bad.problems if p.validator == "vLLM argument parser"}
    assert "--max-model-length" in messages["serve.sh"]
    assert "max" in messages["vllm-config.yaml"] and "sequences" in messages["vllm-config.yaml"]
    assert "two" in messages["kubernetes.yaml"]
