"""README.md's exit-code table, enforced: every row's code is produced by a real failure of that kind, run as
the user would run it (a subprocess), and every code the table lists has such a failure here."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stand_in_engine import fake_python_and_model
from hub_standin import HubStandIn
from test_pull import QWEN, qwen_files

REPO = Path(__file__).resolve().parents[2]


def readme_codes() -> dict[int, str]:
    """The rows of the README's "Exit codes" table: code -> meaning."""
    text = (REPO / "README.md").read_text()
    section = text.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", section, re.M)
    assert rows, "README.md has no exit-code table under '### Exit codes'"
    return {int(code): meaning.strip() for code, meaning in rows}


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    python, model = fake_python_and_model(tmp_path)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "DEPLOYKIT_VLLM", "DEPLOYKIT_LLAMA"))}
    return {**base, "DEPLOYKIT_STATE_DIR": str(tmp_path / "state"), "HF_HOME": str(tmp_path / "hf"),
            "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "200", "MODEL_DIR": str(model),
            "FAKE_PYTHON": str(python), "TMP": str(tmp_path), "PATH": "/usr/bin:/bin"}


def dk(env: dict[str, str], *args: str, timeout: float = 120, **more: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deploykit", *args], capture_output=True, text=True, cwd=REPO,
                          env={**env, **more}, timeout=timeout)


def bad_catalog(env) -> subprocess.CompletedProcess:
    root = Path(env["TMP"]) / "data"
    (root / "model_catalog").mkdir(parents=True)
    (root / "model_catalog" / "bad.yaml").write_text("family: bad\nmodels: [{name: 1}]\n")
    return dk(env, "models", DEPLOYKIT_DATA_DIR=str(root))


def interrupted(env) -> subprocess.CompletedProcess:
    proc = subprocess.Popen([sys.executable, "-m", "deploykit", "up", env["MODEL_DIR"], "--engine", "vllm",
                             "--name", "tiny"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env={**env, "DEPLOYKIT_VLLM_PYTHON": env["FAKE_PYTHON"],
                                           "FAKE_ENGINE_MODE": "hang"})
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def up_fake(env, mode: str, *extra: str) -> subprocess.CompletedProcess:
    return dk(env, "up", env["MODEL_DIR"], "--engine", "vllm", "--name", "tiny", *extra,
              DEPLOYKIT_VLLM_PYTHON=env["FAKE_PYTHON"], FAKE_ENGINE_MODE=mode)


def pull_hub(env, **hub_kwargs) -> subprocess.CompletedProcess:
    with HubStandIn({QWEN: qwen_files()}, **hub_kwargs) as hub:
        return dk(env, "pull", "qwen2.5-7b", "-p", "h100-sxm", HF_ENDPOINT=hub.url, HF_HUB_OFFLINE="0",
                  HF_HUB_DISABLE_PROGRESS_BARS="1")


# code -> failures of that kind (each a function of the environment), and a word its message must hold.
FAILURES = {
    0: [(lambda e: dk(e, "plan", "llama-3.1-8b", "-p", "h100-sxm"), "fits")],
    1: [(lambda e: dk(e, "check", "http://127.0.0.1:9/v1"), "unhealthy")],
    2: [(lambda e: dk(e, "plan", "--context", "lots"), "--context"),
        (lambda e: dk(e, "plan", "lama-3.1-8b", "-p", "h100-sxm"), "did you mean"),
        (lambda e: dk(e, "models", "--use", "cod"), "did you mean"),
        (lambda e: dk(e, "logs", "nothing-here"), "unknown deployment"),
        (lambda e: dk(e, "down", "nothing-here"), "unknown deployment"),
        (lambda e: (Path(e["TMP"]) / "p.yaml").write_text("x") and
         dk(e, "plan", "gemma-3-270m", "-p", "cpu-server", "-o", str(Path(e["TMP"]) / "p.yaml")), "exists")],
    3: [(lambda e: dk(e, "plan", "llama-3.1-405b", "-p", "l4"), "does not fit")],
    4: [(lambda e: pull_hub(e, gated={QWEN}), "gated"),
        (lambda e: dk(e, "plan", str(Path(e["TMP"]) / "no-such-dir")), "does not exist")],
    5: [(lambda e: dk(e, "render", "--plan", str(Path(e["TMP"]) / "missing.yaml")), "missing.yaml"),
        (lambda e: (Path(e["TMP"]) / "junk.yaml").write_text("a: 1\n") and
         dk(e, "render", "--plan", str(Path(e["TMP"]) / "junk.yaml")), "plan lock")],
    6: [(bad_catalog, "bad.yaml")],
    8: [(lambda e: dk(e, "up", e["MODEL_DIR"], "--engine", "vllm"), "no vLLM installation")],
    9: [(lambda e: up_fake(e, "exit"), "exited")],
    10: [(lambda e: up_fake(e, "hang", "--timeout", "3"), "")],
    11: [(lambda e: pull_hub(e, listed_sizes={"model-00001-of-00002.safetensors": 10**15}), "GB free")],
    12: [(lambda e: dk(e, "pull", "no-such-org/no-such-model", "-p", "cpu-server", HF_HUB_OFFLINE="1"),
          "cannot reach")],
    13: [(lambda e: dk(e, "render", "gemma-3-270m", "-p", "cpu-server", "-o", "/dev/null/x"), "cannot write")],
    14: [(lambda e: dk(e, "ps", DEPLOYKIT_STATE_DIR="/dev/null/state"), "state directory")],
    130: [(interrupted, "")],
}
NOT_PROVOKED = {70: "a bug in deploykit: no input should produce it"}


def test_the_table_and_the_failures_name_the_same_codes():
    assert set(readme_codes()) == set(FAILURES) | set(NOT_PROVOKED)


@pytest.mark.parametrize("code", sorted(FAILURES))
def test_each_documented_code(code, env):
    for failure, word in FAILURES[code]:
        r = failure(env)
        assert r.returncode == code, f"expected {code} ({readme_codes()[code]}), got {r.returncode}:\n{r.stderr}"
        assert word in r.stdout + r.stderr, f"{word!r} not in the output:\n{r.stdout}\n{r.stderr}"
        assert "Traceback" not in r.stderr
