"""Planner estimates against what real engines and experts reported.

- data/vllm_memory_observations.yaml: vLLM startup logs published by others (no GPU here to make our own).
- data/expert_deployments.yaml: published deployments (vLLM recipes and blog, NVIDIA NIM, Qwen benchmarks).
"""

from pathlib import Path

import pytest
import yaml

from deploykit.catalog.loader import find_model, get_profile
from deploykit.planning import memory
from deploykit.planning.box import simulated_box
from deploykit.planning.planner import plan
from deploykit.planning.types import Policy, Workload

DATA = Path(__file__).resolve().parents[2] / "data"
GIB = 1024**3
DTYPES = {"bf16": "bf16", "fp16": "bf16", "fp8": "fp8", "gptq-int4": "gptq-int4", "awq-int4": "awq-int4"}


def v019_rows():
    rows = yaml.safe_load((DATA / "vllm_memory_observations.yaml").read_text())["observations"]
    keep = []
    for r in rows:
        if r.get("vllm_version") != "0.19.0" or not r.get("catalog_name") or r.get("kv_cache_gib") is None:
            continue
        dtype = r["dtype"].split()[0]
        if dtype in DTYPES and r.get("weights_gib"):
            keep.append(pytest.param(r, dtype, id=f"{r['catalog_name']}-tp{r['tensor_parallel_size']}-"
                                                   f"pp{r.get('pipeline_parallel_size') or 1}-{dtype}-{len(keep)}"))
    return keep


def test_there_are_logs_to_compare_with():
    assert len(v019_rows()) >= 15


@pytest.mark.parametrize("row,dtype", v019_rows())
def test_kv_cache_prediction_matches_vllm_logs(row, dtype):
    """The KV-cache size vLLM 0.19 reported, predicted from the catalog within 7% (or 1 GiB on small caches).
    Those logs capture CUDA graphs after sizing the cache, so graphs are left out of this comparison."""
    spec = find_model(row["catalog_name"])
    tp, pp = row["tensor_parallel_size"], row.get("pipeline_parallel_size") or 1
    a = spec.architecture
    weights = memory.weight_bytes(spec, DTYPES[dtype]).per_gpu(tp, pp) / GIB
    act = memory.vllm_activation_bytes(a, tp=tp, batched_tokens=row.get("max_num_batched_tokens") or 8192,
                                       max_num_seqs=row.get("max_num_seqs") or 1024,
                                       vision=spec.vision_params_b > 0) / GIB
    non_torch = memory.vllm_non_torch_bytes(tp, pp) / GIB
    total = row.get("total_gpu_memory_gib") or get_profile("h100-sxm").memory_gib
    predicted = row["gpu_memory_utilization"] * total - weights - act - non_torch
    # 8%: Gemma 3 4B logs 8.58 GiB loaded against 8.01 GiB of safetensors (the one row above 5%; unexplained)
    assert weights == pytest.approx(row["weights_gib"], rel=0.08)
    assert abs(predicted - row["kv_cache_gib"]) <= max(0.07 * row["kv_cache_gib"], 1.0), \
        f"predicted {predicted:.2f} GiB, vLLM logged {row['kv_cache_gib']} GiB"


def expert_rows():
    rows = yaml.safe_load((DATA / "expert_deployments.yaml").read_text())["deployments"]
    return [pytest.param(r, id=f"{i}-{r['model']}-{r['gpus']}x{r['profile']}-{r['weights']}-"
                              f"tp{r['tensor_parallel_size']}") for i, r in enumerate(rows)]


def plan_like(row, quant="auto"):
    box = simulated_box(get_profile(row["profile"]), row["gpus"])
    kv = row.get("kv_cache_dtype") or "auto"
    return plan(find_model(row["model"]), box, Workload(context=row.get("max_model_len")),
                Policy(engine="vllm", quant=quant, kv_cache_dtype="auto" if kv == "auto" else kv))


@pytest.mark.parametrize("row", expert_rows())
def test_expert_deployments_are_feasible(row):
    """Every published deployment, in the expert's format, is one our planner also finds feasible."""
    p = plan_like(row, quant=row["weights"])
    assert p.fits, f"{row['source']}: planner says it does not fit: {p.reasons[:3]}"
    assert p.tensor_parallel_size * p.pipeline_parallel_size <= row["gpus"]


def test_expert_agreement_rate(capsys):
    """With free choice of format and layout, how often the planner lands on the expert's format and TP.
    The rate is printed; the floor guards against regressions."""
    rows = yaml.safe_load((DATA / "expert_deployments.yaml").read_text())["deployments"]
    agree_format = agree_tp = agree_both = 0
    lines = []
    for r in rows:
        p = plan_like(r)
        fmt_ok = p.fits and p.weights["dtype"] == r["weights"]
        tp_ok = p.fits and p.tensor_parallel_size == r["tensor_parallel_size"]
        agree_format += fmt_ok
        agree_tp += tp_ok
        agree_both += fmt_ok and tp_ok
        lines.append(f"{r['model']:18} {r['gpus']}x{r['profile']:14} expert {r['weights']:9} "
                     f"TP{r['tensor_parallel_size']} | planner {p.weights['dtype']:9} TP{p.tensor_parallel_size} "
                     f"DP{p.data_parallel_size} ctx {p.max_model_len} kv {p.kv_cache_dtype}")
    n = len(rows)
    with capsys.disabled():
        print(f"\nexpert agreement over {n} rows: format {agree_format}/{n}, TP {agree_tp}/{n}, both {agree_both}/{n}")
        print("\n".join(lines))
    assert agree_format / n >= 0.5 and agree_tp / n >= 0.5
