from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.gpu.apiserver import FakeApi, vram_stats

FIXTURE = Path(__file__).parent / "fixtures" / "stack"
ADMIN_KEY = "doctor-test-admin-key-0123456789"  # what the healthy API requires on /admin/vram
SNAPSHOTS = Path(__file__).parent.parent / "gpu" / "snapshots"


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    """Overrides the shared fixture: the doctor's stack (celery worker with build and GPU reservation)."""
    target = tmp_path / "stack"
    shutil.copytree(FIXTURE, target)
    shutil.copy(target / ".env.example", target / ".env")
    (target / ".env").chmod(0o600)
    return target


@pytest.fixture
def healthy_api():
    """The worker's API after a job in LOW_VRAM: f5tts parked on the CPU, VRAM back to baseline."""
    models = [
        dict(key="f5tts", device="cpu", size_mb=2300.0, parked=True, in_use=0, last_used_s_ago=12.0)
    ]
    with FakeApi(
        vram_stats(low_vram=True, models=models, allocated_mb=0.0), api_key=ADMIN_KEY
    ) as api:
        yield api


@pytest.fixture
def gpu_snapshot() -> Path:
    return SNAPSHOTS / "one_gpu_processes.json"
