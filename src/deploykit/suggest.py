"""Did-you-mean suggestions for unknown names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    choices = list(dict.fromkeys(choices))
    lowered = {c.lower(): c for c in choices}
    key = name.lower()
    hits = [lowered[c] for c in difflib.get_close_matches(key, list(lowered), n=n, cutoff=0.6)]
    # A prefix or substring match ("llama4" -> "llama4-scout") is a better hint than edit distance alone.
    compact = key.replace("-", "").replace("_", "").replace(".", "")
    for c in choices:
        flat = c.lower().replace("-", "").replace("_", "").replace(".", "")
        if (compact and compact in flat) and c not in hits:
            hits.append(c)
    return hits[:n]
