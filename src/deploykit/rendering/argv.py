"""Engine command lines as argv lists, built from a plan. ``render`` quotes them into files, ``--dry-run`` prints
them, and ``up`` (later) executes them; none of them ever goes through a shell."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from deploykit.errors import PlanFileError
from deploykit.planning.types import Plan

DEFAULT_PORTS = {"vllm": 8000, "llamacpp": 8080, "ollama": 11434}


@dataclass(frozen=True)
class Serve:
    """Where and how the engine listens. ``api_key_env`` names the environment variable holding the key (never the
    key itself); the engines read it from the environment, so no key ever lands in argv or a file."""

    host: str = "127.0.0.1"
    port: int | None = None
    api_key_env: str | None = None
    extra_args: tuple[str, ...] = field(default_factory=tuple)

    def port_for(self, engine: str) -> int:
        return self.port or DEFAULT_PORTS[engine]


def base_url(host: str, port: int) -> str:
    """The OpenAI base URL a client on this machine uses for a server bound to ``host``: a wildcard bind is reached
    on loopback, an IPv6 address goes in brackets."""
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/v1"


def value(what: str, text: object) -> str:
    """A plan's value placed in an argv: never one that the engine would read as a flag."""
    out = str(text)
    if out.startswith("-") or not out:
        raise PlanFileError(f"the plan's {what} {out!r} would be read as a flag by the engine",
                            fix="re-create the plan with deploykit plan MODEL -o FILE")
    return out


def served_name(plan: Plan) -> str:
    return value("model name", plan.model["name"])


def spans_nodes(plan: Plan) -> bool:
    """One replica needs more GPUs than a node has: vLLM runs it across nodes on Ray."""
    return plan.tensor_parallel_size * plan.pipeline_parallel_size > plan.hardware.get("gpus", 1)


