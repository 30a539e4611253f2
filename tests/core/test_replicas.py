"""One worker per GPU: the plan from WORKER_GPUS and NVML (recorded snapshots), and what avops would
send to the engine for each replica (the create arguments, up to the engine call: this host has
no NVIDIA runtime, so the device requests are inspected, not run; tests/lifecycle/test_replicas.py
runs the replicas with them stripped)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import docker
import pytest

from audiovoice_ops.core.convergence import create_arguments
from audiovoice_ops.core.errors import ComposeFileError, ConfigError, ExitCode, UsageError
from audiovoice_ops.core.project import Project
from audiovoice_ops.core.replicas import Replica, parse_selection, parse_targets
from audiovoice_ops.core.stack import load_stack
from tests.support.dockerenv import REPO_ROOT

SNAPSHOTS = REPO_ROOT / "tests" / "gpu" / "snapshots"
TWO_GPUS = SNAPSHOTS / "two_gpus.json"
NO_DRIVER = SNAPSHOTS / "no_driver.json"
# Builds the create arguments offline: create_host_config needs an API version, not an engine.
OFFLINE = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41")


class Offline:
    api = OFFLINE


def real_stack_dir(tmp_path: Path, worker_gpus: str | None) -> Path:
    """The repository's compose file and .env.example, as a fresh checkout has them."""
    (tmp_path / "docker").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "docker" / "compose.yml", tmp_path / "docker" / "compose.yml")
    env = (REPO_ROOT / ".env.example").read_text().replace("WORKER_GPUS=all\n", "")
    if worker_gpus is not None:
        env += f"WORKER_GPUS={worker_gpus}\n"
    (tmp_path / ".env").write_text(env)
    return tmp_path


def project_for(
    tmp_path: Path, worker_gpus: str | None, snapshot: Path = TWO_GPUS, environ=None
) -> Project:
    root = real_stack_dir(tmp_path, worker_gpus)
    stack = load_stack(root / "docker" / "compose.yml", root / ".env", environ or {})
    return Project(stack, nvml_snapshot=snapshot)


def sent(project: Project, replica: Replica, with_gpus: bool = True) -> dict:
    return create_arguments(Offline, project.stack, replica, with_gpus)


def test_all_on_two_gpus_pins_one_worker_to_each(tmp_path):
    project = project_for(tmp_path, "all")
    replicas = project.replicas.of("celery")
    assert [(r.number, r.gpu) for r in replicas] == [(1, "0"), (2, "1")]
    for replica, device in zip(replicas, ("0", "1"), strict=True):
        args = sent(project, replica)
        assert args["name"] == f"audio-voice-celery-{replica.number}"
        (request,) = args["host_config"]["DeviceRequests"]
        assert request["DeviceIDs"] == [device] and request["Capabilities"] == [["gpu"]]
        assert request["Driver"] == "nvidia" and request["Count"] == 0  # ids, not a count
        labels = args["labels"]
        assert labels["com.docker.compose.service"] == "celery"
        assert labels["com.docker.compose.container-number"] == str(replica.number)
        assert labels["com.docker.compose.project"] == "audio-voice"
        assert labels["io.avops.managed-by"] == "avops" and labels["io.avops.gpu"] == device
    hashes = {sent(project, r)["labels"]["com.docker.compose.config-hash"] for r in replicas}
    assert len(hashes) == 2  # moving a replica to another GPU recreates it
    # The other services keep one container, as the file describes them.
    assert [r.number for r in project.replicas.of("api")] == [1]
    assert sent(project, project.replicas.of("api")[0])["name"] == "audio-voice-api"


def test_the_default_is_all(tmp_path):
    assert [r.gpu for r in project_for(tmp_path, None).replicas.of("celery")] == ["0", "1"]


def test_gpus_off_keeps_the_replicas_without_device_requests(tmp_path):
    project = project_for(tmp_path, "all")
    for replica in project.replicas.of("celery"):
        args = sent(project, replica, with_gpus=False)
        assert "DeviceRequests" not in args["host_config"]
        assert args["labels"]["io.avops.gpu"] == replica.gpu  # status still shows the plan


def test_a_list_pins_those_gpus_by_index_or_uuid(tmp_path):
    project = project_for(tmp_path, "1")
    (replica,) = project.replicas.of("celery")
    assert (replica.number, replica.gpu) == (1, "1")
    assert sent(project, replica)["host_config"]["DeviceRequests"][0]["DeviceIDs"] == ["1"]
    uuid = "GPU-3060-0000-1111-2222-444444444444"
    assert [r.gpu for r in project_for(tmp_path / "u", uuid).replicas.of("celery")] == [uuid]


