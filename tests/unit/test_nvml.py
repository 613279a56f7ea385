"""The NVML reader on replayed readings. The fixtures hold nvidia-smi output published for real cards
(tests/fixtures/nvml/README.md says where each came from); no recording from our own GPU exists yet."""

import json
from pathlib import Path

import pytest

from deploykit.catalog.loader import load_profiles
from deploykit.hardware import inventory, nvml
from deploykit.hardware.types import GIB, CPUInfo
from deploykit.planning.box import detected_box

FIXTURES = Path(__file__).parent.parent / "fixtures" / "nvml"
CPU = CPUInfo(model="test", architecture="x86_64", logical_cores=8, memory_total_bytes=64 * GIB,
              memory_available_bytes=60 * GIB)


def detect(name):
    replay = nvml.Replay.from_file(FIXTURES / name)
    inv = inventory.detect(load_profiles(), nvml_lib=replay, apple_reader=lambda: None, cpu_reader=lambda: CPU)
    return inv, replay


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_fixture_reads_and_pairs_init_with_shutdown(name):
    inv, replay = detect(name)
    assert replay.initialised == 1 and replay.shutdowns == 1
    assert inv.kind == "nvidia" and inv.nvidia.gpus
    data = json.loads((FIXTURES / name).read_text())
    assert data["provenance"]["source"].startswith("http")
    for gpu, raw in zip(inv.nvidia.gpus, data["devices"]):
        if raw["memory"] == "NotSupported":  # unified memory (GB10): the host's, see test_dgx_spark_memory_comes_from_the_host
            assert not gpu.memory_reported and gpu.memory_total_bytes == CPU.memory_total_bytes
            continue
        assert gpu.memory_total_bytes == raw["memory"]["total"]
        assert gpu.memory_free_bytes <= gpu.memory_total_bytes
        assert gpu.profile or gpu.nearest_profile


def test_hgx_h100_is_eight_nvlinked_h100_sxm():
    inv, _ = detect("hgx_h100_80gb_hbm3_8x.json")
    gpus = inv.nvidia.gpus
    assert len(gpus) == 8 and {g.profile for g in gpus} == {"h100-sxm"}
    assert {g.compute_capability for g in gpus} == {"9.0"}
    assert inv.nvidia.all_nvlink() and len(inv.nvidia.links) == 28
    assert gpus[0].total_gib == pytest.approx(79.65, abs=0.01)
    box = detected_box(inv)
    assert box.gpus_per_node == 8 and box.nvlink_all is True and box.detected


def test_mig_is_reported():
    inv, _ = detect("h100_80gb_hbm3_mig_load.json")
    assert inv.nvidia.gpus[0].mig_enabled
    assert any("MIG" in n for n in inv.notes)


def test_processes_holding_memory_lower_the_plan_budget():
    from deploykit.catalog.loader import get_model
    from deploykit.planning.planner import plan

    inv, _ = detect("h100_80gb_hbm3_1x_vm_load.json")
    gpu = inv.nvidia.gpus[0]
    assert gpu.processes and gpu.memory_used_bytes > GIB
    box = detected_box(inv)
    p = plan(get_model("llama-3.2-1b"), box)
    expected = min(0.90, (gpu.memory_free_bytes - 0.5 * GIB) / gpu.memory_total_bytes)
    assert p.gpu_memory_utilization == pytest.approx(expected, abs=0.011)
    if p.gpu_memory_utilization < 0.90:
        assert any("other processes hold GPU memory" in w for w in p.warnings)


def test_consumer_cards_match_their_profiles():
    assert {g.profile for g in detect("rtx4090_8x_server.json")[0].nvidia.gpus} == {"rtx-4090"}
    assert detect("l40s_1x_load.json")[0].nvidia.gpus[0].profile == "l40s"
    assert detect("l4_1x.json")[0].nvidia.gpus[0].profile == "l4"


