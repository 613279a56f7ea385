"""Everything a template may use, computed here from the plan and the render options (templates hold no logic
beyond layout). A template that names anything not in this dict fails: the environment is StrictUndefined."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from deploykit import __version__, validation
from deploykit.errors import UsageError
from deploykit.planning.lockfile import engine_versions
from deploykit.planning.types import Plan
from deploykit.rendering import argv as A
from deploykit.rendering.quoting import dns_label, shell, shell_argv

LOOPBACK = ("127.0.0.1", "localhost", "::1")
HF_CACHE_IN_CONTAINER = "/root/.cache/huggingface"
API_KEY_ENV = {"vllm": "VLLM_API_KEY", "llamacpp": "LLAMA_API_KEY", "ollama": None}
PROVIDER_KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY",
                 "groq": "GROQ_API_KEY", "mistral": "MISTRAL_API_KEY", "together_ai": "TOGETHERAI_API_KEY",
                 "deepseek": "DEEPSEEK_API_KEY", "fireworks_ai": "FIREWORKS_AI_API_KEY",
                 "openrouter": "OPENROUTER_API_KEY"}


@dataclass(frozen=True)
class RenderOptions:
    """What the plan does not say: names, addresses, paths. Every field has a safe default."""

    name: str | None = None  # deployment name (default: the model's name, as a DNS label)
    host: str = "127.0.0.1"  # address the engine (or the published port) binds; others require an API key
    port: int | None = None  # default: the engine's usual port
    api_key: bool = False  # require an API key (from the environment) even on loopback
    fallbacks: tuple[str, ...] = ()  # LiteLLM fallbacks: provider/model ids or http(s) URLs of other deployments
    gpu_ids: tuple[int, ...] = ()  # compose: pin these GPU ids instead of a count
    namespace: str = "default"  # Kubernetes namespace
    storage_class: str | None = None  # Kubernetes: storage class of the model-cache volume (default: cluster's)
    engine_prefix: str = "/opt/deploykit"  # systemd: where a native engine lives (<prefix>/<engine>/bin/...)
    extra_args: tuple[str, ...] = field(default_factory=tuple)  # appended to the engine's argv
    # Ollama has no API key: a non-loopback bind is refused unless this is set (an explicit, loudly warned opt-out)
    expose_ollama_unauthenticated: bool = False
    rerender: str = ""  # the command that re-renders these files (file headers); default: rerender_command()

    @property
    def exposed(self) -> bool:
        return self.host not in LOOPBACK


def start_period_s(plan: Plan) -> int:
    """Health checks must not fail a model that is still loading: twice the planned load time, plus two minutes
    for the first start's download check and engine warm-up (CUDA graphs, compile)."""
    load = plan.estimates.time_to_load_s if plan.estimates else 120
    return int(math.ceil((2 * load + 120) / 10.0) * 10)


def cache_size_gi(plan: Plan) -> int:
    """Model-cache volume: the weights plus 30% for tokenizer files and a second revision, at least 10 GiB."""
    return max(10, int(math.ceil(plan.weights["size_gib"] * 1.3)))


def _fallbacks(fallbacks: tuple[str, ...]) -> list[dict]:
    out = []
    for i, fb in enumerate(fallbacks, 1):
        if fb.startswith(("http://", "https://")):
            validation.http_url("--fallback", fb)
            if validation.has_credentials(fb) or "key=" in fb.lower() or "token=" in fb.lower():
                raise UsageError(f"--fallback {validation.redact_url(fb)} carries credentials, which would be "
                                 "written into the LiteLLM file",
                                 fix="drop them from the URL and export FALLBACK_API_KEY instead (the file reads "
                                     "os.environ/FALLBACK_API_KEY)")
            out.append({"name": f"fallback-{i}", "model": "openai/default", "api_base": fb,
                        "api_key_env": "FALLBACK_API_KEY"})
            continue
        validation.text("--fallback", fb)
        provider, sep, model = fb.partition("/")
        if not sep or not model:
            raise UsageError(f"--fallback '{fb}' is neither provider/model nor a URL",
                             fix="use e.g. --fallback openai/gpt-4.1-mini or --fallback http://other-host:8000/v1")
        if not re.fullmatch(r"[a-z0-9_]{1,40}", provider):
            raise UsageError(f"--fallback provider {provider!r} is not a LiteLLM provider name",
                             fix="use e.g. --fallback openai/gpt-4.1-mini")
        out.append({"name": model, "model": fb, "api_base": None,
                    "api_key_env": PROVIDER_KEYS.get(provider, f"{provider.upper()}_API_KEY")})
    return out


