"""Rendering: quoting holds against hostile names, files are written all-or-nothing, targets refuse plans they
cannot serve, and the StrictUndefined environment fails on a missing variable."""

from __future__ import annotations

import re
import shlex

import jinja2
import pytest
import yaml
from render_cases import case_plan

from deploykit.errors import DataError, OutputExistsError, UsageError
from deploykit.rendering import context as C
from deploykit.rendering.render import environment, render, resolve_targets, write_files
from deploykit.rendering.targets import TARGETS
from deploykit.rendering.validators import modelfile

EVIL = "x\"; rm -rf / #\n$(id) `id` 'q' %h ${HOME} $$(LWS)"


def evil_plan(case: str):
    plan, kind, opts = case_plan(case)
    return plan.model_copy(update={"model": {**plan.model, "name": EVIL}}), kind, opts


def files_of(case: str) -> tuple[dict[str, str], dict]:
    plan, kind, opts = evil_plan(case)
    ctx = C.build(plan, opts)
    return {f.path: f.content for f in render(plan, resolve_targets(None, plan, kind), opts, ctx)}, ctx


def exec_argv(script: str) -> list[str]:
    start = script.index("\nexec ") + 1  # the exec is the script's last command; a quoted newline may span lines
    return shlex.split(script[start:])[1:]


def systemd_exec(unit: str) -> list[str]:
    value = next(line for line in unit.splitlines() if line.startswith("ExecStart=")).partition("=")[2]
    value = value.replace("\\n", "\n")
    return [w.replace("$$", "$").replace("%%", "%") for w in shlex.split(value)]


@pytest.mark.parametrize("case", ["single-gpu-vllm", "cpu-llamacpp"])
def test_hostile_model_name_survives_every_syntax(case: str) -> None:
    files, ctx = files_of(case)
    assert exec_argv(files["serve.sh"]) == ctx["argv"]
    compose = yaml.safe_load(files["compose.yaml"])
    (service,) = compose["services"].values()
    assert [a.replace("$$", "$") for a in service["command"]] == ctx["container_args"]
    unit = next(text for path, text in files.items() if path.endswith(".service"))
    assert systemd_exec(unit)[1:] == ctx["argv"][1:]
    assert "\n$(id)" not in unit and all(not line.startswith("$(id)") for line in unit.splitlines())
    litellm = yaml.safe_load(files["litellm-config.yaml"])
    assert litellm["model_list"][0]["model_name"] == EVIL
    for path, text in files.items():  # outside shell quotes (checked by round trip), a newline never gets through
        if not path.endswith(".sh"):
            assert not any(line.startswith(("$(id)", "rm -rf")) for line in text.splitlines()), path
    if "kubernetes.yaml" in files:
        deployment = [d for d in yaml.safe_load_all(files["kubernetes.yaml"]) if d["kind"] == "Deployment"][0]
        command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
        assert [c.replace("$$(", "$(") for c in command] == ctx["pod_args"]
        assert any("$$(LWS)" in c for c in command), "Kubernetes would expand $(LWS) unless escaped as $$(LWS)"


def test_hostile_name_in_ollama_files() -> None:
    files, ctx = files_of("rtx4090-ollama")
    assert ctx["ollama_model"] == ctx["name"], "an unsafe served name falls back to the DNS-label name"
    assert re.fullmatch(r"[a-z][a-z0-9-]*", ctx["name"])
    assert modelfile.check(files["Modelfile"]) == []
    ((_, created),) = [(w, a) for w, a in modelfile.parse(files["Modelfile"]) if w == "from"]
    assert created == ctx["tag"]


def test_systemd_environment_escapes_percent() -> None:
    from deploykit.rendering.quoting import systemd_env, systemd_word
    assert systemd_env("A", "50%") == '"A=50%%"'
    assert systemd_word('a"b$c%d') == '"a\\"b$$c%%d"'
    with pytest.raises(ValueError):
        systemd_env("BAD NAME", "x")