def local_data_parallel(plan: Plan) -> int:
    """Replicas that one node runs (the plan's data_parallel_size counts all nodes)."""
    if spans_nodes(plan):
        return 1
    return max(1, plan.data_parallel_size // max(1, plan.hardware.get("nodes", 1)))


def vllm_engine_args(plan: Plan, *, data_parallel: int | None = None) -> dict[str, object]:
    """vLLM engine arguments (flag name without ``--`` -> value; ``True`` is a bare flag), in a stable order.
    The same dict becomes argv and the ``--config`` YAML. ``data_parallel`` is the number of replicas this one
    vLLM process serves (default: those of one node; Kubernetes runs one replica per pod and passes 1)."""
    dp = local_data_parallel(plan) if data_parallel is None else data_parallel
    args: dict[str, object] = {"served-model-name": served_name(plan)}
    if plan.model.get("revision") and plan.model["revision"] != "main" and plan.weights["artifact"] == plan.model[
            "hf_repo"]:
        args["revision"] = value("revision", plan.model["revision"])
    if plan.tensor_parallel_size > 1:
        args["tensor-parallel-size"] = plan.tensor_parallel_size
    if plan.pipeline_parallel_size > 1:
        args["pipeline-parallel-size"] = plan.pipeline_parallel_size
    if dp > 1:
        args["data-parallel-size"] = dp
    if plan.expert_parallel:
        args["enable-expert-parallel"] = True
    if plan.weights.get("online_quantization"):
        args["quantization"] = "fp8"
    args["max-model-len"] = plan.max_model_len
    args["max-num-seqs"] = plan.max_num_seqs
    if plan.max_num_batched_tokens:
        args["max-num-batched-tokens"] = plan.max_num_batched_tokens
    if plan.gpu_memory_utilization is not None:
        args["gpu-memory-utilization"] = plan.gpu_memory_utilization
    if plan.kv_cache_dtype != "auto":
        args["kv-cache-dtype"] = plan.kv_cache_dtype
    if spans_nodes(plan):
        args["distributed-executor-backend"] = "ray"
    if plan.task in ("embed", "rerank"):
        args["runner"] = "pooling"
    serving = plan.serving or {}
    if serving.get("reasoning_parser"):
        args["reasoning-parser"] = serving["reasoning_parser"]
    if serving.get("tool_call_parser"):
        args["enable-auto-tool-choice"] = True
        args["tool-call-parser"] = serving["tool_call_parser"]
    if plan.rope_scaling:
        args["hf-overrides"] = rope_override_json(plan.rope_scaling)
    elif serving.get("hf_overrides"):
        args["hf-overrides"] = json.dumps(serving["hf_overrides"])
    return args


def rope_override_json(rope: dict) -> str:
    """vLLM's --hf-overrides for a YaRN context extension. vLLM 0.32 (transformers 5) reads rope_parameters, and a
    dict override replaces the whole dict, so rope_theta is restated (seen with vLLM 0.32's patch_rope_parameters:
    a rope_scaling override alone leaves rope_theta None)."""
    return json.dumps({"rope_parameters": {
        "rope_type": rope["type"], "factor": rope["factor"],
        "original_max_position_embeddings": rope["original_max_position_embeddings"],
        "rope_theta": rope["rope_theta"]}}, separators=(",", ":"))


def flags(args: dict[str, object]) -> list[str]:
    out: list[str] = []
    for key, value in args.items():
        if value is True:
            out.append(f"--{key}")
        elif value is not False and value is not None:
            out += [f"--{key}", str(value)]
    return out


def vllm_model_ref(plan: Plan) -> str:
    return value("weights artifact", plan.weights["artifact"])


def vllm_argv(plan: Plan, serve: Serve, *, binary: tuple[str, ...] = ("vllm", "serve"),
              data_parallel: int | None = None) -> list[str]:
    """``vllm serve MODEL --flag value ...``. The API key is read by vLLM from VLLM_API_KEY, never passed in argv."""
    return [*binary, vllm_model_ref(plan), *flags(vllm_engine_args(plan, data_parallel=data_parallel)),
            "--host", serve.host,
            "--port", str(serve.port_for("vllm")), *serve.extra_args]


def llamacpp_total_context(plan: Plan) -> int:
    """llama-server divides ``--ctx-size`` among its ``--parallel`` slots, so the total is context x slots."""
    return plan.max_model_len * plan.max_num_seqs


def llamacpp_args(plan: Plan, *, model_path: str | None = None) -> list[str]:
    """llama-server arguments (without the binary). The GGUF comes from the hub (--hf-repo/--hf-file, cached by
    llama.cpp) unless a local path is given."""
    w = plan.weights
    model = ["--model", value("model path", model_path)] if model_path else [
        "--hf-repo", value("GGUF repository", w["hf_repo"]), "--hf-file", value("GGUF file", w["gguf_file"])]
    out = [*model, "--alias", served_name(plan), "--ctx-size", str(llamacpp_total_context(plan)),
           "--parallel", str(plan.max_num_seqs), "--n-gpu-layers", str(plan.gpu_layers or 0)]
    if plan.kv_cache_dtype in ("q8_0", "q4_0"):
        out += ["--flash-attn", "on", "--cache-type-k", plan.kv_cache_dtype, "--cache-type-v", plan.kv_cache_dtype]
    if plan.rope_scaling:
        rope = plan.rope_scaling
        out += ["--rope-scaling", str(rope["type"]), "--rope-scale", f"{rope['factor']:g}",
                "--yarn-orig-ctx", str(rope["original_max_position_embeddings"])]
    if plan.task == "embed":
        out.append("--embedding")
    elif plan.task == "rerank":
        out.append("--reranking")
    elif (plan.serving or {}).get("jinja"):
        out.append("--jinja")
    out.append("--metrics")
    return out


def llamacpp_argv(plan: Plan, serve: Serve, *, binary: str = "llama-server", model_path: str | None = None
                  ) -> list[str]:
    """The API key, when set, is read by llama-server from LLAMA_API_KEY."""
    return [binary, *llamacpp_args(plan, model_path=model_path), "--host", serve.host,
            "--port", str(serve.port_for("llamacpp")), *serve.extra_args]


def ollama_tag(plan: Plan) -> str:
    return value("Ollama tag", plan.weights.get("ollama_tag") or plan.weights["artifact"])


def ollama_env(plan: Plan, serve: Serve, *, keep_alive: str = "-1") -> dict[str, str]:
    """The server-wide settings Ollama reads from its environment, from the plan. A dedicated server keeps the
    model loaded (keep-alive -1: never unload) and loads no other."""
    env = {"OLLAMA_HOST": f"{serve.host}:{serve.port_for('ollama')}", "OLLAMA_CONTEXT_LENGTH": str(plan.max_model_len),
           "OLLAMA_NUM_PARALLEL": str(plan.max_num_seqs), "OLLAMA_KEEP_ALIVE": keep_alive,
           "OLLAMA_MAX_LOADED_MODELS": "1"}
    if plan.kv_cache_dtype in ("q8_0", "q4_0"):
        env["OLLAMA_FLASH_ATTENTION"] = "1"
        env["OLLAMA_KV_CACHE_TYPE"] = plan.kv_cache_dtype
    return env


def ollama_parameters(plan: Plan) -> dict[str, int]:
    """Modelfile PARAMETERs: the context per request and the layers offloaded to the GPU (num_gpu)."""
    params = {"num_ctx": plan.max_model_len}
    if plan.gpu_layers is not None:
        params["num_gpu"] = plan.gpu_layers
    return params
