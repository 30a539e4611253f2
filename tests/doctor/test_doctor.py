"""``avops doctor`` on the fixture stack on the real engine: healthy, then each failure case."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.gpu.apiserver import FakeApi, vram_stats

CHECK_IDS = ["containers.count", "containers.health", "containers.orphans", "images.dangling", "env.drift",
             "low_vram.agree", "f5tts.cuda", "docker.base_image", "docker.healthchecks",
             "docker.gpu_reservation", "api.health", "api.vram", "vram.baseline"]


def doctor(project, *args, api_url=None, snapshot=None, extra_env=None):
    env = {**project.cli_env(), "COLUMNS": "200", **(extra_env or {})}
    if api_url:
        env["AVOPS_API_URL"] = api_url
    if snapshot:
        env["AVOPS_NVML_SNAPSHOT"] = str(snapshot)
    result = project.avops("doctor", "--json", *args, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    return result.returncode, report, {c["id"]: c for c in report["checks"]}


def edit_compose(project, change) -> None:
    data = yaml.safe_load(project.compose_file.read_text())
    change(data)
    project.compose_file.write_text(yaml.safe_dump(data, sort_keys=False))


def test_healthy_stack_passes_every_check(project, healthy_api, gpu_snapshot):
    project.up()
    code, report, checks = doctor(project, api_url=healthy_api.url, snapshot=gpu_snapshot)
    assert list(checks) == CHECK_IDS
    assert {c["status"] for c in report["checks"]} == {"pass"}, [c for c in report["checks"] if c["status"] != "pass"]
    assert code == 0 and report["ok"] and report["summary"]["pass"] == len(CHECK_IDS)
    assert set(healthy_api.requests) == {"/health", "/admin/vram"}
    for check in report["checks"]:
        assert set(check) == {"id", "group", "title", "status", "reason", "fix"}


def test_healthy_table(project, healthy_api, gpu_snapshot):
    project.up()
    env = {**project.cli_env(), "COLUMNS": "220", "AVOPS_API_URL": healthy_api.url,
           "AVOPS_NVML_SNAPSHOT": str(gpu_snapshot)}
    result = project.avops("doctor", env=env)
    assert result.returncode == 0, result.stdout
    assert "avops doctor: project" in result.stdout and f"{len(CHECK_IDS)} pass" in result.stdout


def test_this_host_without_gpu_or_api_skips_with_reasons(project):
    project.up()
    code, _, checks = doctor(project)
    assert code == 0
    assert checks["f5tts.cuda"]["status"] == "skipped" and "no GPU" in checks["f5tts.cuda"]["reason"]
    for cid in ("api.health", "api.vram", "vram.baseline"):
        assert checks[cid]["status"] == "skipped" and "AVOPS_API_URL" in checks[cid]["reason"]
    assert checks["low_vram.agree"]["status"] == "pass"  # .env and container agree


def test_stack_not_running(project):
    code, _, checks = doctor(project)
    assert code == 1
    assert checks["containers.count"]["status"] == "fail" and checks["containers.count"]["fix"] == "avops rebuild"


def test_drifted_env(project, healthy_api, gpu_snapshot):
    project.up()
    project.env_file.write_text(project.env_file.read_text().replace("LOW_VRAM=true", "LOW_VRAM=false"))
    code, _, checks = doctor(project, api_url=healthy_api.url, snapshot=gpu_snapshot)
    assert code == 1
    assert checks["env.drift"]["status"] == "fail" and "LOW_VRAM" in checks["env.drift"]["reason"]
    assert checks["env.drift"]["fix"] == "avops restart celery"
    low = checks["low_vram.agree"]
    assert low["status"] == "fail" and ".env=false" in low["reason"] and "container=true" in low["reason"]


def test_duplicate_container(project, healthy_api, gpu_snapshot):
    project.up()
    project.start_service("celery", number=2)
    code, _, checks = doctor(project, api_url=healthy_api.url, snapshot=gpu_snapshot)
    assert code == 1
    assert checks["containers.count"]["status"] == "fail" and "celery has 2" in checks["containers.count"]["reason"]


def test_orphan_and_squatter(project):
    project.up()
    project.foreign_container(f"{project.name}-leftover")
    code, _, checks = doctor(project)
    assert code == 1 and checks["containers.orphans"]["status"] == "fail"
    assert f"{project.name}-leftover" in checks["containers.orphans"]["reason"]


@pytest.mark.parametrize("tag", ["12.1.0-cudnn8-runtime-ubuntu22.04", "11.8.0-cudnn8-runtime-ubuntu22.04"])
def test_deprecated_base_tag(project, tag):
    dockerfile = project.dir / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("12.4.1-cudnn9-runtime-ubuntu22.04", tag))
    code, _, checks = doctor(project)
    base = checks["docker.base_image"]
    assert code == 1 and base["status"] == "fail"
    assert tag in base["reason"] and "nvidia/cuda:12.4.1-cudnn9-runtime-ubuntu22.04" in base["fix"]


def test_build_arg_overrides_the_dockerfile_default(project):
    edit_compose(project, lambda d: d["services"]["celery"]["build"].update(
        args={"BASE_IMAGE": "nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04"}))
    _, _, checks = doctor(project)
    assert checks["docker.base_image"]["status"] == "fail"


def test_no_build_section_skips_the_base_image_check(project):
    edit_compose(project, lambda d: d["services"]["celery"].pop("build"))
    _, _, checks = doctor(project)
    assert checks["docker.base_image"]["status"] == "skipped"
    assert "no service has a build" in checks["docker.base_image"]["reason"]


def test_missing_healthcheck(project, healthy_api, gpu_snapshot):
    edit_compose(project, lambda d: d["services"]["celery"].pop("healthcheck"))
    project.up()
    code, _, checks = doctor(project, api_url=healthy_api.url, snapshot=gpu_snapshot)
    assert code == 1
    assert checks["docker.healthchecks"]["status"] == "fail" and "celery" in checks["docker.healthchecks"]["reason"]
    assert checks["containers.health"]["status"] == "warn"


def test_missing_gpu_reservation(project):
    edit_compose(project, lambda d: d["services"]["celery"].pop("deploy"))
    code, _, checks = doctor(project)
    assert code == 1 and checks["docker.gpu_reservation"]["status"] == "fail"
    assert "capabilities: [gpu]" in checks["docker.gpu_reservation"]["fix"]


@pytest.mark.parametrize("stats, age, expect", [
    (vram_stats(low_vram=True, models=[dict(key="f5tts", device="cuda", size_mb=2300.0, parked=False, in_use=0,
                                            last_used_s_ago=5.0)], allocated_mb=2300.0),
     0.5, {"vram.baseline": "fail"}),
    (vram_stats(low_vram=True, allocated_mb=900.0), 0.5, {"vram.baseline": "warn"}),
    (vram_stats(low_vram=True), 300.0, {"api.vram": "warn"}),
    (vram_stats(low_vram=True, device="cpu"), 0.5, {"f5tts.cuda": "fail"}),
    (vram_stats(low_vram=False), 0.5, {"low_vram.agree": "fail", "vram.baseline": "skipped"}),
])
def test_worker_reports(project, gpu_snapshot, stats, age, expect):
    project.up()
    with FakeApi(stats, age_seconds=age) as api:
        _, _, checks = doctor(project, api_url=api.url, snapshot=gpu_snapshot)
    for cid, status in expect.items():
        assert checks[cid]["status"] == status, checks[cid]


def test_api_set_but_down(project, gpu_snapshot):
    project.up()
    code, _, checks = doctor(project, api_url="http://127.0.0.1:9", snapshot=gpu_snapshot)
    assert code == 1
    assert checks["api.health"]["status"] == "fail" and "cannot reach" in checks["api.health"]["reason"]
    assert checks["api.vram"]["status"] == "fail"
    assert checks["f5tts.cuda"]["status"] == "skipped"


def test_docker_unreachable_fails_container_checks(project, tmp_path):
    code, _, checks = doctor(project, extra_env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert code == 1
    for cid in ("containers.count", "containers.health", "containers.orphans", "env.drift"):
        assert checks[cid]["status"] == "fail" and "unreachable" in checks[cid]["reason"]
    assert checks["docker.base_image"]["status"] == "pass"  # file checks still run


def test_missing_compose_file_is_one_line(project, tmp_path):
    env = {**project.cli_env(), "AVOPS_COMPOSE_FILE": str(tmp_path / "nope.yml")}
    result = project.avops("doctor", "--json", env=env)
    assert result.returncode == 3 and "compose file not found" in result.stderr
    assert "Traceback" not in result.stderr and json.loads(result.stdout)["exit_code"] == 3
