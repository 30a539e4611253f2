"""``avops check-gpu`` against the real Docker Engine here (no NVIDIA runtime) and the fixture stack;
host GPUs come from recorded NVML snapshots, the in-container report from a stand-in ``python``."""

from __future__ import annotations

import json

import pytest

from audiovoice_ops.gpu.check import PROBE_LABEL

CUDA_OK = {
    "available": True,
    "torch_version": "2.4.1+cu124",
    "cuda_version": "12.4",
    "cudnn_version": 90100,
    "device_count": 1,
    "device_name": "NVIDIA GeForce RTX 3050 Laptop GPU",
    "compute_capability": "8.6",
    "total_vram_mb": 4096.0,
    "free_vram_mb": 3900.0,
    "recommend_low_vram": True,
    "fp16_recommended": True,
    "notes": [],
}
CUDA_NO = {
    "available": False,
    "torch_version": "2.4.1+cu124",
    "notes": ["CUDA not available: models will run on CPU"],
}


def no_probe_left(docker_client) -> bool:
    return not docker_client.api.containers(all=True, filters={"label": PROBE_LABEL})


def check(project, *args, snapshot=None, extra_env=None):
    env = {
        **project.cli_env(),
        "AVOPS_API_URL": "http://127.0.0.1:9",
        "COLUMNS": "160",
        **(extra_env or {}),
    }
    if snapshot is not None:
        env["AVOPS_NVML_SNAPSHOT"] = str(snapshot)
    result = project.avops("check-gpu", "--json", *args, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result, json.loads(result.stdout)


def fake_cuda_check(docker_client, container_id, report: dict) -> None:
    """Put a `python` in the busybox worker that answers like `python -m engines.cuda_check --json`."""
    script = "#!/bin/sh\ncat <<'JSON'\n" + json.dumps(report) + "\nJSON\n"
    exec_id = docker_client.api.exec_create(
        container_id, ["sh", "-c", f"cat > /bin/python <<'EOF'\n{script}EOF\nchmod +x /bin/python"]
    )
    docker_client.api.exec_start(exec_id)


def test_no_driver_and_engine_without_nvidia_runtime(project, docker_client):
    """This machine as it is: exit 10, and the engine layer names the missing toolkit."""
    result, report = check(project)
    assert result.returncode == 10 and report["exit_code"] == 10
    assert report["host"]["status"] == "fail" and "no NVIDIA driver" in report["host"]["message"]
    assert report["engine"]["status"] == "fail"
    assert "engine cannot pass GPUs" in report["engine"]["message"]
    assert 'could not select device driver "nvidia"' in report["engine"]["error"]
    assert "NVIDIA Container Toolkit" in report["engine"]["fix"]
    assert report["recommendation"]["status"] == "skipped"
    assert report["container"]["status"] == "skipped"  # the fixture stack is not running
    assert no_probe_left(docker_client)


def test_table_output(project, docker_client):
    result = project.avops("check-gpu", env={**project.cli_env(), "COLUMNS": "200"})
    assert result.returncode == 10
    assert (
        "engine cannot pass GPUs" in result.stdout and "NVIDIA Container Toolkit" in result.stdout
    )
    assert no_probe_left(docker_client)


def test_gpu_host_but_engine_cannot_pass_it(project, snapshots, docker_client):
    result, report = check(project, snapshot=snapshots / "one_gpu_processes.json")
    assert result.returncode == 11
    assert report["host"]["status"] == "pass" and "RTX 3050" in report["host"]["message"]
    # 4 GB GPU and the fixture's .env says LOW_VRAM=true: they agree
    assert report["recommendation"]["status"] == "pass"
    assert report["recommendation"]["low_vram_recommended"] is True
    assert report["recommendation"]["fp16_recommended"] is True
    assert no_probe_left(docker_client)


@pytest.mark.parametrize(
    "snapshot, env_value, status",
    [
        ("big_gpu", "true", "warn"),
        ("big_gpu", "false", "pass"),
        ("one_gpu_processes", "false", "warn"),
    ],
)
def test_low_vram_recommendation_against_env(project, snapshots, snapshot, env_value, status):
    text = project.env_file.read_text().replace("LOW_VRAM=true", f"LOW_VRAM={env_value}")
    project.env_file.write_text(text)
    _, report = check(project, "--no-engine-probe", snapshot=snapshots / f"{snapshot}.json")
    assert report["recommendation"]["status"] == status
    assert report["recommendation"]["env_low_vram"] == env_value


def test_multi_gpu_fp16_from_first_gpu(project, snapshots):
    _, report = check(project, "--no-engine-probe", snapshot=snapshots / "multi_gpu.json")
    assert (
        report["recommendation"]["fp16_recommended"] is True
        and report["recommendation"]["gpu"] == 0
    )
    assert len(report["host"]["nvml"]["gpus"]) == 3


def test_container_without_cuda_check(project, snapshots):
    """The busybox worker has no python: the in-container layer fails, exit 12."""
    project.up()
    result, report = check(
        project, "--no-engine-probe", snapshot=snapshots / "one_gpu_processes.json"
    )
    assert result.returncode == 12
    assert report["container"]["status"] == "fail" and report["container"]["service"] == "worker"
    assert "engines.cuda_check" in report["container"]["message"]


def test_container_sees_the_gpu(project, snapshots, docker_client):
    project.up()
    worker = docker_client.api.containers(
        filters={"label": f"com.docker.compose.project={project.name}", "name": "worker"}
    )[0]
    fake_cuda_check(docker_client, worker["Id"], CUDA_OK)
    result, report = check(
        project, "--no-engine-probe", snapshot=snapshots / "one_gpu_processes.json"
    )
    assert result.returncode == 0, report
    assert report["ok"] and report["container"]["status"] == "pass"
    assert report["container"]["cuda_check"]["device_name"] == CUDA_OK["device_name"]

    fake_cuda_check(docker_client, worker["Id"], CUDA_NO)
    result, report = check(
        project,
        "--no-engine-probe",
        "--service",
        "worker",
        snapshot=snapshots / "one_gpu_processes.json",
    )
    assert result.returncode == 12
    assert "torch cannot use CUDA" in report["container"]["message"]
    assert "no GPU device request" in report["container"]["message"]
    assert "AVOPS_GPUS=on" in report["container"]["fix"]


def test_unknown_service_is_one_line(project):
    result = project.avops("check-gpu", "--service", "nosuch")
    assert result.returncode == 3 and "no service 'nosuch'" in result.stderr
    assert "Traceback" not in result.stderr
