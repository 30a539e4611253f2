"""Model residency by keep-alive (MODEL_KEEP_ALIVE): settings, per-job keep-alive, the expiry timer.

Bookkeeping runs on the simulated GPU (engines.testing.FakeGpu, which counts allocated MB the way
the driver would); one test runs the real timer on a real torch module on the CPU.
"""

from __future__ import annotations

import time

import pytest
import torch

from engines.errors import EngineConfigError, VramError
from engines.settings import KEEP_ALIVE_RULE, load_settings
from engines.testing import FakeGpu
from engines.vram import VramManager
from tests.engines.test_vram import loader, manager  # the same simulated-GPU helpers


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# ----------------------------------------------------------------------------- settings
@pytest.mark.parametrize(
    "env,expected",
    [
        ({"low_vram": True}, 0.0),  # the seed's LOW_VRAM keeps its meaning
        ({"low_vram": False}, -1.0),
        ({"low_vram": True, "model_keep_alive": "30"}, 30.0),
        ({"low_vram": False, "model_keep_alive": "0"}, 0.0),
        ({"low_vram": True, "model_keep_alive": " "}, 0.0),  # empty in .env = unset
        ({"model_keep_alive": "-1"}, -1.0),
    ],
)
def test_default_keep_alive_follows_low_vram(env, expected):
    assert load_settings(**env).keep_alive_s == expected


@pytest.mark.parametrize("bad", ["-2", "nan", "inf", "soon", "-0.5"])
def test_bad_keep_alive_is_one_line_error_naming_the_variable(bad):
    with pytest.raises(EngineConfigError) as err:
        load_settings(model_keep_alive=bad)
    assert str(err.value).startswith("MODEL_KEEP_ALIVE:") and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "limit,requested,expected",
    [
        (3600, None, 30.0),  # the default
        (3600, 10, 10.0),
        (3600, 99999, 3600.0),  # capped
        (3600, -1, 3600.0),  # "forever" is capped too when the operator set a bound
        (-1, -1, -1.0),  # no bound
        (60, 0, 0.0),
    ],
)
def test_job_keep_alive_is_bounded(limit, requested, expected):
    settings = load_settings(model_keep_alive=30, model_keep_alive_max=limit)
    assert settings.bounded_keep_alive(requested) == expected


def test_job_keep_alive_out_of_rule_is_refused():
    with pytest.raises(ValueError, match="keep_alive must be"):
        load_settings().bounded_keep_alive(-3)
    assert "-1 (forever)" in KEEP_ALIVE_RULE


# ----------------------------------------------------------------------------- residency
@pytest.mark.parametrize("offload", ["cpu", "none"])
def test_model_stays_then_leaves_after_keep_alive(offload):
    gpu = FakeGpu(1000)
    vm = manager(gpu, model_keep_alive=0.3, vram_offload=offload)
    with vm.load_model("m", loader(gpu, 300), "cuda"):
        pass
    [model] = vm.snapshot().resident_models
    assert model.state == "gpu" and model.keep_alive_s == 0.3
    assert 0 < model.expires_in_s <= 0.3
    assert gpu.allocated == 300, "left the GPU before its keep-alive ran out"
    assert wait_until(lambda: gpu.allocated == 0, timeout=3), "the timer never took it off"
    stats = vm.snapshot()
    assert stats.expiries == 1 and stats.unloads == 1
    if offload == "cpu":
        assert [(m.state, m.expires_in_s) for m in stats.resident_models] == [("parked", None)]
    else:
        assert stats.resident_models == []


def test_job_inside_keep_alive_is_a_cache_hit_and_restarts_the_countdown():
    gpu = FakeGpu(1000)
    calls = []
    vm = manager(gpu, model_keep_alive=0.5)
    for _ in range(3):
        with vm.load_model("m", loader(gpu, 200, calls), "cuda"):
            pass
        time.sleep(0.3)  # each job arrives before the previous keep-alive ran out
    assert calls == ["cuda"] and vm.snapshot().cache_hits == 2
    assert gpu.allocated == 200 and vm.snapshot().expiries == 0
    assert wait_until(lambda: gpu.allocated == 0)


def test_model_in_use_never_expires():
    gpu = FakeGpu(1000)
    vm = manager(gpu, model_keep_alive=0.05)
    with vm.load_model("m", loader(gpu, 200), "cuda"):
        with vm.load_model("m", loader(gpu, 200), "cuda"):
            pass  # the inner release must not start a countdown: a job still holds it
        time.sleep(0.2)
        assert vm.expire_idle(now=time.monotonic() + 100) == []
        assert gpu.allocated == 200
    assert wait_until(lambda: gpu.allocated == 0)


def test_per_job_keep_alive_overrides_the_default():
    gpu = FakeGpu(1000)
    vm = manager(gpu, low_vram=True, model_keep_alive_max=60)  # default 0: leave at once
    with vm.keep_alive(30) as bounded:
        assert bounded == 30
        with vm.load_model("m", loader(gpu, 200), "cuda"):
            pass
    [model] = vm.snapshot().resident_models
    assert (model.state, model.keep_alive_s) == ("gpu", 30)
    with vm.load_model("m", loader(gpu, 200), "cuda"):
        pass  # a job with the default leaves at once again
    assert gpu.allocated == 0 and vm.snapshot().resident_models[0].state == "parked"
    with vm.keep_alive(10_000):
        with vm.load_model("m", loader(gpu, 200), "cuda"):
            pass
    assert vm.snapshot().resident_models[0].keep_alive_s == 60  # capped at the maximum


def test_keep_forever_never_counts_down():
    gpu = FakeGpu(1000)
    vm = manager(gpu, model_keep_alive=-1)
    with vm.load_model("m", loader(gpu, 200), "cuda"):
        pass
    assert vm.next_expiry() is None
    assert vm.expire_idle(now=time.monotonic() + 10**9) == []
    assert vm.snapshot().resident_models[0].expires_in_s is None and gpu.allocated == 200


def test_offload_now_refuses_a_model_in_use_and_follows_the_offload_rule():
    gpu = FakeGpu(1000)
    vm = manager(gpu, model_keep_alive=-1, vram_offload="cpu")
    assert vm.offload_now("m") is None  # unknown: nothing to do
    with vm.load_model("m", loader(gpu, 200), "cuda"):
        with pytest.raises(VramError, match="in use"):
            vm.offload_now("m")
    assert vm.offload_now("m") == "parked" and gpu.allocated == 0
    with vm.load_model("m", loader(gpu, 200), "cuda"):
        pass
    assert vm.snapshot().swaps_in == 1


def test_expiry_listener_sees_the_unload():
    gpu = FakeGpu(1000)
    vm = manager(gpu, model_keep_alive=0.1, vram_offload="none")
    events = []
    vm.add_listener(lambda event, key: events.append((event, key)))
    with vm.load_model("m", loader(gpu, 100), "cuda"):
        pass
    assert wait_until(lambda: ("unload", "m") in events)
    assert events[0] == ("load", "m")


def test_real_module_on_cpu_is_freed_by_the_timer():
    vm = VramManager(load_settings(model_keep_alive=0.2, vram_offload="none"))
    with vm.load_model("lin", lambda device: torch.nn.Linear(256, 256).to(device), "cpu") as m:
        out = m(torch.ones(1, 256))
    assert out.shape == (1, 256) and vm.resident() == ["lin"]
    assert wait_until(lambda: vm.resident() == [], timeout=3)
    assert vm.snapshot().expiries == 1
