"""The render targets: which engines and hardware each serves, and which templates make its files."""

from __future__ import annotations

from dataclasses import dataclass

from deploykit.planning.types import Plan
from deploykit.rendering.argv import spans_nodes


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    files: dict[str, tuple[tuple[str, str], ...]]  # engine -> ((template, output path), ...)
    kinds: tuple[str, ...] = ("nvidia", "apple", "cpu")
    multi_node: bool = False  # renders plans whose replicas span nodes

    def unavailable(self, plan: Plan, kind: str) -> str | None:
        """None when this target can render the plan, else why not (and what to use instead)."""
        if plan.engine not in self.files:
            return f"target {self.name} has no {plan.engine} form (it renders {', '.join(self.files)} plans)"
        if kind not in self.kinds:
            return f"target {self.name} does not apply to {kind} machines"
        if spans_nodes(plan) and not self.multi_node:
            return (f"one replica spans {plan.hardware.get('nodes')} nodes, which needs a multi-node launcher: "
                    "use --target kubernetes (a LeaderWorkerSet)")
        return None


TARGETS: dict[str, Target] = {t.name: t for t in [
    Target("command", "engine command line: serve.sh (argv), vLLM --config YAML, or Ollama Modelfile + commands", {
        "vllm": (("vllm/serve.sh.j2", "serve.sh"), ("vllm/vllm-config.yaml.j2", "vllm-config.yaml")),
        "llamacpp": (("llamacpp/serve.sh.j2", "serve.sh"),),
        "ollama": (("ollama/Modelfile.j2", "Modelfile"), ("ollama/ollama.sh.j2", "ollama.sh")),
    }),
    Target("compose", "docker compose file with the pinned image, GPUs, cache volume and health check", {
        "vllm": (("vllm/compose.yaml.j2", "compose.yaml"),),
        "llamacpp": (("llamacpp/compose.yaml.j2", "compose.yaml"),),
        "ollama": (("ollama/compose.yaml.j2", "compose.yaml"), ("ollama/Modelfile.j2", "Modelfile")),
    }, kinds=("nvidia", "cpu")),
    Target("systemd", "systemd unit for a native install (Ollama: a drop-in for its own service)", {
        "vllm": (("vllm/unit.service.j2", "{name}.service"),),
        "llamacpp": (("llamacpp/unit.service.j2", "{name}.service"),),
        "ollama": (("ollama/dropin.conf.j2", "ollama.service.d/deploykit-{name}.conf"),),
    }, kinds=("nvidia", "cpu")),
    Target("kubernetes", "Deployment + Service + PVC; a LeaderWorkerSet with Ray when a replica spans nodes", {
        "vllm": (("k8s/vllm.yaml.j2", "kubernetes.yaml"),),
    }, kinds=("nvidia",), multi_node=True),
    Target("litellm", "LiteLLM proxy config routing to the endpoint, with fallbacks", {
        "vllm": (("gateway/litellm.yaml.j2", "litellm-config.yaml"),),
        "llamacpp": (("gateway/litellm.yaml.j2", "litellm-config.yaml"),),
        "ollama": (("gateway/litellm.yaml.j2", "litellm-config.yaml"),),
    }, multi_node=True),
    Target("prometheus", "Prometheus scrape config for the engine's /metrics", {
        "vllm": (("monitoring/prometheus.yml.j2", "prometheus.yml"),),
        "llamacpp": (("monitoring/prometheus.yml.j2", "prometheus.yml"),),
    }, multi_node=True),
]}


def applicable(plan: Plan, kind: str) -> list[Target]:
    return [t for t in TARGETS.values() if t.unavailable(plan, kind) is None]
