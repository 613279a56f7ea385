"""NVIDIA GPUs through NVML. The only module that imports pynvml (package nvidia-ml-py).

``read_nvml(lib)`` takes anything with pynvml's function names: the real module, or ``Replay`` over a recording
(``deploykit detect --record-nvml FILE`` writes one on a real machine; tests replay them).
NVML init and shutdown are always paired.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deploykit.hardware.types import GPUDevice, GPUProcess, NvidiaSystem, PeerLink

# nvmlDeviceGetTopologyCommonAncestor levels (nvml.h) and the nvidia-smi topo -m words for them.
TOPOLOGY_LEVELS = {0: "internal", 10: "PIX", 20: "PXB", 30: "PHB", 40: "NODE", 50: "SYS"}
P2P_CAPS_INDEX_NVLINK = 3  # NVML_P2P_CAPS_INDEX_NVLINK
P2P_STATUS_OK = 0  # NVML_P2P_STATUS_OK
NVLINK_MAX_LINKS = 18  # NVML_NVLINK_MAX_LINKS


class NVMLUnavailable(Exception):
    """No NVIDIA driver or library on this machine (the normal case on CPU boxes and Macs)."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _optional(call, *args):
    """NVML answers NotSupported / NoPermission for many queries on some boards: that is a missing reading."""
    try:
        return call(*args)
    except Exception as exc:  # pynvml.NVMLError subclasses; the replay raises the same
        if type(exc).__name__.startswith("NVMLError"):
            return None
        raise


def read_nvml(lib: Any) -> NvidiaSystem:
    try:
        lib.nvmlInit()
    except Exception as exc:
        raise NVMLUnavailable(f"{type(exc).__name__}: {exc}") from exc
    try:
        return _read_system(lib)
    finally:
        lib.nvmlShutdown()


