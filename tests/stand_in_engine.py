"""A stand-in engine install for subprocess tests of `up`: a python that runs tests/e2e/fake_engine.py, and a tiny
model directory whose config.json deploykit plans like any other."""

from __future__ import annotations

import json
from pathlib import Path

FAKE = Path(__file__).resolve().parent / "e2e" / "fake_python.sh"
TINY_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256,
               "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
               "head_dim": 64, "vocab_size": 2048, "max_position_embeddings": 2048, "torch_dtype": "bfloat16",
               "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False}


def fake_python_and_model(root: Path) -> tuple[Path, Path]:
    """ROOT/bin/python (the stand-in engine's interpreter) and ROOT/tiny (the model directory)."""
    python = root / "bin" / "python"
    python.parent.mkdir()
    python.symlink_to(FAKE)
    model = root / "tiny"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(TINY_CONFIG))
    return python, model
