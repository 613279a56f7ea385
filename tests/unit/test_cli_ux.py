"""The command line as people meet it: typed names checked, human units, tables that fit 80 columns without
splitting a name, --help that truncates nothing, a closed pipe that is not an error, logs of a failed start."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from deploykit.catalog import cache
from deploykit.catalog.loader import load_models, load_profiles
from deploykit.cli import app as cli_app
from deploykit.cli.units import parse_bytes, parse_tokens

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, columns: int = 200, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    full = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": str(columns), **(env or {})}
    return subprocess.run([sys.executable, "-m", "deploykit", *args], capture_output=True, text=True, env=full,
                          cwd=REPO, timeout=timeout)


# ------------------------------------------------------------------------------------------------------ units
@pytest.mark.parametrize(("text", "tokens"), [("4096", 4096), ("32k", 32768), ("128K", 131072), ("1M", 1048576),
                                              ("1.5k", 1536), (8192, 8192)])
def test_token_counts_as_people_type_them(text, tokens):
    assert parse_tokens(text) == tokens


@pytest.mark.parametrize("bad", ["32q", "k", "-1", "0", "0.3", "1.0001k", "12 tokens"])
def test_bad_token_counts_are_rejected(bad):
    with pytest.raises(typer.BadParameter):
        parse_tokens(bad)


@pytest.mark.parametrize(("text", "size"), [("64G", 64 * 1024**3), ("64GiB", 64 * 1024**3), ("64g", 64 * 1024**3),
                                            ("64", 64 * 1024**3), ("80GB", 80 * 10**9), ("512M", 512 * 1024**2),
                                            ("2T", 2 * 1024**4), ("1.5TB", 1.5 * 10**12)])
def test_memory_sizes_as_people_type_them(text, size):
    assert parse_bytes(text) == size


@pytest.mark.parametrize("bad", ["64X", "G", "lots", "0G"])
def test_bad_memory_sizes_are_rejected(bad):
    with pytest.raises(typer.BadParameter):
        parse_bytes(bad)


def test_context_in_k_reaches_the_plan():
    r = run("plan", "llama-3.1-8b", "-p", "h100-sxm", "--context", "64k", "-f", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["max_model_len"] == 65536


def test_target_alias_k8s():
    r = run("render", "llama-3.1-8b", "-p", "h100-sxm", "-t", "k8s")
    assert r.returncode == 0, r.stderr
    assert "kind: Deployment" in r.stdout


# ----------------------------------------------------------------------------------------- names are checked
@pytest.mark.parametrize(("args", "suggestion"), [
    (["models", "--use", "cod"], "code"),
    (["models", "--license", "apach"], "Apache-2.0"),
    (["models", "--origin", "metaa"], "Meta"),
    (["profiles", "--kind", "nvidiaa"], "nvidia"),
    (["plan", "-p", "h100-sxm", "--use", "codee"], "code"),
    (["plan", "-p", "h100-sxm", "--exclude-origin", "CNN"], "CN"),
    (["render", "--all", "--models", "llama-3.1-8b,lama-3.1-70b"], "llama-3.1-70b"),
    (["render", "--all", "--profiles", "h100"], "h100-sxm"),
    (["render", "llama-3.1-8b", "-p", "h100-sxm", "-t", "kubernets"], "kubernetes"),
    (["plan", "lama-3.1-8b", "-p", "h100-sxm"], "llama-3.1-8b"),
    (["plan", "llama-3.1-8b", "-p", "h100"], "h100-sxm"),
])
def test_unknown_names_exit_2_with_did_you_mean(args, suggestion):
    r = run(*args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "did you mean" in r.stderr and suggestion in r.stderr, r.stderr
    assert r.stdout == ""


def test_known_filter_values_still_filter():
    r = run("models", "--use", "code", "--license", "apache-2.0,mit", "-f", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows and all("code" in m["uses"] and m["license"]["id"].lower() in ("apache-2.0", "mit") for m in rows)


# ------------------------------------------------------------------------------------------------ the cache
def test_catalog_cache_is_reused_and_rebuilt_when_a_file_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYKIT_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "a.yaml"
    data.write_text("one")
    builds = []

    def build():
        builds.append(data.read_text())
        return {"value": data.read_text()}

    assert cache.cached("t", [data], build) == {"value": "one"}
    assert cache.cached("t", [data], build) == {"value": "one"}
    assert builds == ["one"], "the second call must come from the disk cache"
    data.write_text("two!")  # another size (and mtime): the key changes
    assert cache.cached("t", [data], build) == {"value": "two!"}
    assert builds == ["one", "two!"]
    assert len(list((tmp_path / "cache" / "catalog").glob("t-*.pickle"))) == 1, "stale entries are removed"


def test_catalog_cache_survives_a_corrupt_entry_and_an_unwritable_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYKIT_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "a.yaml"
    data.write_text("x")
    cache.cached("t", [data], lambda: 1)
    entry = next((tmp_path / "cache" / "catalog").glob("t-*.pickle"))
    entry.write_bytes(b"not a pickle")
    assert cache.cached("t", [data], lambda: 2) == 2
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("DEPLOYKIT_CACHE_DIR", str(blocker / "cache"))  # a path under a file: never writable
    assert cache.cached("t", [data], lambda: 3) == 3


def test_the_cli_uses_the_cached_catalog(tmp_path):
    env = {"DEPLOYKIT_CACHE_DIR": str(tmp_path)}
    first = run("models", "-f", "json", env=env)
    assert first.returncode == 0, first.stderr
    entries = sorted(p.name for p in (tmp_path / "catalog").glob("*.pickle"))
    assert [e.split("-")[0] for e in entries] == ["models"]
    again = run("models", "-f", "json", env=env)
    assert again.stdout == first.stdout
    assert sorted(p.name for p in (tmp_path / "catalog").glob("*.pickle")) == entries


def test_help_and_version_import_no_heavy_library():
    """--help lists the commands without importing them: no pydantic, jinja2, httpx, huggingface_hub, docker."""
    code = ("import sys; from deploykit.cli.app import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('pydantic', 'jinja2', 'httpx', 'huggingface_hub', 'docker', 'yaml') "
            "if m in sys.modules]\nprint('HEAVY', heavy, file=sys.stderr)")
    for args in (["--help"], ["--version"], []):
        r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO)
        assert "HEAVY []" in r.stderr, (args, r.stderr)


def test_plan_with_a_profile_imports_no_renderer_or_client():
    code = ("import sys; from deploykit.cli.app import main\n"
            "try:\n    main(['plan', 'llama-3.1-8b', '-p', 'h100-sxm'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('jinja2', 'httpx', 'huggingface_hub', 'docker', 'pynvml') if m in sys.modules]\n"
            "print('HEAVY', heavy, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert "HEAVY []" in r.stderr, r.stderr


# ---------------------------------------------------------------------------------------------- the listing
def test_command_listing_matches_each_commands_own_help():
    """`deploykit --help` is built without importing the commands: its one-liners must start each docstring."""
    for name, (_, _, _, short) in cli_app.COMMANDS.items():
        own = cli_app.command_help(name)
        assert own.startswith(short), f"{name}: listing says {short!r}, the command says {own!r}"


def test_help_never_truncates_option_names_or_env_vars():
    for name in cli_app.COMMANDS:
        command = typer.main.get_command(cli_app.build_app(name))
        sub = command.commands[name] if hasattr(command, "commands") else command
        r = run(name, "--help", columns=80)
        assert r.returncode == 0, r.stderr
        assert "…" not in r.stdout
        assert all(len(line) <= 80 for line in r.stdout.splitlines()), r.stdout
        for param in sub.params:
            for opt in param.opts:
                if opt.startswith("-"):
                    assert re.search(rf"(^|[\s,\[]){re.escape(opt)}\b", r.stdout), f"{name} --help lacks {opt}"
            envvar = getattr(param, "envvar", None)
            if envvar:
                assert envvar in r.stdout, f"{name} --help lacks {envvar}"


# ---------------------------------------------------------------------------------------- tables that fit
def _lines_fit(out: str, width: int) -> list[str]:
    lines = out.splitlines()
    too_long = [line for line in lines if len(line.rstrip()) > width]
    assert not too_long, f"lines wider than {width}:\n" + "\n".join(too_long)
    return lines


def _whole(names: list[str], out: str) -> None:
    split = [n for n in names if not re.search(rf"(?<![\w.-]){re.escape(n)}(?![\w.-])", out)]
    assert not split, f"split or missing: {split}\n{out}"


@pytest.mark.parametrize("width", [80, 200])
def test_models_and_profiles_tables_fit(width):
    r = run("models", columns=width)
    assert r.returncode == 0, r.stderr
    _lines_fit(r.stdout, width)
    _whole(list(load_models()), r.stdout)
    r = run("profiles", columns=width)
    assert r.returncode == 0, r.stderr
    _lines_fit(r.stdout, width)
    _whole([p.name for p in load_profiles().values() if p.variant_of is None], r.stdout)
    if width == 200:
        assert "left out" not in r.stdout and "interconnect" in r.stdout


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("box", [["-p", "h100-sxm", "--gpus", "8"], ["-p", "cpu-server"], ["-p", "m2-max"]])
def test_plan_ranking_fits(width, box):
    r = run("plan", *box, columns=width)
    assert r.returncode == 0, r.stderr
    _lines_fit(r.stdout, width)
    ranked = json.loads(run("plan", *box, "-f", "json").stdout)
    _whole([row["model"] for row in ranked] + sorted({row["plan"]["engine"] for row in ranked}), r.stdout)


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("args", [["llama4-scout", "-p", "h100-sxm", "--gpus", "8"],
                                  ["llama-3.1-405b", "-p", "l4"], ["gemma-3-270m", "-p", "cpu-server"]])
def test_plan_of_one_model_fits(width, args):
    r = run("plan", *args, columns=width)
    assert r.returncode in (0, 3), r.stderr
    _lines_fit(r.stdout, width)
    plan = json.loads(run("plan", *args, "-f", "json").stdout)
    names = [plan["model"]["name"]]
    if plan["fits"]:
        names.append(plan["weights"]["artifact"])
    names += [a["model"] for a in plan.get("alternatives", [])]
    _whole(names, r.stdout)


@pytest.mark.parametrize("width", [80, 200])
def test_ps_table_fits(width, tmp_path):
    from deploykit.runtime import state

    os.environ["DEPLOYKIT_STATE_DIR"] = str(tmp_path)
    try:
        for i, name in enumerate(["deepseek-r1-distill-llama-70b", "gemma-3-270m"]):
            state.put(state.Deployment(name=name, runtime="native", engine="vllm", model=name,
                                       served_name=f"deepseek-ai/DeepSeek-R1-Distill-Llama-70B-{i}", host="127.0.0.1",
                                       port=8000 + i, base_url=f"http://127.0.0.1:{8000 + i}/v1", pid=None,
                                       kv_cache_tokens_planned=123456))
    finally:
        del os.environ["DEPLOYKIT_STATE_DIR"]
    r = run("ps", columns=width, env={"DEPLOYKIT_STATE_DIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    _lines_fit(r.stdout, width)
    _whole(["deepseek-r1-distill-llama-70b", "gemma-3-270m", "http://127.0.0.1:8000/v1",
            "http://127.0.0.1:8001/v1"], r.stdout)


@pytest.mark.parametrize("width", [80, 200])
def test_render_check_summary_fits(width):
    r = run("render", "--all", "--check", "--models", "gemma-3-270m,qwen2.5-7b", "--profiles", "cpu-server,l4",
            columns=width, timeout=600)
    assert r.returncode in (0, 1), r.stderr
    _lines_fit(r.stdout, width)
    report = json.loads(run("render", "--all", "--check", "--models", "gemma-3-270m,qwen2.5-7b", "--profiles",
                            "cpu-server,l4", "-f", "json", timeout=600).stdout)
    _whole([v["name"].split()[0] for v in report["check"]["validators"]], r.stdout)
    assert "files checked" in r.stdout


# ----------------------------------------------------------------------------------------- pipes and logs
def test_a_closed_pipe_is_not_an_error():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "deploykit", "plan", "-p", "h100-sxm", "--gpus", "8", "-f", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env)
    proc.stdout.read(10)
    proc.stdout.close()  # like `| head -c 10`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_logs_finds_the_last_log_of_a_failed_start(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "tiny-100.log").write_text("old start\n")
    (logs / "tiny-200.log").write_text("loading\nCUDA out of memory\n")
    (logs / "tiny-two-300.log").write_text("another deployment\n")
    env = {"DEPLOYKIT_STATE_DIR": str(tmp_path)}
    r = run("logs", "tiny", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["loading", "CUDA out of memory"]
    assert "tiny-200.log" in r.stderr
    missing = run("logs", "tiny3", env=env)
    assert missing.returncode == 2 and "did you mean" in missing.stderr and "tiny" in missing.stderr
    assert run("down", "nothing-here", env=env).returncode == 2


# ------------------------------------------------------------------------------------------------------ doctor
def test_doctor_reports_what_a_bug_report_needs(tmp_path):
    env = {"DEPLOYKIT_STATE_DIR": str(tmp_path / "state"), "DEPLOYKIT_PROMTOOL": sys.executable}
    r = run("doctor", "-f", "json", env=env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    from deploykit import __version__

    assert data["deploykit"] == __version__
    assert data["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert data["box"]["kind"] in ("nvidia", "apple", "cpu") and data["box"]["profile"] in load_profiles()
    assert {e["name"].split()[0] for e in data["engines"]} >= {"vllm", "llama.cpp", "ollama", "docker"}
    promtool = next(v for v in data["validators"] if v["name"] == "promtool")
    assert promtool["where"] == sys.executable, "found the way render --check finds it (DEPLOYKIT_PROMTOOL)"
    assert data["folders"]["state"] == str(tmp_path / "state")
    text = run("doctor", columns=80, env=env)
    assert text.returncode == 0, text.stderr
    assert "promtool" in text.stdout and str(tmp_path / "state") in text.stdout


# ---------------------------------------------------------------------------------- headers that re-render
HEADER = re.compile(r"^# Re-render instead of editing: (.*)$", re.M)


def _rerender_matches(folder: Path, env: dict | None = None) -> int:
    """Run each file's header command (into another folder) and compare: the same file must come out."""
    import shlex

    checked = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = path.read_text()
        m = HEADER.search(text)
        assert m, f"{path} has no re-render header"
        argv = shlex.split(m.group(1))
        assert argv[:2] == ["deploykit", "render"], argv
        again = folder.parent / f"again-{checked}"
        r = run(*argv[1:], "-o", str(again), env=env)
        assert r.returncode == 0, f"{m.group(1)}\n{r.stderr}"
        same = again / path.relative_to(folder).name if not (again / path.relative_to(folder)).exists() \
            else again / path.relative_to(folder)
        assert same.read_text() == text, f"{m.group(1)} renders {path.name} differently"
        checked += 1
    return checked


