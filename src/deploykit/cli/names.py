"""Every name a user types is checked: filter values and comma lists that match nothing are an error (exit 2)
with did-you-mean, never an empty result."""

from __future__ import annotations

from collections.abc import Iterable

from deploykit.errors import UsageError
from deploykit.suggest import did_you_mean

USES = ("chat", "code", "reasoning", "embeddings", "vision")
PROFILE_KINDS = ("nvidia", "apple", "cpu")


def split_csv(value: str | None) -> list[str]:
    return [v.strip().lower() for v in (value or "").split(",") if v.strip()]


def check(flag: str, values: Iterable[str], choices: Iterable[str]) -> list[str]:
    """``values`` (lower-cased) when each is one of ``choices`` (case-insensitive); else UnknownNameError naming
    the flag, the closest choices, and every choice."""
    choices = sorted(dict.fromkeys(choices))
    known = {c.lower() for c in choices}
    values = list(values)
    for v in values:
        if v.lower() not in known:
            raise UsageError(f"unknown {flag} value '{v}'", fix=f"use one of: {', '.join(choices)}",
                             suggestions=did_you_mean(v, choices))
    return [v.lower() for v in values]


def licences(models) -> list[str]:
    return [m.license.id for m in models]


def origins(models) -> list[str]:
    return [x for m in models for x in (m.origin, m.origin_country)]
