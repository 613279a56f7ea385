"""The Box to plan for: simulated from a profile (--profile/--gpus/--nodes) or built from a detected Inventory."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deploykit.catalog.loader import load_profiles
from deploykit.catalog.schema import HardwareProfile
from deploykit.errors import UsageError
from deploykit.planning.memory import GIB
from deploykit.planning.types import Box

if TYPE_CHECKING:  # the hardware models are imported only by commands that detect hardware
    from deploykit.hardware.types import Inventory


def _host_bandwidth(profile: HardwareProfile, profiles: dict[str, HardwareProfile]) -> float:
    if profile.kind != "nvidia":  # Apple: unified memory; CPU: its own RAM
        return profile.memory_bandwidth_gbps
    host = profiles.get("cpu-server" if profile.segment == "datacenter" else "cpu-desktop")
    return host.memory_bandwidth_gbps if host else 89.6


def profile_host_memory(profile: HardwareProfile) -> tuple[int | None, str]:
    """A profile's typical host memory: the unified memory / RAM itself on Apple and CPU profiles (counted once),
    else the NVIDIA profile's ``host_memory_gib`` with its source."""
    if profile.kind != "nvidia":
        what = "unified memory" if profile.kind == "apple" else "RAM"
        return int(profile.memory_gib * GIB), f"the profile's {what} ({profile.memory_gib:g} GiB)"
    if profile.host_memory_gib is None:
        return None, ""
    return int(profile.host_memory_gib * GIB), (f"typical host RAM for {profile.name}: {profile.host_memory_gib:g} "
                                                f"GiB ({profile.host_memory_source})")


def with_host_memory(box: Box, host_memory_bytes: int | None) -> Box:
    """``--host-memory``: the user's figure replaces the detected or typical one. On Apple and CPU boxes the host
    memory is the device memory, so the flag sets both."""
    if host_memory_bytes is None:
        return box
    source = f"--host-memory {host_memory_bytes / GIB:g} GiB"
    if box.profile.kind == "nvidia":
        return box.model_copy(update={"host_memory_bytes": host_memory_bytes, "host_memory_source": source})
    free = box.memory_free_bytes
    return box.model_copy(update={"host_memory_bytes": host_memory_bytes, "host_memory_source": source,
                                  "memory_total_bytes": host_memory_bytes,
                                  "memory_free_bytes": min(free, host_memory_bytes) if free is not None else None})


def simulated_box(profile: HardwareProfile, gpus: int = 1, nodes: int = 1,
                  profiles: dict[str, HardwareProfile] | None = None) -> Box:
    profiles = profiles if profiles is not None else load_profiles()
    if profile.kind != "nvidia" and (gpus > 1 or nodes > 1):
        raise UsageError(f"--gpus/--nodes apply to NVIDIA profiles; {profile.name} is one {profile.kind} device",
                         fix="drop --gpus/--nodes, or pick an NVIDIA profile (deploykit profiles --kind nvidia)")
    most = profile.interconnect.max_devices_per_node
    notes = []
    if gpus > most:
        notes.append(f"{gpus} x {profile.name} in one node is more than the usual {most}; planning as asked")
    host, host_source = profile_host_memory(profile)
    return Box(profile=profile, gpus_per_node=gpus, nodes=nodes, memory_total_bytes=int(profile.memory_gib * GIB),
               host_memory_bandwidth_gbps=_host_bandwidth(profile, profiles), host_memory_bytes=host,
               host_memory_source=host_source, notes=notes)


def detected_box(inv: Inventory, profiles: dict[str, HardwareProfile] | None = None) -> Box:
    profiles = profiles if profiles is not None else load_profiles()
    name = inv.profile or inv.nearest_profile
    if name is None or name not in profiles:
        raise UsageError("this machine's hardware matches no profile",
                         fix="plan for a simulated box with --profile NAME (see deploykit profiles)")
    profile = profiles[name]
    notes = list(inv.notes)
    if inv.kind == "nvidia" and inv.nvidia:
        gpus = [g for g in inv.nvidia.gpus if not g.mig_enabled] or inv.nvidia.gpus
        total = min(g.memory_total_bytes for g in gpus)
        free = min(g.memory_free_bytes for g in gpus)
        for g in gpus:
            held = [p for p in g.processes if p.used_bytes]
            if held:
                notes.append(f"GPU {g.index}: " + ", ".join(
                    f"{p.name or 'pid ' + str(p.pid)} holds {p.used_bytes / GIB:.1f} GiB" for p in held))
        if inv.profile is None:
            notes.append(f"unknown GPU: planning with the nearest profile {name} (bandwidth and formats from it, "
                         "memory as detected)")
        return Box(profile=profile, gpus_per_node=len(gpus), memory_total_bytes=total, memory_free_bytes=free,
                   nvlink_all=inv.nvidia.all_nvlink() if len(gpus) > 1 else None,
                   host_memory_bandwidth_gbps=_host_bandwidth(profile, profiles), detected=True, notes=notes,
                   host_memory_bytes=inv.cpu.memory_total_bytes or None,
                   host_memory_source=f"detected RAM ({inv.cpu.memory_total_bytes / GIB:.0f} GiB)")
    if inv.kind == "apple" and inv.apple:
        return Box(profile=profile, memory_total_bytes=inv.apple.unified_memory_bytes, detected=True, notes=notes,
                   host_memory_bytes=inv.apple.unified_memory_bytes,
                   host_memory_bandwidth_gbps=profile.memory_bandwidth_gbps,
                   host_memory_source=f"detected unified memory ({inv.apple.unified_memory_bytes / GIB:.0f} GiB, "
                                      "shared by the GPU and the CPU: counted once)")
    return Box(profile=profile, memory_total_bytes=inv.cpu.memory_total_bytes,
               memory_free_bytes=inv.cpu.memory_available_bytes,
               host_memory_bytes=inv.cpu.memory_total_bytes,
               host_memory_source=f"detected RAM ({inv.cpu.memory_total_bytes / GIB:.0f} GiB)",
               host_memory_bandwidth_gbps=profile.memory_bandwidth_gbps, detected=True, notes=notes)
