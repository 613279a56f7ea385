"""Exit 70 only for real bugs: hypothesis feeds hostile input through the real command line (deploykit.cli.app.main,
in-process) and every outcome must be a success or one of the README's error codes, never 70 ("internal error").

Inputs: lock files (valid ones with values replaced, keys removed or added, and raw text), model config.json files,
GGUF headers (valid ones with fields changed, bytes flipped, truncated), the deployment registry, and the answers
of an OpenAI-compatible server (a hostile stand-in in tests/contract/hostile_standin.py) to `check` and `bench`.

A fixed budget (FUZZ_EXAMPLES per target, derandomized: the same examples every run, no example database) keeps it
to a few tens of seconds. DEPLOYKIT_FUZZ_REPORT=FILE writes the outcome counts by exit code as JSON;
DEPLOYKIT_FUZZ_EXAMPLES raises the budget for a longer hunt."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import struct
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from render_cases import CASES, case_plan
from test_gguf import LLAMA, gguf_bytes
from test_up_faults import TINY_CONFIG

from deploykit.cli.app import main
from deploykit.planning import lockfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))
from hostile_standin import COMPLETION, MODELS, HostileServer, canned  # noqa: E402

EXAMPLES = int(os.environ.get("DEPLOYKIT_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))
DOCUMENTED = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}  # README's exit-code table (70 is a bug)
OUTCOMES: dict[str, Counter] = {}


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    path = os.environ.get("DEPLOYKIT_FUZZ_REPORT")
    data = {target: dict(sorted(c.items())) for target, c in OUTCOMES.items()}
    if path:
        Path(path).write_text(json.dumps(data, indent=2) + "\n")
    print("\nfuzz outcomes by exit code:", json.dumps(data))


def deploykit(target: str, *argv: str) -> int:
    """Run the CLI in-process; return its exit code, record it, and fail on 70 with what it printed."""
    out, err = io.StringIO(), io.StringIO()
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        for s, h in handlers.items():  # `up` installs its own; the test process keeps pytest's
            signal.signal(s, h)
    OUTCOMES.setdefault(target, Counter())[code] += 1
    assert code != 70, f"exit 70 for deploykit {' '.join(argv)}\n{err.getvalue()[-3000:]}"
    assert code in DOCUMENTED, f"exit {code} is not in the README's table: {argv}\n{err.getvalue()[-2000:]}"
    return code


# ---------------------------------------------------------------------------------------------- hostile values
scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "-", "--trust-remote-code", "--insecure", "a\nb: c", "x\x00y", "\x1b[31mred", "é" * 300,
                     "../../etc/passwd", "$(id)", "auto", "vllm", "gguf-q4_k_m", "llama-3.1-8b", "0.0.0.0",
                     "h100-sxm", "fp8", "-1", "nan", "inf", "1e400"]),
    st.text(max_size=40),
)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)


def paths_of(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*prefix, i)
            yield from paths_of(value, (*prefix, i))


def mutate(data, draw, rounds: int):
    """Replace, delete or add values at random places of a JSON-like document."""
    for _ in range(rounds):
        paths = list(paths_of(data))
        if not paths:
            return data
        path = draw(st.sampled_from(paths))
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(values)
    return data


# ---------------------------------------------------------------------------------------------- lock files
LOCKS = {case: lockfile.lock_data(case_plan(case)[0], {"model": CASES[case][0], "profile": CASES[case][1],
                                                       "gpus": CASES[case][2]})
         for case in ("single-gpu-vllm", "rtx4090-ollama", "cpu-llamacpp", "multi-node-lws")}


@FUZZ
@given(st.data())
def test_fuzzed_lock_files(tmp_path_factory, data) -> None:
    case = data.draw(st.sampled_from(sorted(LOCKS)))
    lock = mutate(json.loads(json.dumps(LOCKS[case])), data.draw, data.draw(st.integers(1, 4)))
    path = tmp_path_factory.mktemp("lock") / "plan.yaml"
    path.write_text(yaml.safe_dump(lock, allow_unicode=True, sort_keys=False))
    deploykit("lock: render", "render", "--plan", str(path))
    deploykit("lock: up --dry-run", "up", "--plan", str(path), "--dry-run", "--force", "--engine-bin",
              sys.executable)


@FUZZ
@given(st.data())
def test_locks_with_extreme_numbers(tmp_path_factory, data) -> None:
    """Numbers at and beyond the ends of their ranges, the rest of the lock intact: what the schema lets through
    must render, and what it refuses is a plan-file error."""
    case = data.draw(st.sampled_from(sorted(LOCKS)))
    lock = json.loads(json.dumps(LOCKS[case]))
    numeric = [p for p in paths_of(lock["plan"]) if isinstance(_at(lock["plan"], p), (int, float))
               and not isinstance(_at(lock["plan"], p), bool)]
    for path in data.draw(st.lists(st.sampled_from(numeric), min_size=1, max_size=4, unique=True)):
        parent = lock["plan"]
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = data.draw(st.sampled_from([0, 1, 2, 3, 7, 4096, 4097, 10**8, 10**8 + 1, 10**13, 0.5, 1.0,
                                                      1e-9, 1e12, -1, -0.0]))
    path = tmp_path_factory.mktemp("lockx") / "plan.yaml"
    path.write_text(yaml.safe_dump(lock, sort_keys=False))
    deploykit("lock (extreme numbers): render", "render", "--plan", str(path))


def _at(node, path):
    for step in path:
        node = node[step]
    return node


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                 st.sampled_from([b"deploykit_lock: 1\nplan: &a [*a]", b"deploykit_lock: 1\n" + b"- " * 5000,
                                  b"\xef\xbb\xbfdeploykit_lock: 1", b"deploykit_lock: !!python/object:os.system x",
                                  b"deploykit_lock: 1\nplan: {" + b"a: {" * 3000 + b"}" * 3001])))
def test_raw_lock_text(tmp_path_factory, raw: bytes) -> None:
    path = tmp_path_factory.mktemp("raw") / "plan.yaml"
    path.write_bytes(b"deploykit_lock: 1\n" + raw if raw[:1] == b"e" else raw)
    deploykit("lock: raw text", "render", "--plan", str(path))


# ---------------------------------------------------------------------------------------------- config.json
@FUZZ
@given(st.data())
def test_fuzzed_model_configs(tmp_path_factory, data) -> None:
    folder = tmp_path_factory.mktemp("model")
    config = mutate(json.loads(json.dumps(TINY_CONFIG)), data.draw, data.draw(st.integers(1, 3)))
    raw = json.dumps(config, allow_nan=True).encode()
    if data.draw(st.integers(0, 9)) == 0:  # sometimes not JSON, not UTF-8, or absurdly deep
        raw = data.draw(st.sampled_from([b"\xff\xfe{}", b"[" * 100_000, raw[: len(raw) // 2], b"null", b"[]"]))
    (folder / "config.json").write_bytes(raw)
    deploykit("config.json: plan", "plan", str(folder), "-p", "h100-sxm", "-f", "json")
    deploykit("config.json: render", "render", str(folder), "-p", "rtx-4090", "--engine", "llamacpp", "-t",
              "command")


# ---------------------------------------------------------------------------------------------- GGUF headers
@FUZZ
@given(st.data())
def test_fuzzed_gguf_headers(tmp_path_factory, data) -> None:
    kv = dict(LLAMA)
    for key in data.draw(st.lists(st.sampled_from(sorted(kv)), max_size=3, unique=True)):
        choice = data.draw(st.one_of(st.none(), st.integers(0, 2**32 - 1), st.text(max_size=20)))
        if choice is None:
            del kv[key]
        else:
            kv[key] = choice
    raw = bytearray(gguf_bytes(kv, tokens=data.draw(st.integers(0, 40))))
    how = data.draw(st.sampled_from(["as is", "truncate", "flip", "counts"]))
    if how == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    elif how == "counts":  # the tensor or key/value count, or the version
        offset, fmt = data.draw(st.sampled_from([(4, "<I"), (8, "<Q"), (16, "<Q")]))
        top = 2**32 - 1 if fmt == "<I" else 2**64 - 1
        struct.pack_into(fmt, raw, offset, data.draw(st.sampled_from([0, 1, 2, 3, 2**31, top // 2 + 1, top])))
    path = tmp_path_factory.mktemp("gguf") / "fuzz.Q4_K_M.gguf"
    path.write_bytes(bytes(raw))
    deploykit("GGUF: plan", "plan", str(path), "-p", "rtx-4090", "-f", "json")


# ---------------------------------------------------------------------------------------------- registry
registries = st.one_of(
    values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.builds(lambda d: json.dumps({"version": 1, "deployments": d}, allow_nan=True),
              st.dictionaries(st.text(max_size=10), values, max_size=3)),
    st.builds(lambda d: json.dumps({"version": 1, "deployments": {"x": d}}, allow_nan=True),
              st.fixed_dictionaries({"name": st.just("x"), "runtime": st.sampled_from(["native", "docker", "z"]),
                                     "engine": st.just("vllm"), "model": st.just("m"), "served_name": st.just("m"),
                                     "host": scalars, "port": scalars, "base_url": scalars, "pid": scalars,
                                     "pid_start": scalars})),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
)


@FUZZ
@given(registries)
def test_fuzzed_registry(tmp_path_factory, monkeypatch_module, text: str) -> None:
    state = tmp_path_factory.mktemp("state")
    (state / "deployments.json").write_text(text, encoding="utf-8", errors="surrogateescape")
    monkeypatch_module.setenv("DEPLOYKIT_STATE_DIR", str(state))
    deploykit("registry: ps", "ps", "-f", "json")
    deploykit("registry: down", "down", "--all")


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


# ---------------------------------------------------------------------------------------------- HTTP answers
def json_bytes(base: object):
    return st.one_of(
        st.just(json.dumps(base).encode()),
        st.builds(lambda v: json.dumps(v, allow_nan=True).encode(), values),
        st.builds(lambda d: json.dumps(d, allow_nan=True).encode(),
                  st.just(base).flatmap(lambda b: st.builds(lambda s: s, st.just(json.loads(json.dumps(b)))))),
        st.binary(max_size=200),
        st.sampled_from([b"[" * 50_000, b'{"data": [{"id": 1}]}', b'{"data": "x"}', b'{"choices": [null]}',
                         b'{"usage": {"completion_tokens": "5"}}', b'{"usage": {"completion_tokens": 1e400}}',
                         b'{"usage": {"completion_tokens": -3}}', b"\xff\xfe"]))


streams = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(st.just(b'data: {"choices": [{"delta": {"content": "hi"}}]}'), st.just(b"data: [DONE]"),
                       st.just(b": keep-alive"), st.just(b'data: {"usage": {"completion_tokens": "x"}}'),
                       st.just(b'data: {"error": {"message": "boom"}}'), st.just(b"data: [[[[["),
                       st.builds(lambda v: b"data: " + json.dumps(v, allow_nan=True).encode(), values)),
             max_size=6).map(lambda lines: b"\n\n".join(lines) + b"\n\n"))


@pytest.fixture(scope="module")
def hostile():
    with HostileServer(canned()) as server:
        yield server


@FUZZ
@given(models=json_bytes(MODELS), completion=json_bytes(COMPLETION), stream=streams,
       health=st.sampled_from([200, 404, 500, 301]))
def test_fuzzed_http_answers(hostile, models: bytes, completion: bytes, stream: bytes, health: int) -> None:
    hostile.script = canned(models, completion, (health, b"{}"), stream)
    deploykit("HTTP: check", "check", hostile.root, "--timeout", "3", "-f", "json")
    deploykit("HTTP: bench", "bench", hostile.root, "--requests", "2", "--timeout", "3", "-f", "json")


# ---------------------------------------------------------------------------------------------- observations
observation_rows = st.one_of(
    values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
    st.fixed_dictionaries({
        "model": st.just("tiny"), "engine": st.just("vllm"),
        "hardware": st.one_of(st.fixed_dictionaries({"profile": st.sampled_from(["cpu-desktop", "cpu-server"])}),
                              values),
        "max_model_len": st.one_of(st.just(2048), scalars), "kv_cache_dtype": st.one_of(st.just("auto"), scalars),
        "planned_kv_tokens": st.one_of(st.integers(1, 10**6), scalars),
        "reported_kv_tokens": st.one_of(st.integers(1, 10**6), scalars)}).map(lambda d: json.dumps(d, allow_nan=True)),
)


@FUZZ
@given(st.lists(observation_rows, max_size=5))
def test_fuzzed_kv_observations(tmp_path_factory, monkeypatch_module, rows: list[str]) -> None:
    state = tmp_path_factory.mktemp("obs")
    (state / "kv_observations.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8", errors="surrogateescape")
    model = state / "tiny"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(TINY_CONFIG))
    monkeypatch_module.setenv("DEPLOYKIT_STATE_DIR", str(state))
    deploykit("observations: plan", "plan", str(model), "--engine", "vllm", "-f", "json")
