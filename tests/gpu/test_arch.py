"""The arch layer of ``avops check-gpu``: host GPUs (recorded NVML snapshots) against the worker's
``torch.cuda.get_arch_list()`` (its ``engines.cuda_check`` report), with the image variant that
fixes a mismatch."""

from __future__ import annotations

import pytest

from audiovoice_ops.gpu.arch import assess
from audiovoice_ops.gpu.types import GpuSnapshot, load_snapshot
from audiovoice_ops.gpu.variants import default_variant, load_variants
from tests.gpu.test_check_gpu import CUDA_OK, check, fake_cuda_check

CU124 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
CU128 = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"]


def report(arch_list, torch_version="2.6.0+cu124") -> dict:
    return {**CUDA_OK, "torch_version": torch_version, "arch_list": arch_list}


def one_gpu(name: str, cc: str) -> GpuSnapshot:
    return GpuSnapshot.from_dict(
        {
            "gpus": [
                {
                    "index": 0,
                    "name": name,
                    "compute_cap": cc,
                    "memory.total": 4096.0,
                    "memory.used": 0.0,
                }
            ]
        }
    )


@pytest.mark.parametrize(
    "snapshot, arch_list, status",
    [
        ("pascal_gpu", CU124, "pass"),  # GTX 1050 Ti (sm_61) on the default image
        ("one_gpu_processes", CU124, "pass"),  # RTX 3050 (sm_86)
        ("blackwell_gpu", CU124, "fail"),  # RTX 5090 (sm_120) on a CUDA 12.4 build
        ("blackwell_gpu", CU128, "pass"),
        ("pascal_gpu", CU128, "fail"),  # the Blackwell image dropped Pascal
        ("multi_gpu", CU124, "pass"),  # A100, T4, P4
        ("multi_gpu", CU128, "fail"),  # the P4 (sm_61)
    ],
)
def test_rule_against_recorded_gpus(snapshots, snapshot, arch_list, status):
    finding = assess(load_snapshot(snapshots / f"{snapshot}.json"), report(arch_list), "")
    assert finding.status == status, finding.message
    assert finding.details["arch_list"] == arch_list


def test_blackwell_on_cu124_names_the_cu128_variant(snapshots):
    finding = assess(load_snapshot(snapshots / "blackwell_gpu.json"), report(CU124), "")
    assert "RTX 5090 (sm_120)" in finding.message and "no kernel image" in finding.message
    assert "torch 2.6.0+cu124 (built for sm_50" in finding.message
    cu128 = next(v for v in load_variants() if v.name == "cu128")
    assert finding.fix is not None and "cu128 image variant" in finding.fix
    assert f"BASE_IMAGE={cu128.base_image}" in finding.fix
    assert f"TORCH_INDEX_URL={cu128.torch_index_url}" in finding.fix
    assert "AVOPS_IMAGE=audio-voice:latest-cu128" in finding.fix and "avops rebuild" in finding.fix


def test_pascal_on_cu128_names_the_default_variant(snapshots):
    finding = assess(load_snapshot(snapshots / "pascal_gpu.json"), report(CU128), "")
    assert finding.fix is not None
    assert f"{default_variant().name} image variant" in finding.fix
    assert f"BASE_IMAGE={default_variant().base_image}" in finding.fix


