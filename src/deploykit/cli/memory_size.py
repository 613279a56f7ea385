"""`--host-memory` values: 64G, 64GiB, 64GB, 65536M, 0.5T. A stop-gap parser until the CLI's shared units module
(issue 15) lands; binary units throughout (G = GiB), because that is how RAM is sold and reported."""

from __future__ import annotations

import re

from deploykit.errors import UsageError

_UNITS = {"": 1024**3, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_memory_size(text: str, flag: str = "--host-memory") -> int:
    """Bytes in ``text``; a bare number is GiB. Raises UsageError (exit 2) naming the accepted forms."""
    m = _SIZE.match(text or "")
    if not m:
        raise UsageError(f"{flag} '{text}' is not a memory size",
                         fix=f"write it like {flag} 64G, 64GiB or 65536M (a bare number is GiB)")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if value < 1024**3:
        raise UsageError(f"{flag} {text} is below 1 GiB", fix=f"pass the machine's RAM, e.g. {flag} 64G")
    return int(value)
