"""`deploykit detect`: what hardware is this?"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from deploykit.catalog.loader import load_profiles
from deploykit.cli.output import Format, emit_json, hint, stdout, table
from deploykit.errors import UsageError
from deploykit.hardware import inventory, nvml
from deploykit.hardware.types import GIB, Inventory


def detect(
    format: Format = typer.Option(Format.table, "--format", "-f", help="table for people, json for scripts."),
    from_recording: Path = typer.Option(
        None, "--from-recording", exists=True, dir_okay=False,
        help="Read NVML readings from a recording (made with --record-nvml) instead of the driver."),
    record_nvml: Path = typer.Option(
        None, "--record-nvml", dir_okay=False,
        help="Also write this machine's raw NVML readings to FILE (to reproduce a detection elsewhere)."),
) -> None:
    """Detect GPUs (NVML), Apple Silicon or the CPU, and match each to a hardware profile."""
    lib = nvml.Replay.from_file(from_recording) if from_recording else None
    inv = inventory.detect(load_profiles(), nvml_lib=lib)
    if record_nvml:
        _record(record_nvml, inv)
    if format is Format.json:
        emit_json(inv)
    else:
        print_inventory(inv)


def _record(path: Path, inv: Inventory) -> None:
    if inv.kind != "nvidia":
        raise UsageError("--record-nvml needs an NVIDIA GPU and driver on this machine",
                         fix="run it on the GPU machine you want to record")
    data = nvml.record(nvml.real_nvml(), provenance=f"deploykit detect --record-nvml on {inv.hostname}")
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
    hint(f"NVML readings written to {path}")


def print_inventory(inv: Inventory) -> None:
    c = inv.cpu
    stdout.print(f"[bold]{inv.hostname or 'this machine'}[/bold]: {inv.kind} "
                 f"(profile: {inv.profile or 'none'}{', nearest: ' + inv.nearest_profile if inv.nearest_profile else ''})")
    if inv.nvidia:
        n = inv.nvidia
        stdout.print(f"driver {n.driver_version}, CUDA {n.cuda_driver_version or '?'}")
        rows = [[g.index, g.name, g.profile or f"unknown (nearest {g.nearest_profile})", g.compute_capability,
                 f"{g.total_gib:.1f}", f"{g.memory_used_bytes / GIB:.1f}", f"{g.free_gib:.1f}",
                 "on" if g.mig_enabled else "off", f"{g.power_limit_w:.0f} W" if g.power_limit_w else "",
                 ", ".join(f"{p.name or p.pid} ({(p.used_bytes or 0) / GIB:.1f} GiB)" for p in g.processes)]
                for g in n.gpus]
        stdout.print(table("GPUs", ["#", "name", "profile", "CC", "total GiB", "used GiB", "free GiB", "MIG",
                                    "power limit", "processes"], rows))
        if n.links:
            rows = [[f"{link.a}-{link.b}", "NVLink" + (f" x{link.nvlink_count}" if link.nvlink_count else "")
                     if link.nvlink else "PCIe", link.pcie_path or "?"] for link in n.links]
            stdout.print(table("GPU-to-GPU topology", ["pair", "link", "PCIe path"], rows))
    if inv.apple:
        a = inv.apple
        stdout.print(f"Apple chip: {a.chip}, unified memory {a.unified_memory_bytes / GIB:.0f} GiB")
    stdout.print(f"CPU: {c.model} ({c.architecture}), {c.physical_cores or '?'} cores / {c.logical_cores} threads, "
                 f"RAM {c.memory_total_bytes / GIB:.1f} GiB ({c.memory_available_bytes / GIB:.1f} available), "
                 f"flags: {', '.join(c.flags) or 'none of note'}")
    for note in inv.notes:
        hint(note)
