"""Image variants: the one table (audiovoice_ops/data/cuda_tags.json) that the Dockerfile's ARG
defaults, the compose build args and the doctor's tag rules agree with; and the doctor's gpu.arch
check on the fixture stack."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from audiovoice_ops.core.doctor import classify_image, dockerfile_base_images, load_cuda_tags
from audiovoice_ops.core.stack import load_stack
from audiovoice_ops.gpu.variants import default_variant, load_variants
from tests.doctor.conftest import CUDA_CU124, SNAPSHOTS, install_cuda_check
from tests.doctor.test_doctor import doctor

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "Dockerfile"


@pytest.mark.parametrize("variant", load_variants(), ids=lambda v: v.name)
def test_every_variant_base_image_passes_the_tag_rules(variant):
    status, reason, fix = classify_image(variant.base_image, load_cuda_tags())
    assert (status, fix) == ("pass", None), reason


def test_variants_table_shape():
    variants = load_variants()
    assert [v.name for v in variants] == ["cu124", "cu128"]
    assert default_variant().name == "cu124"
    for variant in variants:
        assert variant.torch_index_url.endswith(f"/whl/{variant.name}")
        assert variant.base_image.startswith(f"nvidia/cuda:{variant.cuda}.")
        assert variant.arch_list and variant.image.startswith("audio-voice:latest")
    assert default_variant().image == "audio-voice:latest"  # compose's AVOPS_IMAGE default
    cu128 = next(v for v in variants if v.name == "cu128")
    assert cu128.runs_on((12, 0)) and not default_variant().runs_on((12, 0))
    assert int(cu128.torch_version.split(".")[1]) >= 7  # sm_120 wheels start with torch 2.7


def test_dockerfile_arg_defaults_are_the_default_variant():
    text = DOCKERFILE.read_text(encoding="utf-8")
    defaults = dict(re.findall(r"^ARG\s+(\w+)=(\S*)\s*$", text, re.MULTILINE))
    expected = default_variant().build_args()
    assert {name: defaults.get(name) for name in expected} == expected
    assert dockerfile_base_images(text) == [expected["BASE_IMAGE"]]


def test_dockerfile_builds_each_variant_by_its_build_args():
    text = DOCKERFILE.read_text(encoding="utf-8")
    for variant in load_variants():
        assert dockerfile_base_images(text, dict(variant.build_args())) == [variant.base_image]


def test_compose_build_args_default_to_the_default_variant(tmp_path):
    empty_env = tmp_path / ".env"
    empty_env.write_text("")
    stack = load_stack(REPO / "docker" / "compose.yml", empty_env, {})
    expected = default_variant().build_args()
    for service in ("api", "celery"):
        args = stack.service(service).build.args
        assert {name: args.get(name) for name in expected} == expected


def test_compose_build_args_select_the_cu128_variant(tmp_path):
    cu128 = next(v for v in load_variants() if v.name == "cu128")
    env = tmp_path / ".env"
    env.write_text(
        "".join(f"{k}={v}\n" for k, v in {**cu128.build_args(), "AVOPS_IMAGE": cu128.image}.items())
    )
    stack = load_stack(REPO / "docker" / "compose.yml", env, {})
    celery = stack.service("celery")
    assert {k: celery.build.args.get(k) for k in cu128.build_args()} == cu128.build_args()
    assert celery.image == "audio-voice:latest-cu128"


def test_replacements_pass_the_rules():
    data = load_cuda_tags()
    for rule in data["deprecated"]:
        assert classify_image(rule["replacement"], data)[0] == "pass", rule


# ---------------------------------------------------------------------------- doctor gpu.arch
def test_doctor_arch_skipped_without_a_running_worker(project, gpu_snapshot):
    _, _, checks = doctor(project, snapshot=gpu_snapshot)
    arch = checks["gpu.arch"]
    assert arch["status"] == "skipped" and arch["reason"].startswith("could not run: ")
    assert "no running container" in arch["reason"]


def test_doctor_arch_skipped_without_gpu(project):
    project.up()
    _, _, checks = doctor(project)
    assert checks["gpu.arch"]["status"] == "skipped" and "no GPU" in checks["gpu.arch"]["reason"]


def test_doctor_arch_blackwell_on_cu124_fails(project):
    project.up()
    install_cuda_check(project, CUDA_CU124)
    code, report, checks = doctor(project, snapshot=SNAPSHOTS / "blackwell_gpu.json")
    arch = checks["gpu.arch"]
    assert arch["group"] == "gpu" and arch["status"] == "fail" and code == 1 and not report["ok"]
    assert "RTX 5090 (sm_120)" in arch["reason"] and "no kernel image" in arch["reason"]
    assert (
        "cu128 image variant" in arch["fix"]
        and "AVOPS_IMAGE=audio-voice:latest-cu128" in arch["fix"]
    )


def test_doctor_arch_passes_and_table_shows_it(project, gpu_snapshot):
    project.up()
    install_cuda_check(project, CUDA_CU124)
    _, _, checks = doctor(project, snapshot=gpu_snapshot)
    assert checks["gpu.arch"]["status"] == "pass"
    assert "sm_86 runs the build's sm_86 (native code)" in checks["gpu.arch"]["reason"]
    env = {**project.cli_env(), "COLUMNS": "250", "AVOPS_NVML_SNAPSHOT": str(gpu_snapshot)}
    result = project.avops("doctor", env=env)
    assert "the worker's torch build runs the host's GPUs" in result.stdout
