"""``avops doctor`` on the fixture stack on the real engine: healthy, then each failure case."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.doctor.conftest import ADMIN_KEY, CUDA_CU124, install_cuda_check
from tests.gpu.apiserver import FakeApi, vram_stats


def _keep_alive_stats(keep_alive_s=30.0, expires_in_s=None, in_use=0):
    """Stats of a worker with f5tts idle on the GPU (MODEL_KEEP_ALIVE=30, LOW_VRAM off)."""
    model = dict(
        key="f5tts",
        device="cuda",
        size_mb=2300.0,
        parked=False,
        in_use=in_use,
        last_used_s_ago=5.0,
        state="gpu",
        keep_alive_s=keep_alive_s,
        expires_in_s=expires_in_s,
    )
    return {**vram_stats(low_vram=False, models=[model], allocated_mb=2300.0), "keep_alive_s": 30.0}


CHECK_IDS = [
    "containers.count",
    "containers.health",
    "containers.orphans",
    "workers.hosts",
    "images.dangling",
    "env.drift",
    "low_vram.agree",
    "f5tts.cuda",
    "gpu.arch",
    "docker.base_image",
    "docker.healthchecks",
    "docker.gpu_reservation",
    "api.health",
    "api.vram",
    "vram.baseline",
    "vram.keep_alive",
    "security.auth",
    "security.env_file",
    "security.bind",
    "security.redis",
    "security.root",
    "voices.owner",
]


def doctor(project, *args, api_url=None, snapshot=None, extra_env=None, api_key=ADMIN_KEY):
    env = {**project.cli_env(), "COLUMNS": "200", **(extra_env or {})}
    if api_url:
        env["AVOPS_API_URL"] = api_url
        if api_key:
            env["AVOPS_API_KEY"] = api_key
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
    install_cuda_check(project, CUDA_CU124)
    code, report, checks = doctor(project, api_url=healthy_api.url, snapshot=gpu_snapshot)
    assert list(checks) == CHECK_IDS
    # no `avops worker add` hosts in this stack: that check has nothing to look at
    assert checks["workers.hosts"]["status"] == "skipped"
    others = [c for c in report["checks"] if c["id"] != "workers.hosts"]
    assert {c["status"] for c in others} == {"pass"}, [c for c in others if c["status"] != "pass"]
    assert code == 0 and report["ok"] and report["summary"]["pass"] == len(CHECK_IDS) - 1
    assert set(healthy_api.requests) == {"/health", "/admin/vram", "/voices", "/admin/models"}
    for check in report["checks"]:
        assert set(check) == {"id", "group", "title", "status", "reason", "fix"}


def test_healthy_table(project, healthy_api, gpu_snapshot):
    project.up()
    install_cuda_check(project, CUDA_CU124)
    env = {
        **project.cli_env(),
        "COLUMNS": "220",
        "AVOPS_API_URL": healthy_api.url,
        "AVOPS_NVML_SNAPSHOT": str(gpu_snapshot),
        "AVOPS_API_KEY": ADMIN_KEY,
    }
    result = project.avops("doctor", env=env)
    assert result.returncode == 0, result.stdout
    # every check passes but workers.hosts, skipped: this stack has no `avops worker add` hosts
    summary = f"{len(CHECK_IDS) - 1} pass, 1 skipped"
    assert "avops doctor: project" in result.stdout and summary in result.stdout


def test_this_host_without_gpu_or_api_skips_with_reasons(project):
    project.up()
    code, _, checks = doctor(project)
    assert code == 0
    assert (
        checks["f5tts.cuda"]["status"] == "skipped" and "no GPU" in checks["f5tts.cuda"]["reason"]
    )
    for cid in ("api.health", "api.vram", "vram.baseline"):
        assert checks[cid]["status"] == "skipped" and "AVOPS_API_URL" in checks[cid]["reason"]
    assert checks["low_vram.agree"]["status"] == "pass"  # .env and container agree


def test_stack_not_running(project):
    code, _, checks = doctor(project)
    assert code == 1
    assert (
        checks["containers.count"]["status"] == "fail"
        and checks["containers.count"]["fix"] == "avops rebuild"
    )


def test_drifted_env(project, healthy_api, gpu_snapshot):
    project.up()
    project.env_file.write_text(
        project.env_file.read_text().replace("LOW_VRAM=true", "LOW_VRAM=false")
    )
    code, _, checks = doctor(project, api_url=healthy_api.url, snapshot=gpu_snapshot)
    assert code == 1
    assert checks["env.drift"]["status"] == "fail" and "LOW_VRAM" in checks["env.drift"]["reason"]
    assert checks["env.drift"]["fix"] == "avops restart celery"
    low = checks["low_vram.agree"]
    assert (
        low["status"] == "fail"
        and ".env=false" in low["reason"]
        and "container=true" in low["reason"]
    )


def test_duplicate_container(project, healthy_api, gpu_snapshot):
    project.up()
    project.start_service("celery", number=2)
    code, _, checks = doctor(project, api_url=healthy_api.url, snapshot=gpu_snapshot)
    assert code == 1
    assert (
        checks["containers.count"]["status"] == "fail"
        and "celery has 2" in checks["containers.count"]["reason"]
    )


def test_orphan_and_squatter(project):
    project.up()
    project.foreign_container(f"{project.name}-leftover")
    code, _, checks = doctor(project)
    assert code == 1 and checks["containers.orphans"]["status"] == "fail"
    assert f"{project.name}-leftover" in checks["containers.orphans"]["reason"]


@pytest.mark.parametrize(
    "tag", ["12.1.0-cudnn8-runtime-ubuntu22.04", "11.8.0-cudnn8-runtime-ubuntu22.04"]
)
def test_deprecated_base_tag(project, tag):
    dockerfile = project.dir / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("12.4.1-cudnn9-runtime-ubuntu22.04", tag))
    code, _, checks = doctor(project)
    base = checks["docker.base_image"]
    assert code == 1 and base["status"] == "fail"
    assert tag in base["reason"] and "nvidia/cuda:12.4.1-cudnn9-runtime-ubuntu22.04" in base["fix"]


def test_build_arg_overrides_the_dockerfile_default(project):
    edit_compose(
        project,
        lambda d: d["services"]["celery"]["build"].update(
            args={"BASE_IMAGE": "nvidia/cuda:12.1.0-cudnn8-runtime-ubuntu22.04"}
        ),
    )
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
    assert (
        checks["docker.healthchecks"]["status"] == "fail"
        and "celery" in checks["docker.healthchecks"]["reason"]
    )
    assert checks["containers.health"]["status"] == "warn"


def test_missing_gpu_reservation(project):
    edit_compose(project, lambda d: d["services"]["celery"].pop("deploy"))
    code, _, checks = doctor(project)
    assert code == 1 and checks["docker.gpu_reservation"]["status"] == "fail"
    assert "capabilities: [gpu]" in checks["docker.gpu_reservation"]["fix"]


@pytest.mark.parametrize(
    "stats, age, expect",
    [
        (
            vram_stats(
                low_vram=True,
                models=[
                    dict(
                        key="f5tts",
                        device="cuda",
                        size_mb=2300.0,
                        parked=False,
                        in_use=0,
                        last_used_s_ago=5.0,
                    )
                ],
                allocated_mb=2300.0,
            ),
            0.5,
            {"vram.baseline": "fail"},
        ),
        (vram_stats(low_vram=True, allocated_mb=900.0), 0.5, {"vram.baseline": "warn"}),
        (vram_stats(low_vram=True), 300.0, {"api.vram": "warn"}),
        (vram_stats(low_vram=True, device="cpu"), 0.5, {"f5tts.cuda": "fail"}),
        (vram_stats(low_vram=False), 0.5, {"low_vram.agree": "fail", "vram.baseline": "skipped"}),
        (_keep_alive_stats(expires_in_s=-60.0), 0.5, {"vram.keep_alive": "fail"}),
        (_keep_alive_stats(expires_in_s=20.0), 0.5, {"vram.keep_alive": "pass"}),
        (_keep_alive_stats(keep_alive_s=0.0), 0.5, {"vram.keep_alive": "fail"}),
        (_keep_alive_stats(expires_in_s=-60.0, in_use=1), 0.5, {"vram.keep_alive": "pass"}),
    ],
)
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
    assert (
        checks["api.health"]["status"] == "fail"
        and "cannot reach" in checks["api.health"]["reason"]
    )
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


# ---------------------------------------------------------------------------- security checks
def test_api_open_without_a_key_fails(project, gpu_snapshot):
    project.up()
    with FakeApi(vram_stats(low_vram=True)) as api:  # answers /admin/vram to anyone
        code, _, checks = doctor(project, api_url=api.url, snapshot=gpu_snapshot)
    auth = checks["security.auth"]
    assert code == 1 and auth["status"] == "fail" and "without a key" in auth["reason"]
    assert "API_KEYS" in auth["fix"]


def test_admin_key_comes_from_env_file(project, gpu_snapshot):
    """No AVOPS_API_KEY: avops sends the first ADMIN_API_KEYS entry of .env as Bearer."""
    project.env_file.write_text(
        project.env_file.read_text()
        + f"API_KEYS=client-key-0123456789abcdef\nADMIN_API_KEYS={ADMIN_KEY},second-admin-key-000000\n"
    )
    project.env_file.chmod(0o600)
    project.up()
    with FakeApi(vram_stats(low_vram=True), api_key=ADMIN_KEY) as api:
        code, _, checks = doctor(project, api_url=api.url, snapshot=gpu_snapshot, api_key=None)
        assert f"Bearer {ADMIN_KEY}" in api.authorization
        assert None in api.authorization  # the probe without a key
    assert checks["api.vram"]["status"] == "pass", checks["api.vram"]
    assert (
        checks["security.auth"]["status"] == "pass" and "401" in checks["security.auth"]["reason"]
    )
    env_check = checks["security.env_file"]
    assert env_check["status"] == "pass" and "600" in env_check["reason"]
    assert code == 0
    # AVOPS_API_KEY wins over .env
    with FakeApi(vram_stats(low_vram=True), api_key="override-key-0123456789") as api:
        _, _, checks = doctor(
            project, api_url=api.url, snapshot=gpu_snapshot, api_key="override-key-0123456789"
        )
    assert checks["api.vram"]["status"] == "pass"


def test_wrong_key_fails_the_vram_check(project, gpu_snapshot):
    project.up()
    with FakeApi(vram_stats(low_vram=True), api_key=ADMIN_KEY) as api:
        code, _, checks = doctor(
            project, api_url=api.url, snapshot=gpu_snapshot, api_key="not-the-key-0123456789"
        )
    assert (
        code == 1
        and checks["api.vram"]["status"] == "fail"
        and "401" in checks["api.vram"]["reason"]
    )


@pytest.mark.parametrize(
    "keys, mode, expect",
    [
        ("ADMIN_API_KEYS=k-0123456789abcdef\n", 0o644, "warn"),
        ("API_KEYS=k-0123456789abcdef\n", 0o604, "warn"),
        ("ADMIN_API_KEYS=k-0123456789abcdef\n", 0o640, "pass"),
        ("API_KEYS=\nADMIN_API_KEYS=\n", 0o644, "pass"),  # world-readable but no keys in it
    ],
)
def test_env_file_mode(project, keys, mode, expect):
    project.env_file.write_text(project.env_file.read_text() + keys)
    project.env_file.chmod(mode)
    _, _, checks = doctor(project)
    check = checks["security.env_file"]
    assert check["status"] == expect, check
    if expect == "warn":
        assert (
            "world-readable" in check["reason"] and check["fix"] == f"chmod 600 {project.env_file}"
        )
        assert "k-0123456789abcdef" not in json.dumps(check)  # names the variable, never the value


@pytest.mark.parametrize(
    "bind, expect",
    [
        (None, "pass"),
        ("127.0.0.1", "pass"),
        ("::1", "pass"),
        ("0.0.0.0", "warn"),
        ("192.168.1.20", "warn"),
        ("", "warn"),
    ],
)
def test_public_bind(project, bind, expect):
    """The host_ip after interpolation of ${API_BIND_ADDRESS:-127.0.0.1} from .env."""
    edit_compose(
        project,
        lambda d: d["services"]["redis"].update(
            ports=["${API_BIND_ADDRESS:-127.0.0.1}:18005:8005"] if bind != "" else ["18005:8005"]
        ),
    )
    if bind:
        project.env_file.write_text(project.env_file.read_text() + f"API_BIND_ADDRESS={bind}\n")
    _, _, checks = doctor(project)
    check = checks["security.bind"]
    assert check["status"] == expect, check
    if expect == "warn":
        assert (
            "public interface" in check["reason"] and "API_BIND_ADDRESS=127.0.0.1" in check["fix"]
        )


def test_root_container_warns(project):
    edit_compose(project, lambda d: d["services"]["celery"].pop("user"))
    project.up()
    code, _, checks = doctor(project)
    root = checks["security.root"]
    assert root["status"] == "warn" and f"{project.name}-celery" in root["reason"]
    assert f"{project.name}-redis" not in root["reason"]
    assert code == 0  # a warning does not fail the doctor


@pytest.mark.parametrize(
    "stats, age, check_id, fix",
    [
        (vram_stats(low_vram=True), 300.0, "api.vram", "avops logs tts"),
        (
            vram_stats(
                low_vram=True,
                models=[
                    dict(
                        key="f5tts",
                        device="cuda",
                        size_mb=2300.0,
                        parked=False,
                        in_use=0,
                        last_used_s_ago=5.0,
                    )
                ],
                allocated_mb=2300.0,
            ),
            0.5,
            "vram.baseline",
            "avops logs tts",
        ),
        (vram_stats(low_vram=True, allocated_mb=900.0), 0.5, "vram.baseline", "avops restart tts"),
    ],
)
def test_fix_texts_name_the_worker_service(project, gpu_snapshot, stats, age, check_id, fix):
    """The worker is found by its GPU reservation when it is not called celery: fixes name it."""
    edit_compose(project, lambda d: d["services"].update(tts=d["services"].pop("celery")))
    with FakeApi(stats, age_seconds=age) as api:
        _, _, checks = doctor(project, api_url=api.url, snapshot=gpu_snapshot)
    assert fix in checks[check_id]["fix"] and "celery" not in checks[check_id]["fix"], checks[
        check_id
    ]
