"""pid -> container mapping: cgroup parsing, and real containers on this machine's Docker Engine."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from audiovoice_ops.gpu.containers import (
    ContainerResolver,
    container_id_from_cgroup,
    container_id_of_pid,
)
from audiovoice_ops.gpu.types import GpuProcess, GpuSnapshot, load_snapshot
from tests.support.dockerenv import run_avops

CID = "3252e92543420f80025d53293f9a5ea8bff7cbb65725be24b08e33462d047497"


@pytest.mark.parametrize(
    "text",
    [
        f"12:pids:/docker/{CID}\n0::/docker/{CID}\n",  # cgroup v1, cgroupfs driver
        f"0::/system.slice/docker-{CID}.scope\n",  # cgroup v2, systemd driver
        f"0::/user.slice/user-1000.slice/user@1000.service/docker-{CID}.scope\n",  # rootless
        f"11:memory:/kubepods/burstable/pod1234/{CID}\n",  # kubelet
    ],
)
def test_container_id_from_cgroup_layouts(text):
    assert container_id_from_cgroup(text) == CID


@pytest.mark.parametrize(
    "text",
    [
        "0::/\n",
        "0::/user.slice/user-1000.slice/session-2.scope\n",
        "4:memory:/process_api/c35001aa46ac837821d4fd72ae1865a2\n",
        "",
    ],
)
def test_host_processes_have_no_container(text):
    assert container_id_from_cgroup(text) is None


def test_gone_pid_maps_to_nothing(tmp_path):
    assert container_id_of_pid(999_999_999) is None
    assert ContainerResolver(None, proc_root=str(tmp_path)).resolve(1) is None


@pytest.fixture
def running_container(docker_client, busybox_image):
    name = f"avt-gpu-{uuid.uuid4().hex[:8]}"
    container = docker_client.containers.run(
        busybox_image,
        ["sleep", "300"],
        name=name,
        detach=True,
        network_mode="none",
        labels={"com.docker.compose.project": "avtgpu", "com.docker.compose.service": "celery"},
    )
    try:
        container.reload()
        yield container
    finally:
        container.remove(force=True)


def test_real_container_pid_maps_to_its_name(docker_client, running_container):
    pid = running_container.attrs["State"]["Pid"]
    assert container_id_of_pid(pid) == running_container.id
    ref = ContainerResolver(docker_client).resolve(pid)
    assert (
        ref.name == running_container.name and ref.service == "celery" and ref.project == "avtgpu"
    )


def test_host_pid_maps_to_nothing(docker_client):
    assert ContainerResolver(docker_client).resolve(os.getpid()) is None


def test_docker_top_fallback_when_proc_cannot_tell(docker_client, running_container, tmp_path):
    """Another PID namespace or a remote engine: /proc has nothing, `docker top` still knows."""
    pid = running_container.attrs["State"]["Pid"]
    ref = ContainerResolver(docker_client, proc_root=str(tmp_path)).resolve(pid)
    assert ref is not None and ref.name == running_container.name


def test_annotate_fills_processes_and_caches(docker_client, running_container):
    pid = running_container.attrs["State"]["Pid"]
    snap = GpuSnapshot(available=True, gpus=[])
    from audiovoice_ops.gpu.types import GpuInfo

    snap.gpus.append(
        GpuInfo(
            0,
            "GPU",
            "GPU-x",
            "8.6",
            4096,
            3000,
            1096,
            processes=[GpuProcess(pid, 2456.0), GpuProcess(os.getpid(), 10.0)],
        )
    )
    resolver = ContainerResolver(docker_client)
    resolver.annotate(snap)
    inside, host = snap.gpus[0].processes
    assert inside.container == running_container.name and inside.service == "celery"
    assert inside.container_id == running_container.id[:12]
    assert host.container is None
    resolver.client = None  # a second reading must come from the cache, not the engine
    resolver.annotate(snap)
    assert snap.gpus[0].processes[0].container == running_container.name


def test_vram_json_names_the_container_of_a_gpu_process(
    running_container, snapshots, tmp_path, cli_env
):
    """End to end: a recorded NVML snapshot whose process is a real container's host pid."""
    data = json.loads((snapshots / "one_gpu_processes.json").read_text())
    data["gpus"][0]["processes"][0]["pid"] = running_container.attrs["State"]["Pid"]
    data["gpus"][0]["processes"][1]["pid"] = os.getpid()
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(data))
    result = run_avops("vram", "--json", env={**cli_env, "AVOPS_NVML_SNAPSHOT": str(path)})
    assert result.returncode == 0, result.stderr
    procs = json.loads(result.stdout)["gpu"]["gpus"][0]["processes"]
    assert procs[0]["container"] == running_container.name and procs[0]["service"] == "celery"
    assert procs[1]["container"] is None
    assert load_snapshot(path).gpus[0].processes[0].pid == procs[0]["pid"]
