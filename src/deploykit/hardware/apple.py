"""Apple Silicon: chip and unified memory from sysctl (macOS only)."""

from __future__ import annotations

import platform
import subprocess

from deploykit.hardware.types import AppleInfo


def run_sysctl(keys: list[str]) -> dict[str, str]:
    values = {}
    for key in keys:
        try:
            out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True, timeout=5, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip():
            values[key] = out.stdout.strip()
    return values


def read_apple(sysctl=run_sysctl, system: str | None = None, machine: str | None = None) -> AppleInfo | None:
    """The Apple chip, or None when this is not an Apple Silicon Mac."""
    if (system or platform.system()) != "Darwin" or (machine or platform.machine()) != "arm64":
        return None
    values = sysctl(["machdep.cpu.brand_string", "hw.memsize"])
    chip = values.get("machdep.cpu.brand_string", "")
    if not chip.startswith("Apple"):
        return None
    return AppleInfo(chip=chip, unified_memory_bytes=int(values.get("hw.memsize", 0)))


def chip_profile_name(chip: str) -> str:
    """'Apple M3 Max' -> 'm3-max'; 'Apple M2' -> 'm2'."""
    return "-".join(chip.lower().removeprefix("apple").split())
