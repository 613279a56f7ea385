"""Properties every plan must have, over random models, boxes and workloads (hypothesis)."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploykit.catalog.loader import load_models, load_profiles
from deploykit.planning.box import simulated_box
from deploykit.planning.planner import plan
from deploykit.planning.memory import GIB, host_reserve_bytes
from deploykit.planning.policy import USABLE_DECODE_TOKENS_PER_S, usefulness_level
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
    if p.engine == "vllm":
        used = m.weights_gib + m.kv_cache_gib + m.activation_gib + m.overhead_gib
        assert used <= m.budget_gib + 0.02
        assert m.budget_gib <= m.capacity_gib
        assert a.num_attention_heads % p.tensor_parallel_size == 0
        assert p.tensor_parallel_size * p.pipeline_parallel_size * p.data_parallel_size <= box.total_gpus
        assert p.max_concurrency_at_max_len >= (workload.concurrency or 1) - 1e-9
    else:
        _gguf_within_gpu_and_host_memory(p, box, spec)
    limit = spec.rope_scaling.max_context if spec.rope_scaling else a.max_context
    assert 0 < p.max_model_len <= limit
    if workload.context:
        assert p.max_model_len == workload.context  # a requested context is met exactly, or the plan does not fit
        assert (p.rope_scaling is not None) == (workload.context > a.max_context)


def _gguf_within_gpu_and_host_memory(p, box, spec):
    """No plan that claims to fit exceeds GPU plus host memory: what stays on the GPU fits its budget (the per-GPU
    overhead is already taken out of it), and what lives in host memory fits it after the OS's share."""
    m = p.memory.per_gpu
    need = (m.weights_gib + m.kv_cache_gib + m.activation_gib) * GIB
    host = p.host_memory
    assert host is not None
    if box.profile.kind == "cpu" or p.gpu_layers == spec.architecture.num_layers:
        assert need <= m.budget_gib * GIB + 0.02 * GIB
    else:
        assert host["available_gib"] is not None
        assert 0 < p.gpu_layers < spec.architecture.num_layers
        assert p.estimates.decode_tokens_per_s >= USABLE_DECODE_TOKENS_PER_S
    if host["available_gib"] is not None and box.profile.kind != "nvidia" or p.gpu_layers != \
            spec.architecture.num_layers:
        room = host["available_gib"] * GIB - host_reserve_bytes(host["available_gib"] * GIB)
        assert host["needed_gib"] * GIB <= room + 0.02 * GIB


@SETTINGS
@given(name=st.sampled_from(MODELS), profile=st.sampled_from(NVIDIA + OTHER), gpus=st.sampled_from([1, 2, 3, 4, 8]),
       context=st.one_of(st.none(), st.integers(256, 400_000)), concurrency=st.one_of(st.none(), st.integers(1, 32)))
def test_explicit_requirements_are_met_or_the_plan_does_not_fit(name, profile, gpus, context, concurrency):
    prof = load_profiles()[profile]
    if prof.kind != "nvidia":
        gpus = 1
    box = simulated_box(prof, gpus)
    p = plan(load_models()[name], box, Workload(context=context, concurrency=concurrency),
             Policy(use_all_gpus=gpus > 1), with_alternatives=False)
    if not p.fits:
        return
    if context:
        assert p.max_model_len == context
    if concurrency:
        assert p.max_concurrency_at_max_len >= concurrency - 0.01
    if gpus > 1 and p.engine == "vllm":
        assert p.gpus_used == box.total_gpus


@SETTINGS
@given(name=st.sampled_from(MODELS), profile=st.sampled_from(NVIDIA), gpus=st.sampled_from([1, 2, 4]),
       grow=st.floats(1.1, 3.0), more_gpus=st.booleans(), context=st.one_of(st.none(), st.integers(2048, 131_072)))
def test_more_memory_or_gpus_never_serve_fewer_sequences_at_the_same_format(name, profile, gpus, grow, more_gpus,
                                                                             context):
    spec = load_models()[name]
    small = simulated_box(load_profiles()[profile], gpus)
    big = small.model_copy(update={"gpus_per_node": gpus * 2}) if more_gpus else \
        small.model_copy(update={"memory_total_bytes": int(small.memory_total_bytes * grow)})
    workload = Workload(context=context)
    before = plan(spec, small, workload, Policy(engine="vllm"), with_alternatives=False)
    after = plan(spec, big, workload, Policy(engine="vllm"), with_alternatives=False)
    if not before.fits:
        return
    assert after.fits
    assert after.max_model_len >= before.max_model_len
    if after.weights["dtype"] == before.weights["dtype"]:
        # Served as the objective counts it: full-length sequences over all replicas, against the 8 wanted at the
        # working context, in usefulness levels (halvings). Past half the wanted sequences the objective trades
        # extra cache for economy (e.g. two replicas instead of TP2), so the level is what cannot drop.
        def level(p):
            ctx = context or before.workload["context"] or p.max_model_len
            return usefulness_level(p.max_concurrency_at_max_len * p.max_model_len * p.data_parallel_size / (8 * ctx))
        assert level(after) >= level(before)


def test_partial_offload_never_ranks_above_a_model_whole_on_the_gpu():
    from deploykit.planning.ranking import rank

    box = simulated_box(load_profiles()["rtx-4090"])
    ranked = rank(list(load_models().values()), box, Workload(), Policy())
    offloaded = [i for i, r in enumerate(ranked) if r.plan.gpu_layers and r.plan.gpu_layers < r.plan.total_layers]
    whole = [i for i, r in enumerate(ranked) if not (r.plan.gpu_layers and r.plan.gpu_layers < r.plan.total_layers)
             and not {"embeddings", "rerank"} & set(r.spec.uses)]
    assert whole and (not offloaded or max(whole) < min(offloaded))
    assert all(r.plan.estimates.decode_tokens_per_s >= USABLE_DECODE_TOKENS_PER_S for r in ranked
               if r.plan.task == "generate")


def test_nothing_fits_gives_alternatives_that_fit():
    spec = load_models()["llama-3.1-405b"]
    p = plan(spec, simulated_box(load_profiles()["l4"], 1))
    assert not p.fits and p.alternatives
    assert all(a.gpus_used >= 1 and a.max_model_len > 0 for a in p.alternatives)
    assert any("smaller model" in a.change for a in p.alternatives)
    assert math.isclose(p.max_concurrency_at_max_len, 0.0)