def test_unknown_gpu_gets_nearest_profile():
    inv, _ = detect("rtx4080super_desktop_load.json")
    gpu = inv.nvidia.gpus[0]
    assert gpu.profile is None and gpu.nearest_profile
    assert load_profiles()[gpu.nearest_profile].compute_capability == gpu.compute_capability


def test_missing_driver_falls_back_to_cpu():
    replay = nvml.Replay({"library_missing": True, "devices": []})
    inv = inventory.detect(load_profiles(), nvml_lib=replay, apple_reader=lambda: None, cpu_reader=lambda: CPU)
    assert inv.kind == "cpu" and inv.profile == "cpu-desktop"
    assert any("NVML unavailable" in n for n in inv.notes)


def test_record_then_replay_round_trips():
    source = nvml.Replay.from_file(FIXTURES / "hgx_h100_80gb_hbm3_8x.json")
    recording = nvml.record(source, provenance="round trip")
    again = nvml.read_nvml(nvml.Replay(recording))
    original = nvml.read_nvml(nvml.Replay.from_file(FIXTURES / "hgx_h100_80gb_hbm3_8x.json"))
    assert again == original


def test_cpuinfo_and_meminfo_parsers():
    from deploykit.hardware.cpu import parse_cpuinfo, parse_meminfo

    text = ("processor\t: 0\nmodel name\t: Intel Xeon\nphysical id\t: 0\ncore id\t: 0\nflags\t: fpu avx2 avx512f "
            "amx_tile\n\nprocessor\t: 1\nmodel name\t: Intel Xeon\nphysical id\t: 0\ncore id\t: 1\nflags\t: x\n")
    model, flags, cores = parse_cpuinfo(text)
    assert model == "Intel Xeon" and flags == ["avx2", "avx512f", "amx_tile"] and cores == 2
    assert parse_meminfo("MemTotal:  1000 kB\nMemAvailable: 500 kB\n") == (1024000, 512000)


def test_apple_chip_matching():
    profiles = load_profiles()
    assert inventory.match_apple("Apple M3 Max", 64 * GIB, profiles) == "m3-max-64gb"
    assert inventory.match_apple("Apple M2 Ultra", 192 * GIB, profiles) == "m2-ultra-192gb"


def test_dgx_spark_memory_comes_from_the_host():
    """GB10's NVML answers NotSupported for memory; the Spark's own MemTotal / MemAvailable (127600748 kB /
    118566368 kB, tests/fixtures/nvml/README.md) become the GPU's memory, and the plan sees them."""
    spark_host = CPUInfo(model="GB10", architecture="aarch64", logical_cores=20,
                         memory_total_bytes=127600748 * 1024, memory_available_bytes=118566368 * 1024)
    replay = nvml.Replay.from_file(FIXTURES / "dgx_spark_gb10_1x.json")
    inv = inventory.detect(load_profiles(), nvml_lib=replay, apple_reader=lambda: None, cpu_reader=lambda: spark_host)
    gpu = inv.nvidia.gpus[0]
    assert gpu.profile == "dgx-spark" and gpu.compute_capability == "12.1"
    assert not gpu.memory_reported
    assert gpu.memory_total_bytes == 127600748 * 1024 and gpu.total_gib == pytest.approx(121.69, abs=0.01)
    assert gpu.memory_free_bytes == 118566368 * 1024
    assert any("unified memory" in n for n in inv.notes)
    box = detected_box(inv)
    assert box.memory_total_bytes == 127600748 * 1024 and box.memory_free_bytes == 118566368 * 1024


def test_recording_a_device_without_memory_replays_the_same(tmp_path):
    replay = nvml.Replay.from_file(FIXTURES / "dgx_spark_gb10_1x.json")
    recorded = nvml.record(replay, "test")
    assert recorded["devices"][0]["memory"] == "NotSupported"
    again = nvml.read_nvml(nvml.Replay(recorded))
    assert again.gpus[0].memory_reported is False