@pytest.mark.parametrize("name, cc", [("Tesla K80", "3.7"), ("GeForce GTX 750 Ti", "5.0")])
def test_gpu_no_variant_supports_says_what_to_do(name, cc):
    arch_list = ["sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]  # a build without it
    finding = assess(one_gpu(name, cc), report(arch_list), "")
    assert finding.status == "fail" and name in finding.message
    if cc == "5.0":  # the default variant still carries Maxwell
        assert finding.fix is not None and "cu124 image variant" in finding.fix
    else:
        assert (
            finding.fix is not None
            and "no avops image variant has kernels for sm_37" in finding.fix
        )
        assert "F5TTS_DEVICE=cpu" in finding.fix


def test_cannot_tell_and_could_not_run(snapshots):
    gpu = load_snapshot(snapshots / "one_gpu_processes.json")
    cpu_torch = assess(gpu, report([], "2.6.0+cpu"), "")
    assert cpu_torch.status == "skipped" and "cannot tell" in cpu_torch.message
    old_image = assess(gpu, {k: v for k, v in CUDA_OK.items()}, "")
    assert old_image.status == "skipped" and "no arch_list" in old_image.message
    assert "rebuild" in (old_image.fix or "")
    missing = assess(gpu, None, "service 'worker' has no running container")
    assert missing.status == "skipped"
    assert missing.message == "could not run: service 'worker' has no running container"


def test_worker_device_is_used_without_nvml():
    no_nvml = GpuSnapshot(available=False, error="NVML Shared Library Not Found")
    finding = assess(no_nvml, {**report(CU124), "compute_capability": "12.0"}, "")
    assert finding.status == "fail" and "sm_120" in finding.message


# ---------------------------------------------------------------------------- the command
def test_check_gpu_arch_layer_skipped_without_worker(project, snapshots):
    result, data = check(project, "--no-engine-probe", snapshot=snapshots / "blackwell_gpu.json")
    assert data["arch"]["status"] == "skipped"
    assert data["arch"]["message"].startswith("could not run: no report from the worker")
    assert result.returncode == 0  # the arch check not running is not a failure


def _worker(project, docker_client) -> str:
    project.up()
    return docker_client.api.containers(
        filters={"label": f"com.docker.compose.project={project.name}", "name": "worker"}
    )[0]["Id"]


def test_check_gpu_blackwell_on_cu124_fails_with_12(project, snapshots, docker_client):
    fake_cuda_check(docker_client, _worker(project, docker_client), report(CU124))
    result, data = check(project, "--no-engine-probe", snapshot=snapshots / "blackwell_gpu.json")
    assert result.returncode == 12 and data["exit_code"] == 12 and not data["ok"]
    assert data["container"]["status"] == "pass"  # torch sees CUDA: only its kernels are missing
    arch = data["arch"]
    assert arch["status"] == "fail" and "sm_120" in arch["message"]
    assert "cu128 image variant" in arch["fix"] and arch["arch_list"] == CU124
    assert arch["gpus"] == [
        {
            "gpu": "GPU 0 NVIDIA GeForce RTX 5090",
            "arch": "sm_120",
            "status": "incompatible",
            "via": None,
        }
    ]


def test_check_gpu_table_shows_the_arch_row(project, snapshots, docker_client):
    worker = _worker(project, docker_client)
    fake_cuda_check(docker_client, worker, report(CU128, "2.7.1+cu128"))
    env = {
        **project.cli_env(),
        "COLUMNS": "250",
        "AVOPS_API_URL": "http://127.0.0.1:9",
        "AVOPS_NVML_SNAPSHOT": str(snapshots / "blackwell_gpu.json"),
    }
    result = project.avops("check-gpu", "--no-engine-probe", env=env)
    assert result.returncode == 0, result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("│ arch"))
    assert "pass" in row and "torch 2.7.1+cu128" in result.stdout
    assert "native" in row and "sm_120 runs the build's sm_120" in result.stdout

    fake_cuda_check(docker_client, worker, report(CU124))
    result = project.avops("check-gpu", "--no-engine-probe", env=env)
    assert result.returncode == 12
    assert "✗ arch:" in result.stdout and "(exit 12)" in result.stdout


@pytest.mark.parametrize(
    "name, cc, fp16",
    [
        ("NVIDIA GeForce GTX 1050 Ti", "6.1", False),
        ("NVIDIA GeForce GTX 1660 SUPER", "7.5", False),
        ("NVIDIA GeForce RTX 2060", "7.5", True),
        ("NVIDIA GeForce RTX 5090", "12.0", True),
    ],
)
def test_check_gpu_fp16_advice_uses_the_engines_rule(name, cc, fp16):
    from audiovoice_ops.gpu.check import recommend
    from engines.precision import fp16_supported

    layer = recommend(one_gpu(name, cc), "true")
    assert layer.details["fp16_recommended"] is fp16
    major, minor = cc.split(".")
    assert fp16_supported((int(major), int(minor)), name)[1] in layer.message
