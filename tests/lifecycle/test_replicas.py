"""One worker per GPU on a real engine: two replicas from a recorded 2-GPU NVML snapshot, then
status, restart of one replica, logs, env, scale down and up, cleanup.

The engine here has no NVIDIA runtime, so the replicas run with their device requests stripped by
the documented switch ``AVOPS_GPUS=off`` (the replicas stay, each labelled with its planned GPU);
tests/core/test_replicas.py checks the device requests avops would send.
"""

from __future__ import annotations

import json

import pytest

from audiovoice_ops.core.errors import ExitCode
from tests.support import dockerenv
from tests.support.dockerenv import REPO_ROOT

pytestmark = pytest.mark.docker

TWO_GPUS = REPO_ROOT / "tests" / "gpu" / "snapshots" / "two_gpus.json"

COMPOSE = """\
# The audio-voice shape in small: a store, and a worker template replicated per GPU.
x-idle: &idle
  command: ["sh", "-c", "trap 'exit 0' TERM; echo worker up; touch /tmp/ready; while true; do sleep 1 & wait $$!; done"]
  healthcheck:
    test: ["CMD", "test", "-f", "/tmp/ready"]
    interval: 1s
    timeout: 2s
    retries: 3
  stop_grace_period: 2s
  network_mode: host

services:
  store:
    image: avops-test/busybox:latest
    <<: *idle
  worker:
    image: avops-test/busybox:latest
    <<: *idle
    x-avops-gpus: ${WORKER_GPUS:-all}
    env_file: .env
    depends_on:
      store:
        condition: service_healthy
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: all
              capabilities: [gpu]
"""


@pytest.fixture
def gpu_project(docker_client, busybox_image, project_name, tmp_path):
    root = tmp_path / "gpustack"
    root.mkdir()
    (root / "compose.yml").write_text(COMPOSE)
    (root / ".env").write_text("LOW_VRAM=true\nWORKER_GPUS=all\n")
    project = dockerenv.TestProject(docker_client, project_name, root)
    yield project
    project.destroy()


def env_of(project: dockerenv.TestProject) -> dict[str, str]:
    return {**project.cli_env(), "AVOPS_NVML_SNAPSHOT": str(TWO_GPUS), "AVOPS_GPUS": "off"}


def avops(project: dockerenv.TestProject, *args: str):
    # A wide table: rich would wrap the status columns at a pipe's default 80.
    return project.avops(*args, env={**env_of(project), "COLUMNS": "200"})


def set_worker_gpus(project: dockerenv.TestProject, value: str) -> None:
    project.env_file.write_text(f"LOW_VRAM=true\nWORKER_GPUS={value}\n")


def workers(project: dockerenv.TestProject) -> dict[int, dict]:
    """Replica number -> its status row."""
    result = avops(project, "status", "--json")
    rows = json.loads(result.stdout)["services"]
    return {r["replica"]: r for r in rows if r["service"] == "worker"}


