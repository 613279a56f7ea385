"""Rerankers (Qwen3 Reranker) plan as pooling models with task rerank: vLLM's pooling runner with the
--hf-overrides the original checkpoints need, llama-server --reranking; the plan lock keeps the overrides."""

import json

import yaml

from deploykit.catalog.loader import get_model, get_profile
from deploykit.planning.box import simulated_box
from deploykit.planning.lockfile import lock_data, parse_lock
from deploykit.planning.planner import plan
from deploykit.planning.types import Policy, Workload
from deploykit.rendering import argv as A


def _plan(model, profile, gpus=1):
    return plan(get_model(model), simulated_box(get_profile(profile), gpus), Workload(), Policy())


def test_reranker_on_a_gpu_is_a_vllm_pooling_model_with_its_overrides():
    p = _plan("qwen3-reranker-8b", "l4")
    assert p.fits and p.engine == "vllm" and p.task == "rerank"
    assert p.max_model_len == 32768  # the whole context, as for embedding models
    assert p.estimates.decode_tokens_per_s == 0
    args = A.vllm_engine_args(p)
    assert args["runner"] == "pooling"
    overrides = json.loads(args["hf-overrides"])
    assert overrides == {"architectures": ["Qwen3ForSequenceClassification"], "classifier_from_token": ["no", "yes"],
                         "is_original_qwen3_reranker": True}
    assert "reasoning-parser" not in args and "tool-call-parser" not in args
    assert any(r.startswith("task rerank:") for r in p.reasons)


def test_reranker_on_a_cpu_is_llama_server_reranking():
    p = _plan("qwen3-reranker-0.6b", "cpu-server")
    assert p.fits and p.engine == "llamacpp" and p.task == "rerank"
    cmd = A.llamacpp_args(p)
    assert "--reranking" in cmd and "--embedding" not in cmd and "--jinja" not in cmd
    assert p.weights["gguf_file"] == "qwen3-reranker-0.6b-q8_0.gguf"


def test_embedding_models_stay_embed_and_chat_models_generate():
    assert _plan("qwen3-embedding-0.6b", "l4").task == "embed"
    emb = A.llamacpp_args(_plan("nomic-embed-text-v1.5", "cpu-server").model_copy(update={"engine": "llamacpp"}))
    assert "--reranking" not in emb
    assert _plan("qwen3-8b", "l4").task == "generate"


def test_the_lock_keeps_the_rerank_task_and_overrides():
    p = _plan("qwen3-reranker-4b", "l4")
    _, again = parse_lock(yaml.safe_dump(lock_data(p, {"model": "qwen3-reranker-4b"}), sort_keys=False))
    assert again.task == "rerank"
    assert A.vllm_engine_args(again)["hf-overrides"] == A.vllm_engine_args(p)["hf-overrides"]


def test_a_mac_serves_a_reranker_with_llama_server_not_ollama():
    """Ollama (a Mac's default engine) has no rerank endpoint: the plan takes llama.cpp and says why."""
    p = _plan("qwen3-reranker-0.6b", "m3-max")
    assert p.fits and p.engine == "llamacpp" and p.task == "rerank"
    assert "no rerank endpoint" in p.reasons[0]
    forced = plan(get_model("qwen3-reranker-0.6b"), simulated_box(get_profile("m3-max"), 1), Workload(),
                  Policy(engine="ollama"))
    assert any("no rerank endpoint" in w and "--engine llamacpp" in w for w in forced.warnings)
