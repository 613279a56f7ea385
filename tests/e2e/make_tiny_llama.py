#!/usr/bin/env python3
"""Build a tiny random-weight Llama model directory, fully offline and deterministically.

Run with an engine venv's python (needs torch, transformers, tokenizers, safetensors;
NOT deploykit):

    python make_tiny_llama.py OUT_DIR

The result (about 3 MB) is a complete Hugging Face model directory that vLLM (CPU
build) serves: config.json, model.safetensors (bf16), tokenizer.json,
tokenizer_config.json (with a Jinja chat template, so /v1/chat/completions works),
special_tokens_map.json and generation_config.json.

Idempotent: if OUT_DIR/config.json exists and OUT_DIR/.tiny_llama_stamp matches this
script's recipe, it exits at once. Otherwise it builds into a temporary directory next
to OUT_DIR and renames it into place. Prints OUT_DIR on success.

Shape: hidden 256, intermediate 512, 2 layers, 4 attention heads, 2 KV heads,
so head_dim = 64 (the CPU attention kernel refuses head_dim 16).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

RECIPE_VERSION = "tiny-llama-v1"
SEED = 1234
VOCAB_SIZE = 1024

SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '</s>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)

CORPUS = """\
The quick brown fox jumps over the lazy dog. A small model can still answer a request,
even when its weights are random and its words make little sense. Deployment tools need
a real engine to talk to, and a tiny model is the cheapest way to get one on a laptop.

Large language models are served by engines such as vLLM and llama.cpp. An engine loads
the weights, allocates a key and value cache, and then listens for requests over HTTP.
Clients send prompts to the completions endpoint or messages to the chat endpoint, and
the server streams back tokens until it reaches a stop condition or the token limit.

The planner chooses a tensor parallel size, a maximum context length and a number of
concurrent sequences that fit the memory of the machine. When the cache is too small for
one request of the full context, the engine refuses to start and says how long a context
it could hold instead. When a port is already taken, the server cannot bind its socket.

Hello, world! How are you today? I am fine, thank you. What is the weather like in Paris,
London, Tokyo, Berlin and New York? It is sunny, cloudy, rainy, windy or snowy. Numbers:
0 1 2 3 4 5 6 7 8 9 10 11 12 42 100 256 512 1024 2048 4096. Symbols: + - * / = < > ( ) [ ] { } : ; , . ! ? ' " # $ % & @ _ ~ |
user assistant system: You are a helpful assistant. Please answer briefly and politely.
"""

CONFIG = dict(
    vocab_size=VOCAB_SIZE,
    hidden_size=256,
    intermediate_size=512,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=64,
    max_position_embeddings=2048,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    hidden_act="silu",
    initializer_range=0.02,
    tie_word_embeddings=False,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=3,
)


def recipe_stamp() -> str:
    """A digest of everything that determines the output."""
    h = hashlib.sha256()
    for part in (RECIPE_VERSION, str(SEED), CORPUS, CHAT_TEMPLATE, json.dumps(CONFIG, sort_keys=True)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def build_tokenizer(out: Path) -> int:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Repeat the corpus so merges have counts; training is deterministic for fixed input.
    tok.train_from_iterator([CORPUS] * 4, trainer=trainer)
    for i, t in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(t) == i, (t, tok.token_to_id(t))

    tok.save(str(out / "tokenizer.json"))
    # Written by hand (not save_pretrained) so the files read the same under
    # transformers 4.x and 5.x: the chat template lives in tokenizer_config.json.
    added = {
        str(i): {
            "content": t,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for i, t in enumerate(SPECIAL_TOKENS)
    }
    tok_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": added,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "model_max_length": CONFIG["max_position_embeddings"],
        "clean_up_tokenization_spaces": False,
        "add_bos_token": False,
        "add_eos_token": False,
        "chat_template": CHAT_TEMPLATE,
    }
    _write_json(out / "tokenizer_config.json", tok_config)
    _write_json(
        out / "special_tokens_map.json",
        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"},
    )
    # Check that transformers reads it back and the template renders.
    fast = PreTrainedTokenizerFast.from_pretrained(str(out))
    rendered = fast.apply_chat_template(
        [{"role": "user", "content": "Hello"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered.startswith("<s><|user|>") and rendered.endswith("<|assistant|>\n"), rendered
    return tok.get_vocab_size()


def build_model(out: Path, vocab_size: int) -> None:
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(SEED)
    cfg = dict(CONFIG)
    cfg["vocab_size"] = vocab_size
    config = LlamaConfig(**cfg)
    config.dtype = torch.bfloat16
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.eval()
    model.save_pretrained(str(out), safe_serialization=True)

    gen = GenerationConfig(
        bos_token_id=cfg["bos_token_id"],
        eos_token_id=cfg["eos_token_id"],
        pad_token_id=cfg["pad_token_id"],
        do_sample=False,
    )
    gen.save_pretrained(str(out))


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: python make_tiny_llama.py OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[1]).resolve()
    stamp = recipe_stamp()
    stamp_file = out / ".tiny_llama_stamp"
    if (out / "config.json").is_file() and stamp_file.is_file() and stamp_file.read_text().strip() == stamp:
        print(out)
        return 0

    # Offline and deterministic.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    random.seed(SEED)
    try:
        import numpy as np

        np.random.seed(SEED)
    except ImportError:
        pass

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=str(out.parent)))
    try:
        vocab_size = build_tokenizer(tmp)
        build_model(tmp, vocab_size)
        (tmp / ".tiny_llama_stamp").write_text(stamp + "\n")
        os.chmod(tmp, 0o755)
        for f in tmp.iterdir():
            os.chmod(f, 0o644)
        try:
            if out.exists():
                old = out.with_name(f".{out.name}.old-{os.getpid()}")
                out.rename(old)
                tmp.rename(out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(out)
        except OSError:
            # A concurrent run may have put an identical directory in place first.
            if not (stamp_file.is_file() and stamp_file.read_text().strip() == stamp):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