def test_two_replicas_status_restart_one_logs_env_scale_cleanup(gpu_project):
    p = gpu_project
    up = avops(p, "rebuild")
    assert up.returncode == 0, up.stdout + up.stderr
    before = workers(p)
    assert sorted(before) == [1, 2]
    assert [before[n]["container"] for n in (1, 2)] == [f"{p.name}-worker-1", f"{p.name}-worker-2"]
    assert [before[n]["planned_gpu"] for n in (1, 2)] == ["0", "1"]
    assert all(r["health"] == "healthy" and not r["gpu"] for r in before.values())
    table = avops(p, "status")
    assert table.returncode == 0 and "worker:2" in table.stdout and "GPU 1 planned" in table.stdout

    # Replica 1 only: a new container there, replica 2 untouched.
    one = avops(p, "restart", "worker:1")
    assert one.returncode == 0, one.stdout + one.stderr
    after = workers(p)
    assert after[1]["id"] != before[1]["id"] and after[2]["id"] == before[2]["id"]

    bad = avops(p, "restart", "worker:9")
    assert bad.returncode == ExitCode.USAGE
    assert bad.stderr.startswith("error: no replica 'worker:9'") and "Traceback" not in bad.stderr

    logs = avops(p, "logs", "worker", "--json")
    containers = {json.loads(line)["container"] for line in logs.stdout.splitlines()}
    assert containers == {f"{p.name}-worker-1", f"{p.name}-worker-2"}
    only = avops(p, "logs", "worker:2", "--json")
    assert {json.loads(line)["container"] for line in only.stdout.splitlines()} == {
        f"{p.name}-worker-2"
    }

    set_worker_gpus(p, "0")  # scale down; .env changed, so every container drifts
    env = avops(p, "env", "worker", "--json")
    assert env.returncode == 1
    fixes = {s["container"]: s["fix"] for s in json.loads(env.stdout)["services"]}
    assert fixes == {
        f"{p.name}-worker-1": "avops restart worker:1",
        f"{p.name}-worker-2": "avops restart worker:2",
    }
    second = avops(p, "env", "worker:2", "--json")
    assert [s["container"] for s in json.loads(second.stdout)["services"]] == [f"{p.name}-worker-2"]
    status = avops(p, "status", "--json")
    problems = json.loads(status.stdout)["problems"]
    assert status.returncode == 1 and [x["kind"] for x in problems] == ["surplus"]
    assert f"{p.name}-worker-2" in problems[0]["message"]
    down = avops(p, "restart", "worker")
    assert down.returncode == 0, down.stdout + down.stderr
    assert sorted(workers(p)) == [1]

    set_worker_gpus(p, "0,1")  # scale up: rebuild adds replica 2
    up = avops(p, "rebuild")
    assert up.returncode == 0, up.stdout + up.stderr
    again = workers(p)
    assert sorted(again) == [1, 2]
    same = avops(p, "rebuild")  # nothing changed: each replica is current and keeps serving
    assert same.returncode == 0, same.stdout + same.stderr
    assert {n: r["id"] for n, r in workers(p).items()} == {n: r["id"] for n, r in again.items()}

    gone = avops(p, "cleanup")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    selector = {"label": f"com.docker.compose.project={p.name}"}
    assert p.client.api.containers(all=True, filters=selector) == []


def test_rebuild_removes_a_replica_past_worker_gpus(gpu_project):
    p = gpu_project
    assert avops(p, "rebuild").returncode == 0
    set_worker_gpus(p, "1")  # one worker, now on GPU 1: replica 1 moves, replica 2 goes
    result = avops(p, "rebuild")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = workers(p)
    assert sorted(rows) == [1] and rows[1]["planned_gpu"] == "1"


def test_none_is_one_cpu_worker(gpu_project):
    p = gpu_project
    set_worker_gpus(p, "none")
    result = p.avops("rebuild", env={**p.cli_env(), "AVOPS_NVML_SNAPSHOT": str(TWO_GPUS)})
    assert result.returncode == 0, result.stdout + result.stderr  # no device request: no fallback
    assert "WITHOUT a GPU" not in result.stdout + result.stderr
    (row,) = workers(p).values()
    assert row["planned_gpu"] == "none" and row["gpu_devices"] == []
    doctor = avops(p, "doctor", "--json", "--no-api")
    checks = {c["id"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["containers.count"]["status"] == "pass"


def test_pinned_replicas_fall_back_to_cpu_on_an_engine_without_the_nvidia_runtime(gpu_project):
    """--gpus auto (the default): the engine refuses each replica's device request (sent for real
    here), and each starts without it, with the warning naming it; --gpus on is exit 5."""
    p = gpu_project
    env = {**p.cli_env(), "AVOPS_NVML_SNAPSHOT": str(TWO_GPUS)}
    strict = p.avops("rebuild", "--gpus", "on", env=env)
    assert strict.returncode == ExitCode.OPERATION_FAILED, strict.stdout + strict.stderr
    assert "NVIDIA Container Toolkit" in strict.stderr
    result = p.avops("rebuild", env={**env, "COLUMNS": "200"})
    assert result.returncode == 0, result.stdout + result.stderr
    for number in (1, 2):
        assert f"{p.name}-worker-{number} (service 'worker') reserves a GPU" in result.stdout
    rows = workers(p)
    assert [(rows[n]["planned_gpu"], rows[n]["gpu"]) for n in (1, 2)] == [
        ("0", False),
        ("1", False),
    ]
