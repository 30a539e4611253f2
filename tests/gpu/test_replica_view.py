"""Which worker holds which GPU: `avops vram` (a worker column from the replicas' labels) and
`avops check-gpu` (each running worker with its GPU), for one worker per GPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from audiovoice_ops.commands.vram import pinned_workers, render_frame
from audiovoice_ops.core import labels as L
from audiovoice_ops.core.containers import ContainerView
from audiovoice_ops.gpu.check import worker_gpu
from tests.support.dockerenv import BUSYBOX_IMAGE

TWO_GPUS = Path(__file__).parent / "snapshots" / "two_gpus.json"


def render_text(frame: dict) -> str:
    console = Console(record=True, width=160, color_system=None, force_terminal=False)
    console.print(render_frame(frame))
    return console.export_text()


def test_vram_names_the_worker_of_each_gpu():
    gpu = json.loads(TWO_GPUS.read_text())
    frame = {"timestamp": 0.0, "gpu": gpu, "workers": {"0": ["p-celery-1"], "1": ["p-celery-2"]}}
    lines = render_text({**frame, "api": None}).splitlines()
    header = next(line for line in lines if "worker" in line)
    assert header.rstrip("┃ ").endswith("worker")
    row0 = next(line for line in lines if "GTX 1050 Ti" in line)
    row1 = next(line for line in lines if "RTX 3060" in line)
    assert "p-celery-1" in row0 and "p-celery-2" in row1
    plain = render_text({**frame, "workers": {}, "api": None})
    assert "worker" not in plain  # no pinned workers: the table as before


def view(device_requests: list[dict] | None, labels: dict[str, str]) -> ContainerView:
    return ContainerView.from_attrs(
        {
            "Id": "c" * 64,
            "Name": "/p-celery-2",
            "Config": {"Labels": {L.CONTAINER_NUMBER: "2", **labels}},
            "HostConfig": {"DeviceRequests": device_requests},
            "State": {"Status": "running"},
        }
    )


def test_check_gpu_lists_each_worker_and_its_gpu():
    pinned = view([{"Driver": "nvidia", "Count": 0, "DeviceIDs": ["1"]}], {L.REPLICA_GPU: "1"})
    assert worker_gpu(pinned) == {"container": "p-celery-2", "replica": 2, "gpu": "GPU 1"}
    whole = view([{"Driver": "nvidia", "Count": -1, "DeviceIDs": None}], {})
    assert worker_gpu(whole)["gpu"] == "all"
    stripped = view(None, {L.REPLICA_GPU: "1"})  # --gpus off, or no NVIDIA runtime
    assert worker_gpu(stripped)["gpu"] == "no GPU (GPU 1 planned)"
    assert worker_gpu(view(None, {L.REPLICA_GPU: "none"}))["gpu"] == "no GPU"


@pytest.mark.docker
def test_pinned_workers_from_the_engine(docker_client, busybox_image, project_name):
    made = []
    try:
        for number, gpu in ((1, "0"), (2, "1"), (3, "none")):
            container = docker_client.containers.run(
                BUSYBOX_IMAGE,
                ["sleep", "60"],
                name=f"{project_name}-celery-{number}",
                labels={L.PROJECT: project_name, L.REPLICA_GPU: gpu},
                detach=True,
                network_mode="none",
            )
            made.append(container)
        found = pinned_workers(docker_client)
        assert found["0"] == [f"{project_name}-celery-1"]
        assert found["1"] == [f"{project_name}-celery-2"]
        assert "none" not in found  # a CPU worker holds no GPU
    finally:
        for container in made:
            container.remove(force=True)
    assert pinned_workers(None) == {}
