"""Real-GPU checks; skipped (with the reason) on hosts without CUDA such as dev and CI."""

import gc

import pytest
import torch

from engines import get_engine
from engines.settings import load_settings
from engines.vram import VramManager

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="needs CUDA: torch.cuda.is_available() is False on this host",
    ),
]

MIB = 2**20


def _big_module():
    return torch.nn.Sequential(*[torch.nn.Linear(2048, 2048) for _ in range(8)])  # ~128 MiB fp32


@pytest.mark.parametrize("offload", ["cpu", "none"])
def test_unload_returns_memory_to_baseline(offload):
    gc.collect()
    torch.cuda.empty_cache()
    baseline = torch.cuda.memory_allocated()
    vm = VramManager(load_settings(low_vram=True, vram_offload=offload))
    with vm.load_model("big", lambda d: _big_module().to(d), "cuda") as model:
        assert all(p.device.type == "cuda" for p in model.parameters())
        during = torch.cuda.memory_allocated()
        del model
    gc.collect()
    assert during - baseline > 100 * MIB  # VRAM measured during load
    assert abs(torch.cuda.memory_allocated() - baseline) <= MIB
    vm.clear()


def test_swap_back_from_host_ram_is_on_cuda():
    vm = VramManager(load_settings(low_vram=True, vram_offload="cpu"))
    for _ in range(2):
        with vm.load_model("big", lambda d: _big_module().to(d), "cuda") as model:
            assert next(model.parameters()).device.type == "cuda"
            del model
    assert vm.stats()["swaps_in"] == 1
    vm.clear()


@pytest.mark.parametrize("name", ["f5tts", "xtts"])
def test_engine_runs_on_cuda(make_settings, ref_wav, name):
    settings = make_settings(
        low_vram=True,
        vram_offload="none",
        f5tts_device="cuda",
        xtts_device="cuda",
        device_fallback_to_cpu=False,
    )
    gc.collect()
    torch.cuda.empty_cache()
    baseline = torch.cuda.memory_allocated()
    engine = get_engine(name, settings=settings, vram_manager=VramManager(settings))
    assert engine.device == "cuda"
    voice = engine.prepare_voice(ref_wav, ref_text="reference clip.", language="en")
    result = engine.synthesize("Hello from the GPU.", voice, language="en")
    assert result.device == "cuda" and result.duration_s > 0.2
    gc.collect()
    assert abs(torch.cuda.memory_allocated() - baseline) <= MIB
