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


# What `python -m engines.cuda_check --json` says in a worker whose torch runs the recorded GPU
# (RTX 3050, sm_86): the default image variant's architectures.
CUDA_CU124 = {
    "available": True,
    "torch_version": "2.6.0+cu124",
    "cuda_version": "12.4",
    "device_name": "NVIDIA GeForce RTX 3050 Laptop GPU",
    "compute_capability": "8.6",
    "arch_list": ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"],
    "notes": [],
}


def install_cuda_check(project, report: dict, service: str = "celery") -> None:
    """Put a `python` in the running busybox worker that answers like engines.cuda_check --json
    (written as uid 0: the fixture's containers run as nobody)."""
    import json

    client = project.client
    worker = client.api.containers(
        filters={
            "label": [
                f"com.docker.compose.project={project.name}",
                f"com.docker.compose.service={service}",
            ]
        }
    )[0]
    script = "#!/bin/sh\ncat <<'JSON'\n" + json.dumps(report) + "\nJSON\n"
    exec_id = client.api.exec_create(
        worker["Id"],
        ["sh", "-c", f"cat > /bin/python <<'EOF'\n{script}EOF\nchmod +x /bin/python"],
        user="0",  # busybox image has no passwd file: by uid
    )
    output = client.api.exec_start(exec_id)
    assert client.api.exec_inspect(exec_id)["ExitCode"] == 0, output
