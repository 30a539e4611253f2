"""VRAM manager bookkeeping on a simulated GPU (engines.testing.FakeGpu), plus real-torch CPU runs."""

import gc
import threading
import weakref

import pytest
import torch

from engines.errors import VramError
from engines.settings import load_settings
from engines.testing import FakeGpu, FakeGpuModel
from engines.vram import VramManager


def manager(gpu=None, **settings):
    settings.setdefault("vram_reserve_mb", 0)
    settings.setdefault("vram_release_timeout_s", 0.2)
    return VramManager(load_settings(**settings), backend=gpu or FakeGpu(1000))


def loader(gpu, size_mb, calls=None):
    def load(device):
        if calls is not None:
            calls.append(device)
        return FakeGpuModel(size_mb, gpu, device)

    return load


@pytest.mark.parametrize("offload", ["cpu", "none"])
def test_low_vram_unload_frees_gpu_copy(offload):
    gpu = FakeGpu(1000)
    vm = manager(gpu, low_vram=True, vram_offload=offload)
    with vm.load_model("m", loader(gpu, 300), "cuda") as model:
        ref = weakref.ref(model)
        assert model.device == "cuda" and gpu.allocated == 300
        del model
    gc.collect()
    assert ref() is None, "the GPU copy is still referenced after the job"
    assert gpu.allocated == 0
    stats = vm.stats()
    assert stats["unloads"] == 1 and stats["low_vram_mode"] and stats["offload"] == offload
    if offload == "cpu":
        assert [(m["key"], m["device"], m["parked"]) for m in stats["resident_models"]] == [
            ("m", "cpu", True)
        ]
    else:
        assert stats["resident_models"] == []


def test_offload_cpu_swaps_back_without_reloading():
    gpu = FakeGpu(1000)
    calls = []
    vm = manager(gpu, low_vram=True, vram_offload="cpu")
    for _ in range(3):
        with vm.load_model("m", loader(gpu, 200, calls), "cuda") as model:
            assert model.device == "cuda"
    del model  # the test's own reference to the last GPU copy
    gc.collect()
    assert calls == ["cuda"]  # checkpoint read once
    stats = vm.stats()
    assert (stats["loads"], stats["swaps_in"], stats["unloads"]) == (1, 2, 3)
    assert stats["mean_swap_s"] is not None and gpu.allocated == 0


def test_offload_none_reloads_each_job():
    gpu = FakeGpu(1000)
    calls = []
    vm = manager(gpu, low_vram=True, vram_offload="none")
    for _ in range(2):
        with vm.load_model("m", loader(gpu, 200, calls), "cuda"):
            pass
    assert calls == ["cuda", "cuda"] and gpu.allocated == 0


def test_normal_mode_cache_hit():
    gpu = FakeGpu(1000)
    calls = []
    vm = manager(gpu, low_vram=False)
    with vm.load_model("m", loader(gpu, 200, calls), "cuda") as first:
        pass
    with vm.load_model("m", loader(gpu, 200, calls), "cuda") as second:
        assert second is first
    assert calls == ["cuda"] and gpu.allocated == 200
    assert vm.stats()["cache_hits"] == 1


def test_exception_inside_job_still_unloads():
    gpu = FakeGpu(1000)
    vm = manager(gpu, low_vram=True, vram_offload="none")
    with pytest.raises(RuntimeError, match="boom"):
        with vm.load_model("m", loader(gpu, 300), "cuda"):
            raise RuntimeError("boom")
    gc.collect()
    assert gpu.allocated == 0 and vm.resident() == []


@pytest.mark.parametrize("offload", ["cpu", "none"])
def test_lru_eviction_under_budget(offload):
    gpu = FakeGpu(1000)
    vm = manager(gpu, low_vram=False, vram_offload=offload, vram_reserve_mb=100)
    for key in ("a", "b", "c"):
        with vm.load_model(key, loader(gpu, 300), "cuda", size_mb=300):
            pass
    with vm.load_model("a", loader(gpu, 300), "cuda"):  # touch a: b is now least recent
        pass
    with vm.load_model("d", loader(gpu, 300), "cuda", size_mb=300):
        pass
    gc.collect()
    on_gpu = sorted(m["key"] for m in vm.stats()["resident_models"] if m["device"] == "cuda")
    assert on_gpu == ["a", "c", "d"]
    assert vm.stats()["evictions"] == 1
    assert gpu.allocated == 900


def test_models_in_use_are_never_evicted():
    gpu = FakeGpu(1000)
    vm = manager(gpu, low_vram=False)
    with vm.load_model("a", loader(gpu, 600), "cuda"):
        with vm.load_model("b", loader(gpu, 300), "cuda", size_mb=600):
            assert vm.stats()["evictions"] == 0


def _oom_loader(gpu, size_mb, fail_times, calls):
    def load(device):
        calls.append(device)
        if device == "cuda" and len([c for c in calls if c == "cuda"]) <= fail_times:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return FakeGpuModel(size_mb, gpu, device)

    return load


def test_oom_on_load_evicts_others_and_retries():
    gpu = FakeGpu(1000)
    vm = manager(gpu, low_vram=False, vram_offload="none")
    with vm.load_model("other", loader(gpu, 500), "cuda"):
        pass
    calls = []
    with vm.load_model("m", _oom_loader(gpu, 400, 1, calls), "cuda") as model:
        assert model.device == "cuda"
    gc.collect()
    assert calls == ["cuda", "cuda"]
    assert vm.resident() == ["m"] and gpu.allocated == 400
    assert vm.stats()["oom_recoveries"] == 1 and vm.stats()["evictions"] == 1


