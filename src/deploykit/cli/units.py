"""Numbers as people type them: token counts (`32k`, `128K`, `1M`) and memory sizes (`64G`, `512GiB`, `80GB`).

Token counts use binary multiples, as model cards do (a "128K" context is 131,072 tokens). Memory sizes: `G`,
`GiB` and `g` are GiB (1024**3 bytes, like `docker -m 64g`); `GB` is 10**9 bytes. A bare number is tokens, or
GiB for memory.
"""

from __future__ import annotations

import re

import typer

TOKEN_UNITS = {"": 1, "k": 1024, "m": 1024**2}
BYTE_UNITS = {"": 1024**3, "k": 1024, "ki": 1024, "kib": 1024, "kb": 10**3,
              "m": 1024**2, "mi": 1024**2, "mib": 1024**2, "mb": 10**6,
              "g": 1024**3, "gi": 1024**3, "gib": 1024**3, "gb": 10**9,
              "t": 1024**4, "ti": 1024**4, "tib": 1024**4, "tb": 10**12}
_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")


def parse_tokens(value: str | int) -> int:
    """``32k`` -> 32768, ``128K`` -> 131072, ``1M`` -> 1048576, ``4096`` -> 4096."""
    if isinstance(value, int):
        return value
    m = _NUMBER.fullmatch(str(value))
    unit = m.group(2).lower() if m else None
    if m is None or unit not in TOKEN_UNITS:
        raise typer.BadParameter(f"'{value}' is not a token count: use e.g. 8192, 32k, 128K or 1M")
    tokens = float(m.group(1)) * TOKEN_UNITS[unit]
    if tokens != int(tokens) or tokens < 1:
        raise typer.BadParameter(f"'{value}' is not a whole number of tokens (at least 1)")
    return int(tokens)


def parse_bytes(value: str | int) -> int:
    """``64G`` / ``64GiB`` / ``64`` -> 64 GiB in bytes; ``80GB`` -> 80 * 10**9; ``512M`` -> 512 MiB."""
    if isinstance(value, int):
        return value * 1024**3
    m = _NUMBER.fullmatch(str(value))
    unit = m.group(2).lower() if m else None
    if m is None or unit not in BYTE_UNITS:
        raise typer.BadParameter(f"'{value}' is not a memory size: use e.g. 64G, 512GiB, 80GB or 2T")
    size = float(m.group(1)) * BYTE_UNITS[unit]
    if size < 1:
        raise typer.BadParameter(f"'{value}' is not a positive memory size")
    return int(size)


def gib(value: str | int) -> float:
    """A memory size in GiB (what the hardware profiles and the planner count in)."""
    return parse_bytes(value) / 1024**3


def context_option(help: str = "Tokens per request to support (max_model_len): 8192, 32k, 128K, 1M."):
    """The --context option every planning command shares."""
    return typer.Option(None, "--context", parser=parse_tokens, metavar="TOKENS", help=help)


def memory_option(flag: str = "--host-memory", help: str = "Memory size: 64G, 512GiB, 80GB, 2T (a bare number is "
                                                           "GiB)."):
    """A memory-size option whose value arrives in GiB (what the profiles and the planner count in)."""
    return typer.Option(None, flag, parser=gib, metavar="SIZE", help=help)
