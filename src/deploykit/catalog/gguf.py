"""A GGUF file's own metadata (ggml-org/ggml docs/gguf.md: magic, version, counts, typed key/value pairs), read
without loading tensors, and turned into a ModelSpec: the air-gapped case where a single .gguf file is all there
is."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any, BinaryIO

from deploykit.catalog.hf_config import spec_from_config
from deploykit.catalog.loader import ModelSpec
from deploykit.catalog.schema import Artifact
from deploykit.errors import ModelConfigError

# value types (gguf.md: GGUF_TYPE_*)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
# llama.cpp's LLAMA_FTYPE (general.file_type) -> deploykit's weight format
# (include/llama.h enum llama_ftype). unsloth's dynamic (UD) files carry the file type of their base recipe.
FILE_TYPES = {1: "gguf-f16", 32: "gguf-bf16", 2: "gguf-q4_0", 7: "gguf-q8_0", 10: "gguf-q2_k", 12: "gguf-q3_k_m",
              14: "gguf-q4_k_s", 15: "gguf-q4_k_m", 17: "gguf-q5_k_m", 18: "gguf-q6_k", 19: "gguf-iq2_xxs",
              23: "gguf-iq3_xxs", 24: "gguf-iq1_s", 27: "gguf-iq3_m", 29: "gguf-iq2_m", 30: "gguf-iq4_xs",
              38: "gguf-mxfp4_moe"}
_ARRAY_KEEP = ("tokenizer.ggml.tokens",)  # arrays whose length matters (vocab size); contents are skipped


_SHARD = re.compile(r"^(?P<stem>.*)-00001-of-(?P<count>\d{5})\.gguf$")


def gguf_shards(first: str) -> list[str]:
    """Every file of a GGUF: the name itself, or for a split GGUF (llama.cpp gguf-split naming, the first shard
    NAME-00001-of-0000N.gguf) all N shard names, in order. Folders in the name are kept."""
    split = _SHARD.match(first)
    if not split:
        return [first]
    count = int(split.group("count"))
    return [f"{split.group('stem')}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1)]


def _read(fh: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise ValueError("truncated file")
    return struct.unpack(fmt, data)[0]


def _string(fh: BinaryIO) -> str:
    n = _read(fh, "<Q")
    if n > 1 << 24:
        raise ValueError(f"implausible string length {n}")
    return fh.read(n).decode("utf-8", errors="replace")


def _value(fh: BinaryIO, kind: int, keep: bool) -> Any:
    if kind in _SCALARS:
        return _read(fh, _SCALARS[kind])
    if kind == _STRING:
        return _string(fh)
    if kind == _ARRAY:
        inner, count = _read(fh, "<I"), _read(fh, "<Q")
        if inner in _SCALARS and not keep:
            fh.seek(count * struct.calcsize(_SCALARS[inner]), 1)
            return count
        items = [_value(fh, inner, False) for _ in range(count)]
        return count if not keep else items
    raise ValueError(f"unknown GGUF value type {kind}")


def read_metadata(path: Path) -> dict[str, Any]:
    """Every key/value of the header (arrays as their length, except the token list's length is what we keep)."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"GGUF":
                raise ModelConfigError(f"{path} is not a GGUF file (no GGUF magic)",
                                       fix="pass a .gguf model file, or a model directory with config.json")
            version = _read(fh, "<I")
            if version < 2:
                raise ModelConfigError(f"{path} is GGUF version {version}; only 2 and 3 are read",
                                       fix="convert it again with a current llama.cpp")
            _read(fh, "<Q")  # tensor count
            meta: dict[str, Any] = {"__version__": version}
            for _ in range(_read(fh, "<Q")):
                key = _string(fh)
                meta[key] = _value(fh, _read(fh, "<I"), keep=False)
            return meta
    except RecursionError:
        raise ModelConfigError(f"cannot read the GGUF header of {path}: arrays nested beyond reason",
                               fix="check the file is complete (compare its size and sha256 with the source)") from None
    except (OSError, ValueError, struct.error) as exc:
        raise ModelConfigError(f"cannot read the GGUF header of {path}: {exc}",
                               fix="check the file is complete (compare its size and sha256 with the source)") from exc


def config_from_metadata(meta: dict[str, Any], path: Path) -> dict[str, Any]:
    """The Hugging Face config.json fields deploykit plans with, from the llama.cpp keys."""
    arch = meta.get("general.architecture")
    if not arch:
        raise ModelConfigError(f"{path} has no general.architecture", fix="use a GGUF converted by llama.cpp")
    if not isinstance(arch, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", arch):
        raise ModelConfigError(f"{path}: general.architecture {str(arch)[:40]!r} is not an architecture name",
                               fix="use a GGUF converted by llama.cpp")

    def key(name: str, default: Any = None) -> Any:
        return meta.get(f"{arch}.{name}", default)

    needed = {"block_count", "embedding_length", "attention.head_count"}
    missing = [n for n in needed if key(n) is None]
    if missing:
        raise ModelConfigError(f"{path} lacks {', '.join(f'{arch}.{m}' for m in missing)}",
                               fix="use a GGUF converted by a current llama.cpp")
    for n in sorted(needed):
        value = key(n)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100_000_000:
            raise ModelConfigError(f"{path}: {arch}.{n} is {str(value)[:40]!r}, not a positive integer",
                                   fix="use a GGUF converted by a current llama.cpp")
    hidden, heads = key("embedding_length"), key("attention.head_count")
    config: dict[str, Any] = {
        "model_type": arch, "architectures": [arch], "num_hidden_layers": key("block_count"), "hidden_size": hidden,
        "num_attention_heads": heads, "num_key_value_heads": key("attention.head_count_kv") or heads,
        "head_dim": key("attention.key_length") or hidden // heads,
        "intermediate_size": key("feed_forward_length") or 4 * hidden,
        "vocab_size": meta.get("tokenizer.ggml.tokens") or 32000,
        "max_position_embeddings": key("context_length") or 4096, "torch_dtype": "bfloat16",
        # the header does not say whether the output matrix is the embedding's; Gemma ties them
        "tie_word_embeddings": arch.startswith("gemma")}
    if key("attention.sliding_window"):
        config["sliding_window"] = key("attention.sliding_window")
        if arch == "gemma3":  # llama.cpp's gemma3 graph: 5 sliding layers, then 1 global
            config["sliding_window_pattern"] = 6
    if key("expert_count"):
        config.update(num_local_experts=key("expert_count"), num_experts_per_tok=key("expert_used_count") or 1,
                      moe_intermediate_size=key("expert_feed_forward_length") or config["intermediate_size"])
    return config


def spec_from_gguf(path: Path) -> ModelSpec:
    path = path.absolute()  # the name as given (a symlink keeps its own name); reading follows it
    meta = read_metadata(path)
    config = config_from_metadata(meta, path)
    fmt = FILE_TYPES.get(meta.get("general.file_type", -1))
    if fmt is None:
        raise ModelConfigError(f"{path.name}: GGUF file type {meta.get('general.file_type')} is not one deploykit "
                               "plans with", fix=f"use one of: {', '.join(sorted(set(FILE_TYPES.values())))}")
    spec = spec_from_config(config, repo=str(path.with_suffix("")), source=f"{path} (GGUF metadata)",
                            provenance="gguf-file")
    artifact = Artifact(format=fmt, hf_repo=f"local/{spec.name}", gguf_file=path.name,
                        size_gb=max(path.stat().st_size / 1e9, 1e-6), source=f"file://{path}")
    return spec.model_copy(update={"artifacts": [artifact]})