def option_flags(opts: RenderOptions) -> list[str]:
    """The `deploykit render` flags that give ``opts`` (only those that differ from the defaults)."""
    flags: list[str] = []
    for flag, value, default in (("--name", opts.name, None), ("--host", opts.host, "127.0.0.1"),
                                 ("--port", opts.port, None), ("--namespace", opts.namespace, "default"),
                                 ("--storage-class", opts.storage_class, None)):
        if value != default:
            flags += [flag, str(value)]
    if opts.api_key:
        flags.append("--api-key")
    for fb in opts.fallbacks:
        flags += ["--fallback", fb]
    if opts.gpu_ids:
        flags += ["--gpu-ids", ",".join(str(i) for i in opts.gpu_ids)]
    return flags


def rerender_command(plan: Plan, opts: RenderOptions, planning: list[str] | None = None) -> str:
    """`deploykit render ...` that makes these files again: the planning flags given (``planning``), else the
    plan's own choices pinned (hardware, engine, weights, KV format, context), plus the render options."""
    if planning is None:
        hw = plan.hardware
        planning = [plan.model["name"], "--profile", hw["profile"], "--gpus", str(hw.get("gpus", 1))]
        if hw.get("nodes", 1) > 1:
            planning += ["--nodes", str(hw["nodes"])]
        planning += ["--engine", plan.engine, "--quant", plan.weights["dtype"], "--context", str(plan.max_model_len)]
        if plan.kv_cache_dtype != "auto":
            planning += ["--kv-cache-dtype", plan.kv_cache_dtype]
    return shell_argv(["deploykit", "render", *planning, *option_flags(opts)])


def build(plan: Plan, opts: RenderOptions) -> dict:
    if not plan.fits:
        raise UsageError(f"the plan for {plan.model['name']} does not fit, so there is nothing to render",
                         fix="run deploykit plan to see the alternatives that fit, and render one of those")
    engine = plan.engine
    validation.host(opts.host)
    if opts.storage_class is not None:
        validation.text("--storage-class", opts.storage_class, max_len=253)
    if engine == "ollama" and opts.exposed and not opts.expose_ollama_unauthenticated:
        raise UsageError(
            f"Ollama has no API key: binding it to {opts.host} would open its whole API (pull, create, delete) to "
            "the network",
            fix="keep Ollama on 127.0.0.1 and expose the authenticating LiteLLM gateway in front of it: render "
                "--target litellm, then LITELLM_MASTER_KEY=<key> litellm --config litellm-config.yaml --host "
                f"{opts.host}; or, knowing the risk, pass --expose-ollama-unauthenticated")
    name = dns_label(opts.name or plan.model["name"], 40)
    serve = A.Serve(host=opts.host, port=opts.port, extra_args=opts.extra_args)
    port = serve.port_for(engine)
    in_container = A.Serve(host="0.0.0.0", port=port, extra_args=opts.extra_args)
    require_key = opts.exposed or opts.api_key
    kind = plan_kind(plan)
    versions = engine_versions()[engine]
    start = start_period_s(plan)
    ctx = {
        "deploykit_version": __version__, "name": name, "engine": engine, "kind": kind,
        "served_name": A.served_name(plan), "model_name": plan.model["name"], "hf_repo": plan.model["hf_repo"],
        "weights": plan.weights, "plan": plan.model_dump(mode="json"),
        "summary": _summary(plan), "host": opts.host, "port": port, "exposed": opts.exposed,
        "api_key_env": (API_KEY_ENV[engine] or "OLLAMA_API_KEY") if require_key else None,
        # Kubernetes: a Service reaches the pod from the whole cluster, so the key (from a Secret) is always required
        "k8s_api_key_env": API_KEY_ENV[engine] or "OLLAMA_API_KEY",
        "ollama_unauthenticated": engine == "ollama" and opts.exposed,
        "engine_version": versions["version"], "image": _image(engine, kind, versions),
        "load_time_s": int(plan.estimates.time_to_load_s) if plan.estimates else 0,
        "start_period_s": start, "startup_failure_threshold": start // 10,
        "gpus": plan.gpus_used if kind == "nvidia" else 0, "gpu_ids": list(opts.gpu_ids),
        "nodes": plan.hardware.get("nodes", 1), "gpus_per_node": plan.hardware.get("gpus", 1),
        "hf_cache_in_container": HF_CACHE_IN_CONTAINER, "cache_size_gi": cache_size_gi(plan),
        "namespace": dns_label(opts.namespace), "storage_class": opts.storage_class,
        "fallbacks": _fallbacks(opts.fallbacks), "engine_prefix": opts.engine_prefix,
        "rerender": opts.rerender or rerender_command(plan, opts),
    }
    if engine == "vllm":
        spans = A.spans_nodes(plan)
        pod = A.vllm_argv(plan, in_container, data_parallel=1)
        ctx.update(
            engine_args=A.vllm_engine_args(plan), model_ref=A.vllm_model_ref(plan), argv=A.vllm_argv(plan, serve),
            container_args=A.vllm_argv(plan, in_container, binary=()), spans_nodes=spans,
            config_argv=[A.vllm_model_ref(plan), "--config", "vllm-config.yaml", "--host", opts.host,
                         "--port", str(port), *opts.extra_args],
            local_gpus=plan.tensor_parallel_size * plan.pipeline_parallel_size * A.local_data_parallel(plan),
            pod_gpus=(plan.hardware.get("gpus", 1) if spans else plan.tensor_parallel_size *
                      plan.pipeline_parallel_size),
            replicas=plan.data_parallel_size, pod_args=pod,
            leader_script=_leader_script(pod, plan) if spans else None,
            # /dev/shm carries NCCL traffic between ranks: lws's vLLM example (docs/examples/vllm/GPU/lws.yaml)
            # gives a TP=8 pod 15Gi; a single-GPU pod needs little beyond Python's own use
            shm_size_gi=16 if plan.tensor_parallel_size * plan.pipeline_parallel_size > 1 else 2,
            binary=f"{opts.engine_prefix}/vllm/bin/vllm")
    elif engine == "llamacpp":
        ctx.update(argv=A.llamacpp_argv(plan, serve), container_args=A.llamacpp_argv(plan, in_container, binary="")[1:],
                   binary=f"{opts.engine_prefix}/llama.cpp/bin/llama-server")
    else:
        served = A.served_name(plan)
        ctx.update(tag=A.ollama_tag(plan), parameters=A.ollama_parameters(plan),
                   ollama_model=served if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}", served) else name,
                   ollama_env=A.ollama_env(plan, serve), ollama_env_container=A.ollama_env(plan, in_container),
                   ollama_url=A.base_url(opts.host, port).removesuffix("/v1"))
    ctx["base_url"] = A.base_url(opts.host, port)
    return ctx


