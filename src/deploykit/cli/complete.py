"""Shell completion of model and profile names (`deploykit --install-completion`); read from the cached catalog,
so a completion answers as fast as `deploykit plan` starts."""

from __future__ import annotations


def model_names(incomplete: str) -> list[str]:
    from deploykit.catalog.loader import load_models

    try:
        return [n for n in load_models() if n.startswith(incomplete.lower())]
    except Exception:  # noqa: BLE001 - a completion never prints a traceback into the shell
        return []


def profile_names(incomplete: str) -> list[str]:
    from deploykit.catalog.loader import load_profiles

    try:
        return [n for n in load_profiles() if n.startswith(incomplete.lower())]
    except Exception:  # noqa: BLE001
        return []
