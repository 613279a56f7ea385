"""Put the readers together: NVML first, then Apple Silicon, then the CPU; match each device to a profile."""

from __future__ import annotations

import re
import socket
from typing import Any

from deploykit.catalog.schema import HardwareProfile
from deploykit.hardware import apple, cpu, nvml
from deploykit.hardware.types import GIB, GPUDevice, Inventory


def match_gpu(name: str, profiles: dict[str, HardwareProfile]) -> str | None:
    hits = [p.name for p in profiles.values()
            if p.kind == "nvidia" and any(re.search(rx, name) for rx in p.nvml_names)]
    return hits[0] if len(hits) == 1 else None


def nearest_gpu(device: GPUDevice, profiles: dict[str, HardwareProfile]) -> str | None:
    """For an unknown GPU: the NVIDIA profile of the same compute capability with the closest memory size."""
    candidates = [p for p in profiles.values() if p.kind == "nvidia"]
    if not candidates:
        return None

    def distance(p: HardwareProfile) -> tuple[int, float]:
        same_cc = p.compute_capability == device.compute_capability
        return (0 if same_cc else 1, abs(p.memory_gib - device.total_gib))

    return min(candidates, key=distance).name


def match_apple(chip: str, memory_bytes: int, profiles: dict[str, HardwareProfile]) -> str | None:
    base = apple.chip_profile_name(chip)
    sized = f"{base}-{round(memory_bytes / GIB)}gb"
    for name in (sized, base):
        if name in profiles:
            return name
    return None


def cpu_profile_name(memory_bytes: int, logical_cores: int) -> str:
    return "cpu-server" if logical_cores >= 32 or memory_bytes >= 192 * GIB else "cpu-desktop"


def detect(profiles: dict[str, HardwareProfile], *, nvml_lib: Any = None, apple_reader=apple.read_apple,
           cpu_reader=cpu.read_cpu) -> Inventory:
    cpu_info = cpu_reader()
    notes: list[str] = []
    try:
        system = nvml.read_nvml(nvml_lib if nvml_lib is not None else nvml.real_nvml())
    except nvml.NVMLUnavailable as exc:
        system = None
        notes.append(f"no NVIDIA GPU: NVML unavailable ({exc})")
    if system and system.gpus:
        for gpu in system.gpus:
            if not gpu.memory_reported:
                _memory_from_host(gpu, cpu_info, notes)
            gpu.profile = match_gpu(gpu.name, profiles)
            if gpu.profile is None:
                gpu.nearest_profile = nearest_gpu(gpu, profiles)
                notes.append(f"unknown GPU '{gpu.name}' (GPU {gpu.index}); nearest profile: {gpu.nearest_profile}")
            if gpu.mig_enabled:
                notes.append(f"GPU {gpu.index} has MIG enabled: plan per MIG instance, not per GPU")
        names = {g.profile for g in system.gpus}
        if len(names) > 1:
            notes.append("mixed GPU models: plans use the smallest GPU for every device")
        first = system.gpus[0]
        return Inventory(kind="nvidia", hostname=socket.gethostname(), cpu=cpu_info, nvidia=system,
                         profile=first.profile, nearest_profile=first.nearest_profile, notes=notes)
    if system is not None:
        notes.append("NVML loaded but reports no GPUs")
    chip = apple_reader()
    if chip is not None:
        matched = match_apple(chip.chip, chip.unified_memory_bytes, profiles)
        if matched is None:
            notes.append(f"unknown Apple chip '{chip.chip}'")
        return Inventory(kind="apple", hostname=socket.gethostname(), cpu=cpu_info, apple=chip, profile=matched,
                         nearest_profile=None if matched else _largest_apple(profiles), notes=notes)
    name = cpu_profile_name(cpu_info.memory_total_bytes, cpu_info.logical_cores)
    return Inventory(kind="cpu", hostname=socket.gethostname(), cpu=cpu_info,
                     profile=name if name in profiles else None, notes=notes)


def _memory_from_host(gpu: GPUDevice, cpu_info: Any, notes: list[str]) -> None:
    """A GPU whose NVML reports no memory shares the host's (DGX Spark / GB10 unified LPDDR5x): plan with MemTotal
    and MemAvailable, which the OS and every other program share with it."""
    gpu.memory_total_bytes = cpu_info.memory_total_bytes
    gpu.memory_free_bytes = cpu_info.memory_available_bytes
    gpu.memory_used_bytes = max(cpu_info.memory_total_bytes - cpu_info.memory_available_bytes, 0)
    notes.append(f"GPU {gpu.index} ({gpu.name}): NVML reports no framebuffer memory (unified memory); using the "
                 f"host's {gpu.memory_total_bytes / GIB:.1f} GiB total, {gpu.memory_free_bytes / GIB:.1f} GiB available")


def _largest_apple(profiles: dict[str, HardwareProfile]) -> str | None:
    apples = [p for p in profiles.values() if p.kind == "apple"]
    return max(apples, key=lambda p: p.memory_gib).name if apples else None