def _read_system(lib: Any) -> NvidiaSystem:
    count = lib.nvmlDeviceGetCount()
    handles = [lib.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    cuda = _optional(lib.nvmlSystemGetCudaDriverVersion)
    devices = [_read_device(lib, i, h) for i, h in enumerate(handles)]
    links = []
    for i in range(count):
        for j in range(i + 1, count):
            level = _optional(lib.nvmlDeviceGetTopologyCommonAncestor, handles[i], handles[j])
            p2p = _optional(lib.nvmlDeviceGetP2PStatus, handles[i], handles[j], P2P_CAPS_INDEX_NVLINK)
            nvlinks = _nvlinks_between(lib, handles[i], devices[j].pci_bus_id)
            links.append(PeerLink(a=i, b=j, nvlink=(p2p == P2P_STATUS_OK) or nvlinks > 0, nvlink_count=nvlinks,
                                  pcie_path=TOPOLOGY_LEVELS.get(level, None) if level is not None else None))
    return NvidiaSystem(
        driver_version=_text(lib.nvmlSystemGetDriverVersion()),
        cuda_driver_version=f"{cuda // 1000}.{(cuda % 1000) // 10}" if cuda else None,
        gpus=devices, links=links)


def _nvlinks_between(lib: Any, handle: Any, peer_bus_id: str) -> int:
    count = 0
    for link in range(NVLINK_MAX_LINKS):
        state = _optional(lib.nvmlDeviceGetNvLinkState, handle, link)
        if not state:
            continue
        remote = _optional(lib.nvmlDeviceGetNvLinkRemotePciInfo, handle, link)
        if remote is not None and _text(remote.busId).lower() == peer_bus_id.lower():
            count += 1
    return count


def _read_device(lib: Any, index: int, handle: Any) -> GPUDevice:
    # Unified-memory devices (DGX Spark's GB10) answer NotSupported: no framebuffer; inventory takes the host's.
    memory = _optional(lib.nvmlDeviceGetMemoryInfo, handle)
    cc = _optional(lib.nvmlDeviceGetCudaComputeCapability, handle)
    mig = _optional(lib.nvmlDeviceGetMigMode, handle)
    power = _optional(lib.nvmlDeviceGetPowerManagementLimit, handle)
    processes = []
    for proc in (_optional(lib.nvmlDeviceGetComputeRunningProcesses, handle) or []):
        name = _optional(lib.nvmlSystemGetProcessName, proc.pid)
        processes.append(GPUProcess(pid=proc.pid, name=_text(name) if name else None,
                                    used_bytes=proc.usedGpuMemory if proc.usedGpuMemory is not None else None))
    return GPUDevice(
        index=index, name=_text(lib.nvmlDeviceGetName(handle)), uuid=_text(lib.nvmlDeviceGetUUID(handle)),
        pci_bus_id=_text(lib.nvmlDeviceGetPciInfo(handle).busId),
        memory_total_bytes=memory.total if memory else 0, memory_used_bytes=memory.used if memory else 0,
        memory_free_bytes=memory.free if memory else 0, memory_reported=memory is not None and memory.total > 0,
        compute_capability=f"{cc[0]}.{cc[1]}" if cc else None,
        mig_enabled=bool(mig[0]) if mig else False,
        power_limit_w=power / 1000 if power else None,
        processes=processes)


def real_nvml() -> Any:
    try:
        import pynvml
    except ImportError as exc:  # nvidia-ml-py is a dependency; a broken install lands here
        raise NVMLUnavailable(f"nvidia-ml-py is not importable: {exc}") from exc
    return pynvml


# ------------------------------------------------------------------------------------------- recording / replay
class _Obj:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class NVMLError_NotSupported(Exception):  # noqa: N801 - same name as pynvml's, so _optional treats it alike
    pass


class NVMLError_LibraryNotFound(Exception):  # noqa: N801
    pass


class Replay:
    """pynvml's functions answered from a recording (JSON written by ``record``). A stand-in faithful to the
    readings: a query the recording marks "NotSupported" (or lacks) raises an NVMLError like the real library."""

    def __init__(self, recording: dict[str, Any]) -> None:
        self.recording = recording
        self.devices = recording["devices"]
        self.initialised = 0
        self.shutdowns = 0

    @classmethod
    def from_file(cls, path: Path) -> Replay:
        from deploykit.errors import UsageError

        fix = "pass a file written by `deploykit detect --record-nvml FILE`"
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"cannot read NVML recording {path}: {exc}", fix=fix) from exc
        if not isinstance(data, dict) or not isinstance(data.get("devices"), list) or "system" not in data:
            raise UsageError(f"{path} is not an NVML recording (needs 'system' and 'devices')", fix=fix)
        return cls(data)

    def _get(self, table: dict[str, Any], key: str) -> Any:
        value = table.get(key, "NotSupported")
        if value == "NotSupported":
            raise NVMLError_NotSupported(key)
        return value

    def nvmlInit(self) -> None:  # noqa: N802 - pynvml names
        if self.recording.get("library_missing"):
            raise NVMLError_LibraryNotFound("NVML Shared Library Not Found")
        self.initialised += 1

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.shutdowns += 1

    def nvmlSystemGetDriverVersion(self) -> str:  # noqa: N802
        return self._get(self.recording["system"], "driver_version")

    def nvmlSystemGetCudaDriverVersion(self) -> int:  # noqa: N802
        return self._get(self.recording["system"], "cuda_driver_version")

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:  # noqa: N802
        return i

    def nvmlDeviceGetName(self, h: int) -> str:  # noqa: N802
        return self._get(self.devices[h], "name")

    def nvmlDeviceGetUUID(self, h: int) -> str:  # noqa: N802
        return self._get(self.devices[h], "uuid")

    def nvmlDeviceGetPciInfo(self, h: int) -> _Obj:  # noqa: N802
        return _Obj(busId=self._get(self.devices[h], "pci_bus_id"))

    def nvmlDeviceGetMemoryInfo(self, h: int) -> _Obj:  # noqa: N802
        return _Obj(**self._get(self.devices[h], "memory"))

    def nvmlDeviceGetCudaComputeCapability(self, h: int) -> tuple[int, int]:  # noqa: N802
        return tuple(self._get(self.devices[h], "compute_capability"))

    def nvmlDeviceGetMigMode(self, h: int) -> tuple[int, int]:  # noqa: N802
        return tuple(self._get(self.devices[h], "mig_mode"))

    def nvmlDeviceGetPowerManagementLimit(self, h: int) -> int:  # noqa: N802
        return self._get(self.devices[h], "power_limit_mw")

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list[_Obj]:  # noqa: N802
        return [_Obj(pid=p["pid"], usedGpuMemory=p.get("used_bytes"))
                for p in self._get(self.devices[h], "processes")]

    def nvmlSystemGetProcessName(self, pid: int) -> str:  # noqa: N802
        for device in self.devices:
            for p in device.get("processes", []) if isinstance(device.get("processes"), list) else []:
                if p["pid"] == pid and p.get("name"):
                    return p["name"]
        raise NVMLError_NotSupported("process name")

    def nvmlDeviceGetTopologyCommonAncestor(self, a: int, b: int) -> int:  # noqa: N802
        return self._get(self._pair(a, b), "common_ancestor")

    def nvmlDeviceGetP2PStatus(self, a: int, b: int, caps: int) -> int:  # noqa: N802
        if caps != P2P_CAPS_INDEX_NVLINK:
            raise NVMLError_NotSupported("p2p caps")
        return self._get(self._pair(a, b), "p2p_nvlink_status")

    def nvmlDeviceGetNvLinkState(self, h: int, link: int) -> int:  # noqa: N802
        links = self._get(self.devices[h], "nvlinks")
        if link >= len(links):
            raise NVMLError_NotSupported("nvlink")
        return 1

    def nvmlDeviceGetNvLinkRemotePciInfo(self, h: int, link: int) -> _Obj:  # noqa: N802
        return _Obj(busId=self._get(self.devices[h], "nvlinks")[link])

    def _pair(self, a: int, b: int) -> dict[str, Any]:
        key = f"{min(a, b)}-{max(a, b)}"
        return self.recording.get("pairs", {}).get(key, {})


