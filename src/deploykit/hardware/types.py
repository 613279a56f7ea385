"""Typed hardware inventory: what `deploykit detect` reports and what the planner reads."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GIB = 1024**3


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GPUProcess(_Model):
    pid: int = Field(..., description="process id holding GPU memory")
    name: str | None = Field(None, description="process name, when NVML may read it")
    used_bytes: int | None = Field(None, ge=0, description="GPU memory it holds (None: not reported, e.g. in MIG)")


class GPUDevice(_Model):
    index: int = Field(..., ge=0)
    name: str = Field(..., description="NVML device name")
    uuid: str
    pci_bus_id: str
    memory_total_bytes: int = Field(..., ge=0)
    memory_used_bytes: int = Field(..., ge=0)
    memory_free_bytes: int = Field(..., ge=0)
    memory_reported: bool = Field(
        True, description="NVML reported framebuffer memory; False on unified-memory devices (GB10), whose figures "
        "come from the host")
    compute_capability: str | None = Field(None, description="CUDA compute capability, e.g. 9.0")
    mig_enabled: bool = Field(False, description="MIG mode on: the GPU is split into instances")
    power_limit_w: float | None = Field(None, ge=0)
    processes: list[GPUProcess] = Field(default_factory=list, description="compute processes holding memory")
    profile: str | None = Field(None, description="matched hardware profile")
    nearest_profile: str | None = Field(None, description="closest profile when none matches")

    @property
    def total_gib(self) -> float:
        return self.memory_total_bytes / GIB

    @property
    def free_gib(self) -> float:
        return self.memory_free_bytes / GIB


class PeerLink(_Model):
    a: int
    b: int
    nvlink: bool = Field(False, description="peer-to-peer over NVLink (direct or through NVSwitch)")
    nvlink_count: int = Field(0, ge=0, description="NVLinks wired directly between the two")
    pcie_path: str | None = Field(None, description="closest common PCIe ancestor: PIX, PXB, PHB, NODE, SYS")


class NvidiaSystem(_Model):
    driver_version: str
    cuda_driver_version: str | None = Field(None, description="highest CUDA version the driver supports")
    gpus: list[GPUDevice]
    links: list[PeerLink] = Field(default_factory=list)

    def all_nvlink(self) -> bool:
        return len(self.gpus) > 1 and all(link.nvlink for link in self.links)


class CPUInfo(_Model):
    model: str = Field(..., description="CPU model name")
    architecture: str = Field(..., description="machine architecture, e.g. x86_64, arm64")
    physical_cores: int | None = Field(None, ge=1)
    logical_cores: int = Field(..., ge=1)
    memory_total_bytes: int = Field(..., ge=0)
    memory_available_bytes: int = Field(..., ge=0)
    flags: list[str] = Field(default_factory=list, description="relevant ISA features: avx2, avx512f, amx_tile ...")


class AppleInfo(_Model):
    chip: str = Field(..., description="e.g. Apple M3 Max")
    unified_memory_bytes: int = Field(..., ge=0)
    gpu_cores: int | None = Field(None, ge=1)


class Inventory(_Model):
    """What one machine holds. ``kind`` says which accelerator the planner should plan for."""

    kind: Literal["nvidia", "apple", "cpu"]
    hostname: str = ""
    cpu: CPUInfo
    nvidia: NvidiaSystem | None = None
    apple: AppleInfo | None = None
    profile: str | None = Field(None, description="hardware profile the accelerator matched")
    nearest_profile: str | None = None
    notes: list[str] = Field(default_factory=list, description="why a source was not used, and other remarks")
