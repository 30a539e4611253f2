"""The NVML backend: recorded snapshots (one GPU with processes, several GPUs, no driver), replayed
through ``gpu.nvml`` with a stand-in pynvml, and the real pynvml on this driver-less host."""

from __future__ import annotations

import json
import sys

import pytest

from audiovoice_ops.core.errors import ConfigError
from audiovoice_ops.gpu import nvml
from audiovoice_ops.gpu.types import GpuSnapshot, load_snapshot
from tests.gpu import fake_pynvml

NVIDIA_SMI_KEYS = {
    "index",
    "name",
    "uuid",
    "compute_cap",
    "memory.total",
    "memory.used",
    "memory.free",
    "utilization.gpu",
    "utilization.memory",
    "temperature.gpu",
    "power.draw",
    "power.limit",
    "processes",
}


@pytest.mark.parametrize("name", ["one_gpu_processes", "multi_gpu", "no_driver", "big_gpu"])
def test_snapshot_round_trips(snapshots, name):
    raw = json.loads((snapshots / f"{name}.json").read_text())
    snap = load_snapshot(snapshots / f"{name}.json")
    again = GpuSnapshot.from_dict(snap.to_dict())
    assert again == snap
    for gpu in snap.to_dict()["gpus"]:
        assert set(gpu) == NVIDIA_SMI_KEYS
    assert len(snap.gpus) == len(raw["gpus"])


def test_snapshot_fields(snapshots):
    one = load_snapshot(snapshots / "one_gpu_processes.json")
    gpu = one.gpus[0]
    assert gpu.compute_cap_tuple == (8, 6) and gpu.memory_total_gb == 4.0
    assert [p.pid for p in one.processes] == [4242, 1337]
    multi = load_snapshot(snapshots / "multi_gpu.json")
    assert [g.name for g in multi.gpus] == ["NVIDIA A100-SXM4-40GB", "Tesla T4", "Tesla P4"]
    assert multi.gpus[1].power_draw_w is None and multi.gpus[1].processes[0].used_memory_mib is None
    none = load_snapshot(snapshots / "no_driver.json")
    assert not none.available and none.gpus == [] and "libnvidia-ml" in none.error


def test_vram_json_output_is_a_loadable_snapshot(tmp_path, snapshots):
    wrapped = {
        "timestamp": 1.0,
        "gpu": json.loads((snapshots / "multi_gpu.json").read_text()),
        "api": None,
    }
    path = tmp_path / "frame.json"
    path.write_text(json.dumps(wrapped))
    assert len(load_snapshot(path).gpus) == 3


@pytest.mark.parametrize(
    "content, needle",
    [
        (None, "not found"),
        ("{not json", "invalid NVML snapshot"),
        ('{"gpus": [{"index": 0}]}', "invalid NVML snapshot"),
    ],
)
def test_bad_snapshot_files_are_config_errors(tmp_path, content, needle):
    path = tmp_path / "snap.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=needle):
        load_snapshot(path)


@pytest.fixture
def replay(monkeypatch):
    def install(**kwargs):
        module = fake_pynvml.build(**kwargs)
        monkeypatch.setitem(sys.modules, "pynvml", module)
        return module

    return install


@pytest.mark.parametrize("name", ["one_gpu_processes", "multi_gpu", "big_gpu"])
def test_nvml_session_reads_what_nvml_reports(replay, snapshots, name):
    module = replay(snapshot_file=snapshots / f"{name}.json")
    recorded = load_snapshot(snapshots / f"{name}.json")
    snap = nvml.read_snapshot()
    assert snap.available and snap.error is None
    assert snap.driver_version == recorded.driver_version
    assert snap.cuda_driver_version == recorded.cuda_driver_version
    for got, want in zip(snap.gpus, recorded.gpus, strict=True):
        assert (got.name, got.uuid, got.compute_cap) == (want.name, want.uuid, want.compute_cap)
        assert (got.memory_total_mib, got.memory_used_mib, got.memory_free_mib) == (
            want.memory_total_mib,
            want.memory_used_mib,
            want.memory_free_mib,
        )
        assert (got.utilization_gpu, got.temperature_gpu, got.power_draw_w, got.power_limit_w) == (
            want.utilization_gpu,
            want.temperature_gpu,
            want.power_draw_w,
            want.power_limit_w,
        )
        assert sorted((p.pid, p.used_memory_mib) for p in got.processes) == sorted(
            (p.pid, p.used_memory_mib) for p in want.processes
        )
    assert module.calls["init"] == module.calls["shutdown"] == 1
    assert set(module.calls["memory_version"]) == {module.nvmlMemory_v2}  # v2 where available


def test_nvml_memory_v1_when_bindings_lack_v2(replay, snapshots):
    module = replay(snapshot_file=snapshots / "one_gpu_processes.json", memory_v2=False)
    snap = nvml.read_snapshot()
    assert snap.gpus[0].memory_used_mib == 3021.0
    assert module.calls["memory_version"] == [None]


def test_nvml_session_inits_once_for_many_readings(replay, snapshots):
    module = replay(snapshot_file=snapshots / "multi_gpu.json")
    with nvml.NvmlSession() as session:
        readings = [session.snapshot() for _ in range(5)]
    assert module.calls["init"] == 1 and module.calls["shutdown"] == 1
    assert all(len(r.gpus) == 3 for r in readings)


@pytest.mark.parametrize(
    "error, text",
    [
        (fake_pynvml.NVMLError_LibraryNotFound, "no NVIDIA driver"),
        (fake_pynvml.NVMLError_DriverNotLoaded, "kernel driver is not loaded"),
    ],
)
def test_nvml_init_failure_is_a_finding(replay, error, text):
    replay(init_error=error)
    snap = nvml.read_snapshot()
    assert not snap.available and text in snap.error and snap.gpus == []


def test_real_pynvml_without_driver():
    """This host has no NVIDIA driver: the real bindings fail to init, the backend says so."""
    snap = nvml.read_snapshot()
    if snap.available:
        pytest.skip("this host has an NVIDIA driver")
    assert snap.error and "Traceback" not in snap.error
