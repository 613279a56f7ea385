"""The representative plans rendered into golden files (tests/golden/<case>/...)."""

from __future__ import annotations

from deploykit.catalog.loader import get_profile
from deploykit.catalog.resolve import resolve_model
from deploykit.planning.box import simulated_box
from deploykit.planning.planner import plan
from deploykit.planning.types import Plan, Policy, Workload
from deploykit.rendering.context import RenderOptions

# case -> (model, profile, gpus, nodes, policy, options)
CASES = {
    "single-gpu-vllm": ("llama-3.1-8b", "h100-sxm", 1, 1, Policy(), RenderOptions()),
    "tp8-vllm-exposed": ("llama-3.1-405b", "h100-sxm", 8, 1, Policy(),
                         RenderOptions(host="0.0.0.0", fallbacks=("openai/gpt-4.1-mini",
                                                                  "http://10.0.0.7:8000/v1"))),
    "multi-node-lws": ("llama-3.1-405b", "h100-sxm", 8, 2, Policy(quant="bf16"), RenderOptions(namespace="llm")),
    "apple-ollama": ("gemma-3-12b", "m3-max", 1, 1, Policy(), RenderOptions(fallbacks=("anthropic/claude-haiku-4",))),
    "rtx4090-ollama": ("qwen2.5-7b", "rtx-4090", 1, 1, Policy(), RenderOptions(gpu_ids=(1,))),
    "cpu-llamacpp": ("gemma-3-270m", "cpu-server", 1, 1, Policy(), RenderOptions()),
}


def case_plan(case: str) -> tuple[Plan, str, RenderOptions]:
    model, profile, gpus, nodes, policy, opts = CASES[case]
    prof = get_profile(profile)
    result = plan(resolve_model(model), simulated_box(prof, gpus, nodes), Workload(), policy)
    assert result.fits, f"golden case {case} no longer fits: {result.reasons}"
    return result, prof.kind, opts
