"""The safetensors weight formats vLLM serves (data/weight_formats.yaml): bits per weight with the group scales,
the layers a checkpoint usually quantizes, and where each runs natively or emulated."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field

from deploykit.catalog.loader import read_yaml, validate_file
from deploykit.catalog.schema import QuantScope, Strict
from deploykit.errors import DataError
from deploykit.paths import data_dir

FORMATS_FILE = "weight_formats.yaml"
Support = Literal["native", "emulated"]


class FormatInfo(Strict):
    description: str = Field(..., min_length=8, description="what the format stores")
    weight_bits: int = Field(..., gt=0, le=16, description="bits of one quantized value")
    scale_bits: int = Field(..., ge=0, description="bits of one group scale (plus its zero point, if any)")
    group_size: int | None = Field(..., gt=0, description="values sharing one scale; None: per channel or tensor")
    scope: QuantScope = Field(..., description="layers a checkpoint of this format usually quantizes")
    native_cc: str | None = Field(..., pattern=r"^\d+\.\d+$", description="lowest compute capability computing "
                                  "in this format on tensor cores; None: always dequantized")
    runs_cc: str = Field(..., pattern=r"^\d+\.\d+$", description="lowest compute capability vLLM serves it on")
    quant_methods: list[str] = Field(..., min_length=1, description="quantization_config.quant_method spellings")
    source: str = Field(..., min_length=8, description="spec or documentation the figures come from")

    def bits(self, group_size: int | None = None) -> float:
        """Bits one weight costs, its share of the scales included."""
        group = group_size or self.group_size
        return self.weight_bits + (self.scale_bits / group if group else 0.0)


class FormatTable(Strict):
    formats: dict[str, FormatInfo]


@lru_cache(maxsize=1)
def load_formats() -> dict[str, FormatInfo]:
    path = data_dir("data") / FORMATS_FILE
    table = validate_file(path, FormatTable, read_yaml(path))
    return dict(table.formats)


def format_info(fmt: str) -> FormatInfo | None:
    return load_formats().get(fmt)


def _cc(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)


def support(fmt: str, compute_capability: str | None) -> Support | None:
    """How a GPU of this compute capability runs ``fmt`` in vLLM: natively, emulated, or not at all (None).
    16-bit formats are not in the table and are answered by the profile's own list."""
    info = format_info(fmt)
    if info is None:
        raise DataError(f"weight format '{fmt}' is not in data/{FORMATS_FILE}", fix="add it with its sources")
    if compute_capability is None:
        return None
    cc = _cc(compute_capability)
    if info.native_cc and cc >= _cc(info.native_cc):
        return "native"
    return "emulated" if cc >= _cc(info.runs_cc) else None
