"""Reading a GGUF header (ggml docs/gguf.md) into a ModelSpec, on a file written here byte by byte, and on the real
Gemma 3 270M file when scripts/test.sh has assembled it."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from needs import need_env

from deploykit.catalog.gguf import read_metadata, spec_from_gguf
from deploykit.catalog.resolve import resolve_model
from deploykit.errors import ModelConfigError


def gguf_bytes(kv: dict[str, object], tokens: int = 3) -> bytes:
    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv) + 1)
    for key, value in kv.items():
        if isinstance(value, str):
            out += s(key) + struct.pack("<I", 8) + s(value)
        else:
            out += s(key) + struct.pack("<II", 4, value)
    out += s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, tokens) + b"".join(s(f"t{i}") for i in
                                                                                        range(tokens))
    return out


LLAMA = {"general.architecture": "llama", "general.file_type": 15, "llama.block_count": 4,
         "llama.embedding_length": 512, "llama.attention.head_count": 8, "llama.attention.head_count_kv": 2,
         "llama.feed_forward_length": 1024, "llama.context_length": 4096}


def test_header_becomes_a_spec(tmp_path: Path) -> None:
    path = tmp_path / "mini-llama.Q4_K_M.gguf"
    path.write_bytes(gguf_bytes(LLAMA, tokens=5))
    meta = read_metadata(path)
    assert meta["llama.block_count"] == 4 and meta["tokenizer.ggml.tokens"] == 5
    spec = spec_from_gguf(path)
    a = spec.architecture
    assert (a.num_layers, a.hidden_size, a.num_attention_heads, a.num_kv_heads, a.head_dim, a.vocab_size) == (
        4, 512, 8, 2, 64, 5)
    (art,) = spec.artifacts
    assert art.format == "gguf-q4_k_m" and art.gguf_file == path.name and spec.provenance == "gguf-file"
    assert resolve_model(str(path)).architecture == a


@pytest.mark.parametrize(("data", "message"), [
    (b"NOPE" + bytes(20), "not a GGUF file"),
    (b"GGUF" + struct.pack("<I", 3), "cannot read the GGUF header"),
])
def test_broken_files_are_model_config_errors(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(data)
    with pytest.raises(ModelConfigError, match=message):
        read_metadata(path)


def test_unknown_file_type_names_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "odd.gguf"
    path.write_bytes(gguf_bytes({**LLAMA, "general.file_type": 99}))
    with pytest.raises(ModelConfigError) as err:
        spec_from_gguf(path)
    assert "gguf-q4_k_m" in err.value.fix


def test_the_real_gemma_file() -> None:
    path = need_env("DEPLOYKIT_GEMMA_GGUF", "scripts/engines/gemma_gguf.sh assembles the GGUF")
    link = Path(os.environ.get("TMPDIR", "/tmp")) / f"deploykit-test-{os.getpid()}-unknown-name.gguf"
    link.symlink_to(path)
    try:
        spec = spec_from_gguf(link)
    finally:
        link.unlink()
    a = spec.architecture
    # Gemma 3 270M's config.json: 18 layers, hidden 640, 4 heads, 1 KV head, head_dim 256, 262,144 tokens
    assert (a.num_layers, a.hidden_size, a.num_attention_heads, a.num_kv_heads, a.head_dim, a.vocab_size) == (
        18, 640, 4, 1, 256, 262144)
    assert a.attention.kind == "sliding" and a.attention.window == 512
    assert abs(spec.params_total_b - 0.268) < 0.02  # the card's 268M
