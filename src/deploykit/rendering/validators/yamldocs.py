"""Rendered YAML parsed once, with libyaml when PyYAML has it (8x faster than the pure-Python loader: most of a
catalog-wide check was YAML parsing before)."""

from __future__ import annotations

from functools import lru_cache

import yaml

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@lru_cache(maxsize=None)
def docs(text: str) -> tuple:
    """Every document of a YAML stream (None documents dropped). Raises yaml.YAMLError. Callers must not mutate."""
    return tuple(d for d in yaml.load_all(text, Loader=LOADER) if d is not None)


def one(text: str) -> object:
    found = docs(text)
    return found[0] if found else None