def test_file_headers_re_render_the_same_files(tmp_path):
    out = tmp_path / "one"
    r = run("render", "llama-3.1-70b", "-p", "l40s", "--gpus", "4", "--context", "16k", "--concurrency", "8",
            "--quant", "fp8", "--name", "my-llm", "--namespace", "llm", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert _rerender_matches(out) >= 6


def test_header_of_a_locked_plan_renders_from_the_lock(tmp_path):
    lock = tmp_path / "plan.yaml"
    assert run("plan", "gemma-3-270m", "-p", "cpu-server", "-o", str(lock)).returncode == 0
    out = tmp_path / "locked"
    r = run("render", "--plan", str(lock), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert f"--plan {lock}" in (out / "serve.sh").read_text()
    assert _rerender_matches(out) >= 3


def test_golden_headers_re_render_the_golden_files(tmp_path):
    """The files rendered without the CLI pin the plan's own choices; that command gives the same file."""
    import shutil

    src = REPO / "tests" / "golden" / "cpu-llamacpp"
    shutil.copytree(src, tmp_path / "golden")
    assert _rerender_matches(tmp_path / "golden") >= 4


# -------------------------------------------------------------------------------------------------- completion
@pytest.mark.parametrize(("shell_env", "expected"), [
    ({"_DEPLOYKIT_COMPLETE": "complete_bash", "COMP_WORDS": "deploykit pl", "COMP_CWORD": "1"}, ["plan"]),
    ({"_DEPLOYKIT_COMPLETE": "complete_bash", "COMP_WORDS": "deploykit plan llama-3.1-", "COMP_CWORD": "2"},
     ["llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b"]),
    ({"_DEPLOYKIT_COMPLETE": "complete_bash", "COMP_WORDS": "deploykit render --profile h100", "COMP_CWORD": "3"},
     ["h100-nvl", "h100-pcie", "h100-sxm"]),
    ({"_DEPLOYKIT_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "deploykit profiles show rtx"},
     ["rtx-3090", "rtx-4090", "rtx-5090"]),
])
def test_shell_completion_of_commands_models_and_profiles(shell_env, expected):
    r = run(env=shell_env)
    assert r.returncode == 0, r.stderr
    found = re.findall(r"[\w.-]+", r.stdout)
    assert all(name in found for name in expected), r.stdout
    if shell_env["COMP_WORDS" if "COMP_WORDS" in shell_env else "_TYPER_COMPLETE_ARGS"].endswith("pl"):
        assert "profiles" not in found and "up" not in found


def test_table_cells_are_text_not_markup():
    """The validator hint printed `pip install 'deploykit'`: rich took `[check]` for markup. Cells are plain text."""
    from rich.console import Console

    from deploykit.cli.output import table

    console = Console(record=True, width=120, color_system=None)
    console.print(table("validators", ["validator", "detail"],
                        [["compose-spec", "missing; install the validators: pip install 'deploykit[check]'"]]))
    assert "'deploykit[check]'" in console.export_text()


def test_unknown_command_suggests_once():
    r = run("plna")
    assert r.returncode == 2
    assert r.stderr.count("Did you mean 'plan'?") == 1, r.stderr


def test_memory_option_gives_gib():
    from deploykit.cli.units import memory_option

    app = typer.Typer()

    @app.command()
    def show(host_memory: float = memory_option()) -> None:
        print(host_memory)

    from typer.testing import CliRunner

    assert CliRunner().invoke(app, ["--host-memory", "64G"]).output.strip() == "64.0"
    assert CliRunner().invoke(app, ["--host-memory", "80GB"]).output.strip() == f"{80e9 / 1024**3}"
    bad = CliRunner().invoke(app, ["--host-memory", "lots"])
    assert bad.exit_code == 2 and "memory size" in bad.output


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59, "59s"), (60, "1m"), (1079, "17m"), (7500, "2h05m"),
                                               (273600, "3d04h")])
def test_durations_are_short(seconds, text):
    from deploykit.cli.output import duration

    assert duration(seconds) == text