def record(lib: Any, provenance: str) -> dict[str, Any]:
    """Read every query ``Replay`` answers from a live NVML, as a JSON-able recording."""
    lib.nvmlInit()
    try:
        n = lib.nvmlDeviceGetCount()
        handles = [lib.nvmlDeviceGetHandleByIndex(i) for i in range(n)]

        def opt(call, *args, convert=lambda v: v):
            value = _optional(call, *args)
            return "NotSupported" if value is None else convert(value)

        devices = []
        for h in handles:
            mem = _optional(lib.nvmlDeviceGetMemoryInfo, h)
            nvlinks = []
            for link in range(NVLINK_MAX_LINKS):
                if _optional(lib.nvmlDeviceGetNvLinkState, h, link):
                    remote = _optional(lib.nvmlDeviceGetNvLinkRemotePciInfo, h, link)
                    nvlinks.append(_text(remote.busId) if remote else "")
            procs = []
            for p in _optional(lib.nvmlDeviceGetComputeRunningProcesses, h) or []:
                name = _optional(lib.nvmlSystemGetProcessName, p.pid)
                procs.append({"pid": p.pid, "used_bytes": p.usedGpuMemory, "name": _text(name) if name else None})
            devices.append({
                "name": _text(lib.nvmlDeviceGetName(h)), "uuid": _text(lib.nvmlDeviceGetUUID(h)),
                "pci_bus_id": _text(lib.nvmlDeviceGetPciInfo(h).busId),
                "memory": {"total": mem.total, "used": mem.used, "free": mem.free} if mem else "NotSupported",
                "compute_capability": opt(lib.nvmlDeviceGetCudaComputeCapability, h, convert=list),
                "mig_mode": opt(lib.nvmlDeviceGetMigMode, h, convert=list),
                "power_limit_mw": opt(lib.nvmlDeviceGetPowerManagementLimit, h),
                "processes": procs, "nvlinks": nvlinks})
        pairs = {}
        for i in range(n):
            for j in range(i + 1, n):
                pairs[f"{i}-{j}"] = {
                    "common_ancestor": opt(lib.nvmlDeviceGetTopologyCommonAncestor, handles[i], handles[j]),
                    "p2p_nvlink_status": opt(lib.nvmlDeviceGetP2PStatus, handles[i], handles[j],
                                             P2P_CAPS_INDEX_NVLINK)}
        return {"provenance": {"kind": "recorded-nvml", "source": provenance},
                "system": {"driver_version": _text(lib.nvmlSystemGetDriverVersion()),
                           "cuda_driver_version": opt(lib.nvmlSystemGetCudaDriverVersion)},
                "devices": devices, "pairs": pairs}
    finally:
        lib.nvmlShutdown()