def test_none_is_one_cpu_worker(tmp_path):
    project = project_for(tmp_path, "none")
    (replica,) = project.replicas.of("celery")
    args = sent(project, replica)
    assert "DeviceRequests" not in args["host_config"]
    assert args["name"] == "audio-voice-celery-1" and args["labels"]["io.avops.gpu"] == "none"


def test_all_without_nvml_is_todays_single_worker_with_every_gpu(tmp_path):
    project = project_for(tmp_path, "all", snapshot=NO_DRIVER)
    (replica,) = project.replicas.of("celery")
    assert replica == Replica("celery", 1)
    args = sent(project, replica)
    assert args["host_config"]["DeviceRequests"][0]["Count"] == -1  # the file's count: all
    assert "io.avops.gpu" not in args["labels"]
    assert "NVML shows no GPU" in project.replicas.reasons["celery"]
    # Same config hash as a service without the extension: no churn for a one-GPU host.
    plain = project.stack.config_hash("celery")
    assert args["labels"]["com.docker.compose.config-hash"] == plain


@pytest.mark.parametrize(
    "value, message",
    [
        ("0,5", "no GPU 5 on this host (NVML shows 0, 1)"),
        ("zero", "'zero' is no GPU index"),
        ("0,0", "a GPU is listed twice"),
        ("0,", "'' is no GPU index"),
    ],
)
def test_bad_selections_are_config_errors(tmp_path, value, message):
    project = project_for(tmp_path, value)
    with pytest.raises(ConfigError, match="WORKER_GPUS") as caught:
        _ = project.replicas
    assert message in caught.value.message and caught.value.exit_code == ExitCode.CONFIG


def test_a_list_is_trusted_where_nvml_cannot_see_the_gpus(tmp_path):
    """avops on a laptop driving a GPU host (DOCKER_HOST=ssh://): the list is the host's."""
    project = project_for(tmp_path, "0,1", snapshot=NO_DRIVER)
    assert [r.gpu for r in project.replicas.of("celery")] == ["0", "1"]


def test_container_name_with_several_replicas_is_refused(tmp_path):
    root = real_stack_dir(tmp_path, "all")
    compose = root / "docker" / "compose.yml"
    compose.write_text(
        compose.read_text().replace(
            "    x-avops-gpus:", "    container_name: fixed-celery\n    x-avops-gpus:"
        )
    )
    project = Project(load_stack(compose, root / ".env", {}), nvml_snapshot=TWO_GPUS)
    with pytest.raises(ConfigError, match="container_name 'fixed-celery' and 2 replicas"):
        _ = project.replicas


def test_shell_overrides_env_file(tmp_path):
    project = project_for(tmp_path, "0,1", environ={"WORKER_GPUS": "none"})
    assert project.replicas.of("celery") == [Replica("celery", 1, cpu=True)]


def test_targets(tmp_path):
    project = project_for(tmp_path, "all")
    assert parse_targets(["celery:2", "api"], project) == {"celery": {2}, "api": None}
    assert parse_targets(["celery:1", "celery"], project) == {"celery": None}
    assert parse_targets(None, project) == {}
    with pytest.raises(UsageError, match=r"no replica 'celery:9': .* \(celery:1, celery:2\)"):
        parse_targets(["celery:9"], project)
    with pytest.raises(UsageError):
        parse_targets(["celery:x"], project)
    with pytest.raises(ComposeFileError, match="no service 'nope'"):
        parse_targets(["nope:1"], project)


def test_parse_selection():
    assert parse_selection(" ALL ") == "all" and parse_selection("none") == "none"
    assert parse_selection("0, 1") == ["0", "1"]


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_still_reads_the_file(tmp_path):
    """Debian's docker-compose 1.29 (an independent client) accepts the file and its x- key; it
    predates the top-level `name:`, which is dropped here (tests/fixtures/stack says the same)."""
    root = real_stack_dir(tmp_path, "0,1")
    compose = root / "docker" / "compose.yml"
    compose.write_text(
        "".join(
            line for line in compose.read_text().splitlines(True) if line != "name: audio-voice\n"
        )
    )
    result = subprocess.run(
        ["docker-compose", "-p", "audio-voice", "-f", str(compose), "config"],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "count: all" in result.stdout and "--hostname=celery@%h" in result.stdout
    assert "container_name: audio-voice-celery" not in result.stdout
