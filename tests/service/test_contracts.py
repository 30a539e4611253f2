"""The VRAM and health contracts (engines.contracts) end to end, on real parts.

Producer (a real ``VramManager`` on the simulated GPU of ``engines.testing``) -> the worker's
``vram_publish.publish`` into a real redis-server -> the real API (uvicorn) -> avops's
``ApiClient`` -> the readers (``avops vram``'s collect/render, the doctor checks).
"""

from __future__ import annotations

import json

import pytest
import redis

from engines.contracts import HealthResponse, VramResponse, VramStats
from engines.settings import load_settings
from engines.testing import FakeGpu, FakeGpuModel
from engines.vram import VramManager
from service import vram_publish
from tests.gpu.conftest import SNAPSHOTS
from tests.service.procs import wait_for


@pytest.fixture(scope="module")
def api_only(make_stack):
    """The API on its own Redis db, no worker: the test publishes as the worker would."""
    stack = make_stack(start_worker=False)
    with stack.client() as c:
        wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
    return stack


@pytest.fixture
def publisher(api_only):
    client = redis.Redis.from_url(api_only.redis_url)
    yield client
    client.delete(vram_publish.KEY)
    client.close()


def low_vram_manager() -> tuple[VramManager, FakeGpu]:
    gpu = FakeGpu(4096)
    settings = load_settings(low_vram="true", vram_offload="cpu", vram_reserve_mb=256)
    return VramManager(settings, backend=gpu), gpu


def real_project():
    """The project avops builds for the repository's own compose file (no Docker call made)."""
    from audiovoice_ops.core.project import Project
    from audiovoice_ops.core.stack import load_stack
    from tests.service.procs import REPO_ROOT

    return Project(load_stack(REPO_ROOT / "docker" / "compose.yml", REPO_ROOT / ".env.example", {}))


def avops_reads(stack):
    from audiovoice_ops.core.apiclient import ApiClient

    with ApiClient(stack.base_url, stack.admin_key) as api:
        return api.vram(), api.health()


def test_producer_stats_arrive_typed_in_avops(api_only, publisher):
    vm, gpu = low_vram_manager()
    with vm.load_model("f5tts", lambda device: FakeGpuModel(300, gpu, device), "cuda"):
        pass  # LOW_VRAM: parked in host RAM after the job
    with vm.load_model("xtts", lambda device: FakeGpuModel(200, gpu, device), "cuda"):
        produced = vm.snapshot()  # xtts in use on the GPU, f5tts parked
    vram_publish.publish(publisher, produced, worker="celery@test pid=1", event="load")

    vram, health = avops_reads(api_only)
    assert vram.ok, vram.error
    assert isinstance(vram.parsed, VramResponse)
    assert vram.parsed.vram == produced  # every field, nested models included, survives the trip
    assert vram.parsed.worker == "celery@test pid=1" and vram.parsed.event == "load"
    assert 0 <= vram.parsed.age_seconds < 10 and vram.parsed.timestamp.endswith("+00:00")
    assert [(m.key, m.device, m.parked, m.in_use) for m in vram.parsed.vram.resident_models] == [
        ("f5tts", "cpu", True, 0),
        ("xtts", "cuda", False, 1),
    ]

    # The published payload doubles as the heartbeat: /health is ok, typed for avops.
    assert health.ok, health.error
    assert isinstance(health.parsed, HealthResponse) and health.parsed.status == "ok"
    assert {"redis", "worker", "storage"} <= set(health.parsed.checks)
    assert (
        health.parsed.checks["worker"].ok
        and "celery@test pid=1" in health.parsed.checks["worker"].detail
    )


def test_doctor_and_vram_view_read_the_published_stats(api_only, publisher):
    from rich.console import Console

    from audiovoice_ops.commands.vram import api_view, collect
    from audiovoice_ops.core.apiclient import ApiClient
    from audiovoice_ops.core.doctor.lowvram import check_f5tts_cuda
    from audiovoice_ops.core.doctor.observability import (
        check_api_health,
        check_vram_baseline,
        check_vram_endpoint,
    )
    from audiovoice_ops.core.doctor.sources import Sources
    from audiovoice_ops.gpu.source import GpuSource
    from audiovoice_ops.gpu.types import GpuSnapshot

    vm, gpu = low_vram_manager()
    with vm.load_model("f5tts", lambda device: FakeGpuModel(300, gpu, device), "cuda"):
        pass
    vram_publish.publish(publisher, vm.snapshot(), worker="celery@test pid=2", event="unload")

    with ApiClient(api_only.base_url, api_only.admin_key) as api:
        recorded = SNAPSHOTS / "one_gpu_processes.json"  # a host with a GPU, recorded
        src = Sources(
            project=real_project(),
            api_expected=True,
            vram=api.vram(),
            health=api.health(),
            gpu=GpuSnapshot.from_dict(json.loads(recorded.read_text())),
        )
        source = GpuSource(recorded)
        try:
            frame = collect(source, api)
        finally:
            source.close()
    assert isinstance(src.stats, VramStats) and src.stats.low_vram_mode is True
    assert check_vram_endpoint(src, max_age_s=30).status == "pass"
    assert check_vram_baseline(src).status == "pass"  # f5tts parked in host RAM, nothing allocated
    assert check_f5tts_cuda(src).status == "pass"
    health = check_api_health(src)
    assert health.status == "pass" and health.reason.endswith("status ok"), health

    assert frame["api"]["ok"] and frame["api"]["worker"] == "celery@test pid=2"
    assert VramStats.model_validate(frame["api"]["vram"]) == src.stats
    console = Console(record=True, width=120, color_system=None)
    console.print(api_view(frame["api"]))
    text = console.export_text()
    assert (
        "LOW_VRAM (offload cpu, keep-alive none), device cuda" in text
        and "f5tts on cpu, 300 MB, parked" in text
    )
    assert "published by" in text and "celery@test pid=2 on unload" in text


def test_worker_without_engines_publishes_a_valid_payload(api_only, publisher):
    """The worker's fallback when the engines extra is missing (service/worker.py publish_vram)."""
    vram_publish.publish(
        publisher,
        {"available": False, "error": "engines extra not installed in this image"},
        worker="celery@test pid=3",
        event="startup",
    )
    vram, _ = avops_reads(api_only)
    assert vram.ok and vram.parsed.vram.error == "engines extra not installed in this image"
    assert vram.parsed.vram.resident_models == [] and vram.parsed.vram.device == "cpu"


def test_a_producer_that_drifts_from_the_contract_fails_at_publish(publisher):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="device"):
        vram_publish.publish(
            publisher, {"available": True, "device": "gpu0"}, worker="w", event="load"
        )
    assert publisher.get(vram_publish.KEY) is None  # nothing half-written for the API to serve


def test_nothing_published_reads_as_all_null(api_only, publisher):
    from audiovoice_ops.core.apiclient import ApiClient

    with api_only.client() as c:
        assert c.get("/admin/vram").json() == VramResponse().model_dump()
    with ApiClient(api_only.base_url, api_only.admin_key) as api:
        result = api.vram()
    assert not result.ok and "no worker has published VRAM stats yet" in result.error