def test_modelfile_value_with_triple_quote_is_refused() -> None:
    from deploykit.rendering.quoting import modelfile_str
    assert modelfile_str("llama3.1:8b") == "llama3.1:8b"
    assert modelfile_str("has space") == '"""has space"""'
    with pytest.raises(ValueError):
        modelfile_str('a"""b')


def test_missing_template_variable_is_an_error() -> None:
    with pytest.raises(jinja2.UndefinedError):
        environment().from_string("{{ nope }}").render({})


def test_secrets_are_references_only(monkeypatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_SECRETSECRET")
    monkeypatch.setenv("VLLM_API_KEY", "sk-SECRETKEY")
    plan, kind, opts = case_plan("tp8-vllm-exposed")
    for f in render(plan, resolve_targets(None, plan, kind), opts):
        assert "SECRET" not in f.content, f.path


def test_exposed_host_requires_an_api_key() -> None:
    plan, kind, _ = case_plan("single-gpu-vllm")
    ctx = C.build(plan, C.RenderOptions(host="0.0.0.0"))
    assert ctx["api_key_env"] == "VLLM_API_KEY"
    assert C.build(plan, C.RenderOptions())["api_key_env"] is None
    files = {f.path: f.content for f in render(plan, [TARGETS["command"], TARGETS["compose"]],
                                               C.RenderOptions(host="0.0.0.0"))}
    assert '${VLLM_API_KEY:?' in files["serve.sh"] and "${VLLM_API_KEY:?" in files["compose.yaml"]


def test_target_that_does_not_apply_says_what_to_use() -> None:
    plan, kind, _ = case_plan("multi-node-lws")
    with pytest.raises(UsageError, match="kubernetes"):
        resolve_targets(["compose"], plan, kind)
    plan, kind, _ = case_plan("apple-ollama")
    with pytest.raises(UsageError, match="apple"):
        resolve_targets(["systemd"], plan, kind)
    with pytest.raises(UsageError) as err:
        resolve_targets(["kubernets"], plan, kind)
    assert "kubernetes" in err.value.suggestions


def test_plans_that_do_not_fit_are_not_rendered() -> None:
    plan, _, opts = case_plan("single-gpu-vllm")
    with pytest.raises(UsageError, match="does not fit"):
        C.build(plan.model_copy(update={"fits": False}), opts)


def test_write_is_all_or_nothing(tmp_path) -> None:
    plan, kind, opts = case_plan("cpu-llamacpp")
    files = render(plan, resolve_targets(None, plan, kind), opts)
    (tmp_path / "compose.yaml").write_text("mine")
    with pytest.raises(OutputExistsError):
        write_files(files, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compose.yaml"]
    assert (tmp_path / "compose.yaml").read_text() == "mine"
    written = write_files(files, tmp_path, force=True)
    assert {p.name for p in written} == {f.path for f in files}
    assert (tmp_path / "serve.sh").stat().st_mode & 0o111
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".deploykit-render-")]


def test_start_period_covers_the_planned_load_time() -> None:
    plan, _, _ = case_plan("multi-node-lws")
    assert C.start_period_s(plan) >= 2 * plan.estimates.time_to_load_s
    ctx = C.build(plan, C.RenderOptions())
    assert ctx["startup_failure_threshold"] * 10 >= C.start_period_s(plan)


def test_bad_fallback_is_a_usage_error() -> None:
    plan, _, _ = case_plan("single-gpu-vllm")
    with pytest.raises(UsageError, match="provider/model"):
        C.build(plan, C.RenderOptions(fallbacks=("gpt-4",)))


def test_undefined_in_template_is_reported_as_a_bug(monkeypatch) -> None:
    plan, kind, opts = case_plan("single-gpu-vllm")
    ctx = C.build(plan, opts)
    del ctx["port"]
    with pytest.raises(DataError, match="port"):
        render(plan, [TARGETS["compose"]], opts, ctx)
