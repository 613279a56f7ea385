"""CPU and RAM: /proc on Linux, sysctl on macOS. Pure parsers plus one reader each."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

from deploykit.hardware.types import CPUInfo

# ISA features that change what llama.cpp / vLLM-CPU can do fast.
INTERESTING_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8", "fma", "f16c")


def parse_cpuinfo(text: str) -> tuple[str, list[str], int | None]:
    """Model name, relevant flags and physical core count from /proc/cpuinfo."""
    model, flags, cores = "unknown CPU", [], set()
    physical_id = "0"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name" and model == "unknown CPU":
            model = value
        elif key in ("flags", "Features") and not flags:
            present = set(value.split())
            flags = [f for f in INTERESTING_FLAGS if f in present]
        elif key == "physical id":
            physical_id = value
        elif key == "core id":
            cores.add((physical_id, value))
    return model, flags, len(cores) or None


def parse_meminfo(text: str) -> tuple[int, int]:
    """(total, available) bytes from /proc/meminfo."""
    values = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+):\s+(\d+)\s*kB", line)
        if m:
            values[m.group(1)] = int(m.group(2)) * 1024
    total = values.get("MemTotal", 0)
    return total, values.get("MemAvailable", values.get("MemFree", total))


def read_cpu(proc: Path = Path("/proc"), sysctl=None) -> CPUInfo:
    logical = os.cpu_count() or 1
    if (proc / "cpuinfo").exists():
        model, flags, physical = parse_cpuinfo((proc / "cpuinfo").read_text(errors="replace"))
        total, available = parse_meminfo((proc / "meminfo").read_text())
    else:  # macOS: sysctl
        from deploykit.hardware.apple import run_sysctl

        values = (sysctl or run_sysctl)(["machdep.cpu.brand_string", "hw.memsize", "hw.physicalcpu"])
        model = values.get("machdep.cpu.brand_string", "unknown CPU")
        total = int(values.get("hw.memsize", 0))
        available, flags = total, []
        physical = int(values["hw.physicalcpu"]) if values.get("hw.physicalcpu") else None
    return CPUInfo(model=model, architecture=platform.machine() or "unknown", physical_cores=physical,
                   logical_cores=logical, memory_total_bytes=total, memory_available_bytes=available, flags=flags)