def _leader_script(pod_args: list[str], plan: Plan) -> str:
    """LWS leader: start the Ray head, wait until every node's GPUs have joined (vLLM refuses to start on a
    partial cluster), then exec vLLM with the Ray executor."""
    need = plan.tensor_parallel_size * plan.pipeline_parallel_size
    wait = ('import ray, sys; ray.init(address="auto", logging_level="ERROR"); '
            f'sys.exit(0 if ray.cluster_resources().get("GPU", 0) >= {need} else 1)')
    return (f"ray start --head --port=6379 && until python3 -c {shell(wait)}; do echo waiting for "
            f"{need} GPUs to join the Ray cluster; sleep 5; done && exec {shell_argv(pod_args)}")


def plan_kind(plan: Plan) -> str:
    """nvidia, apple or cpu: the kind of the plan's hardware profile."""
    from deploykit.catalog.loader import get_profile
    return plan.hardware.get("kind") or get_profile(plan.hardware["profile"]).kind


def _image(engine: str, kind: str, versions: dict) -> str | None:
    image = versions.get("image")
    if engine == "llamacpp":
        return versions["image_cuda"] if kind == "nvidia" else versions["image_cpu"]
    return image


def _summary(plan: Plan) -> str:
    hw = plan.hardware
    where = f"{hw['gpus']} x {hw['profile']}" + (f" x {hw['nodes']} nodes" if hw.get("nodes", 1) > 1 else "")
    layout = (f"TP{plan.tensor_parallel_size} PP{plan.pipeline_parallel_size} DP{plan.data_parallel_size}"
              if plan.engine == "vllm" else f"{plan.gpu_layers}/{plan.total_layers} layers on GPU")
    return (f"{plan.model['name']} ({plan.weights['dtype']}) on {where} with {plan.engine}: {layout}, "
            f"context {plan.max_model_len}, {plan.max_num_seqs} sequences, KV {plan.kv_cache_dtype}")