def test_oom_twice_falls_back_to_cpu():
    gpu = FakeGpu(1000)
    vm = manager(gpu, low_vram=True, device_fallback_to_cpu=True)
    calls = []
    with vm.load_model("m", _oom_loader(gpu, 400, 2, calls), "cuda") as model:
        assert model.device == "cpu"
    assert calls == ["cuda", "cuda", "cpu"] and gpu.allocated == 0
    assert vm.stats()["cpu_fallbacks"] == 1


def test_oom_without_fallback_is_a_clear_error():
    gpu = FakeGpu(1000)
    vm = manager(gpu, low_vram=True, device_fallback_to_cpu=False)
    with pytest.raises(VramError, match="DEVICE_FALLBACK_TO_CPU=false"):
        with vm.load_model("m", _oom_loader(gpu, 400, 5, []), "cuda"):
            pass
    assert gpu.allocated == 0 and vm.resident() == []


def test_oom_during_inference_retries_then_falls_back():
    gpu = FakeGpu(1000)
    vm = manager(gpu, low_vram=False)
    devices = []

    def job(model, device):
        devices.append(device)
        if device == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory during sampling")
        return model.device

    assert vm.run("m", loader(gpu, 300), job, "cuda") == "cpu"
    gc.collect()
    assert devices == ["cuda", "cuda", "cpu"] and gpu.allocated == 0
    assert vm.stats()["oom_recoveries"] == 1


def test_oom_during_inference_without_fallback_leaves_nothing_on_gpu():
    gpu = FakeGpu(1000)
    vm = manager(gpu, low_vram=False, device_fallback_to_cpu=False, vram_offload="none")

    def job(model, device):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory during sampling")

    with pytest.raises(VramError):
        vm.run("m", loader(gpu, 300), job, "cuda")
    gc.collect()
    assert gpu.allocated == 0


def test_thread_safety_single_load_and_clean_exit():
    gpu = FakeGpu(10_000)
    vm = manager(gpu, low_vram=True, vram_offload="cpu")
    calls, errors = [], []
    barrier = threading.Barrier(8)

    def worker():
        try:
            barrier.wait()
            for _ in range(20):
                with vm.load_model("m", loader(gpu, 100, calls), "cuda") as model:
                    assert model.device == "cuda"
        except Exception as exc:  # noqa: BLE001  (any failure in a thread is reported below)
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gc.collect()
    assert errors == []
    assert calls == ["cuda"]  # loaded exactly once despite 8 concurrent first requests
    assert gpu.allocated == 0 and vm.stats()["resident_models"][0]["in_use"] == 0


def test_log_lines_have_measured_figures(caplog):
    gpu = FakeGpu(1000)
    with caplog.at_level("INFO"):
        vm = manager(gpu, low_vram=True, vram_offload="none")
        with vm.load_model("f5tts", loader(gpu, 250), "cuda"):
            pass
    text = caplog.text
    assert "LOW VRAM MODE: ENABLED" in text
    assert "LOW_VRAM: loading model 'f5tts' onto cuda" in text
    assert "VRAM allocated after load 250.0 MB" in text
    assert "VRAM freed by 'f5tts': 250.0 MB (before=250.0 MB, after=0.0 MB)" in text


def test_stats_shape():
    vm = manager(FakeGpu(2048))
    stats = vm.stats()
    for key in (
        "available",
        "low_vram_mode",
        "offload",
        "device",
        "allocated_mb",
        "reserved_mb",
        "free_mb",
        "total_mb",
        "resident_models",
        "loads",
        "unloads",
        "evictions",
        "oom_recoveries",
        "mean_load_s",
        "mean_swap_s",
    ):
        assert key in stats
    assert stats["total_mb"] == 2048


@pytest.mark.parametrize("offload", ["cpu", "none"])
def test_real_torch_module_on_cpu(offload):
    """The real backend on this host: a torch module through the manager, freed in LOW_VRAM none."""
    vm = VramManager(load_settings(low_vram=True, vram_offload=offload))
    with vm.load_model("lin", lambda device: torch.nn.Linear(64, 64).to(device), "cuda") as model:
        ref = weakref.ref(model)
        expected = "cuda" if torch.cuda.is_available() else "cpu"
        assert next(model.parameters()).device.type == expected
        del model
    gc.collect()
    assert (ref() is None) == (offload == "none")
    vm.clear()
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize(
    "offload, expected",
    [
        ("cpu", [("load", "m"), ("unload", "m"), ("swap_in", "m"), ("unload", "m")]),
        ("none", [("load", "m"), ("unload", "m"), ("load", "m"), ("unload", "m")]),
    ],
)
def test_listeners_see_every_load_and_unload(offload, expected):
    gpu = FakeGpu(1000)
    vm = manager(gpu, low_vram=True, vram_offload=offload)
    seen = []
    vm.add_listener(lambda event, key: seen.append((event, key)))
    vm.add_listener(lambda event, key: 1 / 0)  # a broken observer never breaks the job
    for _ in range(2):
        with vm.load_model("m", loader(gpu, 100), "cuda"):
            # stats() from inside a callback-triggering thread must not deadlock
            assert vm.stats()["loads"] >= 1
    assert seen == expected


def test_listener_reports_park_without_gpu():
    vm = manager(FakeGpu(1000), low_vram=True, vram_offload="cpu")
    seen = []
    vm.add_listener(lambda event, key: seen.append(event))
    with vm.load_model("m", lambda device: torch.nn.Linear(2, 2), "cpu"):
        pass
    assert seen == ["load", "park"]
