"""Properties every plan must have, over random models, boxes and workloads (hypothesis)."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploykit.catalog.loader import load_models, load_profiles
from deploykit.planning.box import simulated_box
from deploykit.planning.planner import plan
from deploykit.planning.policy import FORMAT_QUALITY
from deploykit.planning.types import Policy, Workload

MODELS = sorted(load_models())
NVIDIA = sorted(p for p, v in load_profiles().items() if v.kind == "nvidia")
OTHER = sorted(p for p, v in load_profiles().items() if v.kind != "nvidia")
SETTINGS = settings(max_examples=int(__import__("os").environ.get("DEPLOYKIT_PROPERTY_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

boxes = st.one_of(
    st.builds(lambda p, g: simulated_box(load_profiles()[p], g), st.sampled_from(NVIDIA), st.sampled_from([1, 2, 4, 8])),
    st.builds(lambda p: simulated_box(load_profiles()[p]), st.sampled_from(OTHER)))
workloads = st.builds(Workload, context=st.one_of(st.none(), st.integers(512, 262_144)),
                      concurrency=st.one_of(st.none(), st.integers(1, 64)))


@SETTINGS
@given(name=st.sampled_from(MODELS), box=boxes, workload=workloads)
def test_fitting_plans_respect_capacity_heads_and_context(name, box, workload):
    spec = load_models()[name]
    p = plan(spec, box, workload, with_alternatives=False)
    if not p.fits:
        return
    a = spec.architecture
    m = p.memory.per_gpu
    used = m.weights_gib + m.kv_cache_gib + m.activation_gib + m.overhead_gib
    if p.engine == "vllm":
        assert used <= m.budget_gib + 0.02
        assert m.budget_gib <= m.capacity_gib
        assert a.num_attention_heads % p.tensor_parallel_size == 0
        assert p.tensor_parallel_size * p.pipeline_parallel_size * p.data_parallel_size <= box.total_gpus
        assert p.max_concurrency_at_max_len >= (workload.concurrency or 1) - 1e-9
    elif p.gpu_layers == a.num_layers or box.profile.kind == "cpu":
        # gguf_budget already leaves the per-GPU ggml overhead out of the budget, so it is not added again here
        assert used - m.overhead_gib <= m.budget_gib + 0.02
    assert 0 < p.max_model_len <= a.max_context
    if workload.context:
        assert p.max_model_len == min(workload.context, a.max_context)


@SETTINGS
@given(name=st.sampled_from(MODELS), profile=st.sampled_from(NVIDIA), gpus=st.sampled_from([1, 2, 4, 8]),
       grow=st.floats(1.1, 3.0), context=st.one_of(st.none(), st.integers(2048, 131_072)))
def test_more_memory_never_gives_a_worse_plan(name, profile, gpus, grow, context):
    spec = load_models()[name]
    small = simulated_box(load_profiles()[profile], gpus)
    big = small.model_copy(update={"memory_total_bytes": int(small.memory_total_bytes * grow)})
    workload = Workload(context=context)
    before = plan(spec, small, workload, Policy(engine="vllm"), with_alternatives=False)
    after = plan(spec, big, workload, Policy(engine="vllm"), with_alternatives=False)
    if not before.fits:
        return
    assert after.fits
    assert after.max_model_len >= before.max_model_len
    footprint = lambda p: p.tensor_parallel_size * p.pipeline_parallel_size  # noqa: E731
    # A better-or-equal weight format, unless the extra memory bought a simpler layout (fewer GPUs per replica).
    assert (FORMAT_QUALITY[after.weights["dtype"]] >= FORMAT_QUALITY[before.weights["dtype"]]
            or footprint(after) < footprint(before) or after.pipeline_parallel_size < before.pipeline_parallel_size)


def test_nothing_fits_gives_alternatives_that_fit():
    spec = load_models()["llama-3.1-405b"]
    p = plan(spec, simulated_box(load_profiles()["l4"], 1))
    assert not p.fits and p.alternatives
    assert all(a.gpus_used >= 1 and a.max_model_len > 0 for a in p.alternatives)
    assert any("smaller model" in a.change for a in p.alternatives)
    assert math.isclose(p.max_concurrency_at_max_len, 0.0)
