"""``avops worker add|rm|ls``: workers on another host's engine, end to end.

The "other host" is a second dockerd on this machine (its own data root: it really lacks the
image) behind a real sshd on a loopback port (tests/support/second_dockerd.py, sshd.py), reached
with ``ssh://`` as a user would. The worker runs with ``--gpus none``; the planned create
arguments for ``--gpus 0,1`` are checked without starting them (this engine has no NVIDIA
runtime), and the real engine's refusal of them is checked through the CLI.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from pathlib import Path

import pytest

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.errors import ExitCode
from audiovoice_ops.core.remote.hosts import STATE_FILE, HostBook, WorkerHost
from audiovoice_ops.core.remote.image import OUTDATED, ensure_image
from audiovoice_ops.core.remote.workers import WORKER_HOST, close_host, connect_host, plan_workers
from tests.support import dockerenv, second_dockerd, sshd

pytestmark = pytest.mark.docker

# A tiny audio-voice: the worker service has the real one's shape (env_file, a data and a models
# volume, hardening, a GPU reservation, Celery's node name from the hostname).
COMPOSE = """\
services:
  redis:
    image: avops-test/busybox:latest
    command: ["sleep", "300"]
  celery:
    image: avops-test/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; echo node celery@$$(hostname); touch /tmp/ready; while true; do sleep 1 & wait $$!; done"]
    env_file: .env
    network_mode: host
    read_only: true
    tmpfs: ["/tmp:size=8m"]
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    volumes:
      - data:/data
      - models:/app/models
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 3
    stop_grace_period: 2s
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: all
              capabilities: [gpu]
volumes:
  data:
  models:
"""
ENV = (
    "LOW_VRAM=true\nREDIS_URL=redis://redis:6379/0\nDATA_DIR=/data\nAPI_KEYS=client-secret-key\n"
    "ADMIN_API_KEYS=admin-secret-key\nREDIS_API_PASSWORD=api-redis-secret\n"
)
REMOTE_REDIS = "rediss://worker:s3cret-pass@redis.example.test:6380/0"
FAKE_CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


@pytest.fixture
def worker_project(docker_client, busybox_image, project_name, tmp_path):
    root = tmp_path / "stack"
    root.mkdir()
    (root / "compose.yml").write_text(COMPOSE)
    (root / ".env").write_text(ENV)
    project = dockerenv.TestProject(docker_client, project_name, root)
    yield project
    project.destroy()


def _require(reason: str | None) -> None:
    if reason:
        if os.environ.get("AVOPS_TEST_REQUIRE_DOCKER") == "1":
            pytest.fail(f"AVOPS_TEST_REQUIRE_DOCKER=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture
def remote(tmp_path, docker_client, project_name):
    """(sshd, the second engine's client): ssh://...@127.0.0.1:PORT reaches the second dockerd."""
    _require(sshd.missing_tools())
    _require(second_dockerd.unavailable_reason())
    engine = second_dockerd.start_second_dockerd()
    server = sshd.start_sshd(tmp_path / "ssh")
    second_dockerd.route_sshd_to(server, engine)
    client = engine.client()
    yield server, client
    dockerenv.destroy_project(client, project_name)
    client.close()
    server.stop()
    engine.stop()


def cli(project: dockerenv.TestProject, server: sshd.SshServer | None, *args: str):
    env = {**project.cli_env(), "COLUMNS": "200"}
    if server is not None:
        env = server.client_env(env)
    return project.avops("worker", *args, env=env, timeout=180)


def test_add_ls_rm_on_another_engine(worker_project, remote, docker_client):
    server, engine = remote
    url, name = server.docker_host, worker_project.name
    slug = f"127-0-0-1-{server.port}"
    worker_name = f"{name}-celery-{slug}-1"
    local_image = docker_client.api.inspect_image(dockerenv.BUSYBOX_IMAGE)["Id"]
    assert not engine.api.images(name=dockerenv.BUSYBOX_IMAGE)  # the other host lacks it

    ca = worker_project.dir / "ca.pem"
    ca.write_text(FAKE_CA)
    added = cli(
        worker_project, server, "add", url, "--gpus", "none", "--redis-url", REMOTE_REDIS,
        "--redis-ca", str(ca),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr + server.log()
    # Progress on stderr (the save|load really ran), its last line once, at the end.
    progress = [line for line in added.stderr.splitlines() if line.startswith("sending image:")]
    assert progress and progress[-1].endswith("(100%)") and progress.count(progress[-1]) == 1
    assert engine.api.inspect_image(dockerenv.BUSYBOX_IMAGE)["Id"] == local_image
    assert f"started {worker_name} on {url} (CPU)" in added.stdout
    assert "s3cret-pass" not in added.stdout + added.stderr

    # The container is on the other engine, made as the worker service would be.
    info = engine.api.inspect_container(worker_name)
    dockerenv.wait_healthy(engine, info["Id"])
    assert not docker_client.api.containers(all=True, filters={"name": worker_name})
    labels = info["Config"]["Labels"]
    assert labels[L.PROJECT] == name and labels[L.SERVICE] == "celery"
    assert labels[WORKER_HOST] == url and labels[L.REPLICA_GPU] == "none"
    assert labels[L.MANAGED_BY] == L.MANAGED_BY_VALUE
    assert info["Config"]["Hostname"] == f"{slug}-1"  # Celery's node: celery@<host slug>-1
    env = dict(entry.split("=", 1) for entry in info["Config"]["Env"])
    assert env["REDIS_URL"] == f"{REMOTE_REDIS}?ssl_ca_certs=%2Frun%2Favops-tls%2Fca.pem"
    assert env["LOW_VRAM"] == "true"
    assert not {"DATA_DIR", "API_KEYS", "ADMIN_API_KEYS", "REDIS_API_PASSWORD"} & set(env)
    host_config = info["HostConfig"]
    assert not host_config.get("DeviceRequests")  # --gpus none: a CPU worker
    assert host_config["ReadonlyRootfs"] and host_config["CapDrop"] == ["ALL"]
    mounts = {m["Destination"]: m["Name"] for m in info["Mounts"]}
    # No data volume (workers are stateless): the models, and the Redis CA the URL names.
    assert mounts == {"/app/models": f"{name}_models", "/run/avops-tls": f"{name}_worker-tls"}
    shown = engine.containers.get(info["Id"]).exec_run(["cat", "/run/avops-tls/ca.pem"])
    assert shown.exit_code == 0 and shown.output.decode() == FAKE_CA
    volume = engine.api.inspect_volume(f"{name}_models")
    assert volume["Labels"][WORKER_HOST] == url
    assert f"node celery@{slug}-1" in engine.api.logs(info["Id"]).decode()

    state = json.loads((worker_project.dir / STATE_FILE).read_text())
    assert [h["url"] for h in state["hosts"]] == [url]
    assert state["hosts"][0]["redis"] == REMOTE_REDIS.replace("s3cret-pass", "***")
    assert worker_project.env_file.read_text() == ENV  # the user's .env is never rewritten

    listed = cli(worker_project, server, "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    (host,) = json.loads(listed.stdout)["hosts"]
    assert host["reachable"] and host["url"] == url
    assert [(w["name"], w["state"], w["gpu"]) for w in host["workers"]] == [
        (worker_name, "running", "none")
    ]
    # The fleet view: status shows the other host's workers beside the local stack.
    env = server.client_env({**worker_project.cli_env(), "COLUMNS": "200"})
    status = worker_project.avops("status", "--json", env=env, timeout=180)
    (seen,) = json.loads(status.stdout)["worker_hosts"]
    assert seen["url"] == url and [w["name"] for w in seen["workers"]] == [worker_name]
    table = worker_project.avops("status", env=env, timeout=180)
    assert "workers on other hosts" in table.stdout and worker_name in table.stdout

    # Again: the image is already there (same id), the worker is replaced.
    again = cli(worker_project, server, "add", url, "--gpus", "none", "--redis-url", REMOTE_REDIS)
    assert again.returncode == 0, again.stderr
    assert "sending image" not in again.stderr and f"replaced {worker_name}" in again.stdout

    since, current = int(time.time()) - 1, engine.api.inspect_container(worker_name)["Id"]
    removed = cli(worker_project, server, "rm", url, "--json")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout)["removed"] == [worker_name]
    # Stopped, not killed: Celery's warm shutdown (exit 0 on SIGTERM), then removed.
    died = engine.api.events(
        since=since,
        until=int(time.time()) + 1,
        filters={"event": "die", "container": current},
        decode=True,
    )
    assert [e["Actor"]["Attributes"]["exitCode"] for e in died] == ["0"]
    assert not engine.api.containers(all=True, filters={"label": f"{WORKER_HOST}={url}"})
    engine.api.inspect_volume(f"{name}_models")  # kept without --volumes
    assert json.loads(cli(worker_project, server, "ls", "--json").stdout)["hosts"] == []


def test_gpu_workers_are_planned_one_per_gpu(worker_project, remote):
    server, engine = remote
    url = server.docker_host
    stack = worker_project.stack()
    specs = plan_workers(engine, stack, "celery", url, "0,1", REMOTE_REDIS)
    assert [s.name for s in specs] == [
        f"{worker_project.name}-celery-127-0-0-1-{server.port}-{n}" for n in (1, 2)
    ]
    for device, spec in zip(("0", "1"), specs, strict=True):
        (request,) = spec.arguments["host_config"]["DeviceRequests"]
        assert request["DeviceIDs"] == [device] and request["Count"] == 0
        assert request["Driver"] == "nvidia" and request["Capabilities"] == [["gpu"]]
        assert spec.arguments["labels"][L.REPLICA_GPU] == device
        assert spec.arguments["labels"][WORKER_HOST] == url
    (every,) = plan_workers(engine, stack, "celery", url, "all", REMOTE_REDIS)
    assert every.arguments["host_config"]["DeviceRequests"][0]["Count"] == -1

    # This engine has no NVIDIA runtime: it refuses them, and nothing is left or remembered.
    refused = cli(worker_project, server, "add", url, "--gpus", "0,1", "--redis-url", REMOTE_REDIS)
    assert refused.returncode == ExitCode.OPERATION_FAILED, refused.stdout + refused.stderr
    assert "NVIDIA Container Toolkit" in refused.stderr and "Traceback" not in refused.stderr
    assert not engine.api.containers(all=True, filters={"label": f"{WORKER_HOST}={url}"})
    assert not (worker_project.dir / STATE_FILE).exists()


def test_unreachable_host_is_a_row(worker_project, tmp_path):
    _require(sshd.missing_tools())
    dead = f"ssh://nobody@127.0.0.1:{sshd.free_port()}"  # nothing listens there
    HostBook.beside(worker_project.env_file).remember(
        WorkerHost(dead, "none", "img", "rediss://w:***@h/0", "2026-01-01T00:00:00+00:00")
    )
    listed = cli(worker_project, None, "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    (host,) = json.loads(listed.stdout)["hosts"]
    assert not host["reachable"] and "Connection refused" in host["error"]
    table = cli(worker_project, None, "ls")
    assert table.returncode == 0 and "unreachable: " in table.stdout
    status = worker_project.avops("status", "--json", env=worker_project.cli_env(), timeout=180)
    (seen,) = json.loads(status.stdout)["worker_hosts"]  # a row saying so, not a failed command
    assert not seen["reachable"] and seen["url"] == dead and "Traceback" not in status.stderr
    doctor = worker_project.avops(
        "doctor", "--json", "--no-api", env=worker_project.cli_env(), timeout=180
    )
    hosts_check = {c["id"]: c for c in json.loads(doctor.stdout)["checks"]}["workers.hosts"]
    assert hosts_check["status"] == "warn" and f"unreachable: {dead}" in hosts_check["reason"]

    refused = cli(worker_project, None, "rm", dead)
    assert refused.returncode == ExitCode.DOCKER_UNAVAILABLE
    assert "--forget" in refused.stderr
    forgotten = cli(worker_project, None, "rm", "127.0.0.1", "--forget")
    assert forgotten.returncode == 0, forgotten.stderr
    assert HostBook.beside(worker_project.env_file).hosts() == []


@pytest.mark.parametrize(
    ("args", "env_line", "code", "words"),
    [
        (("add", "http://gpu-host"), "", ExitCode.USAGE, "invalid worker host"),
        (("add", "ssh://"), "", ExitCode.USAGE, "invalid worker host"),
        (("add", "ssh://me@gpu-host"), "", ExitCode.CONFIG, "WORKER_REDIS_URL is not set"),
        (
            ("add", "ssh://me@gpu-host", "--redis-url", "redis://10.9.8.7:6379/0"),
            "",
            ExitCode.USAGE,
            "it is plain redis://, and remote workers need rediss:// (TLS) with a password",
        ),
        (
            ("add", "ssh://me@gpu-host"),
            "WORKER_REDIS_URL=rediss://redis.example.test:6380/0\n",
            ExitCode.CONFIG,
            "refusing WORKER_REDIS_URL rediss://redis.example.test:6380/0: it has no password",
        ),
        (
            ("add", "ssh://me@gpu-host", "--gpus", "0,0", "--redis-url", REMOTE_REDIS),
            "",
            ExitCode.USAGE,
            "a GPU is listed twice",
        ),
        (
            ("add", "ssh://me@gpu-host", "--redis-url", REMOTE_REDIS, "--redis-ca", "compose.yml"),
            "",
            ExitCode.USAGE,
            "--redis-ca: compose.yml is not a PEM CA certificate",
        ),
        (("rm", "gpu-host"), "", ExitCode.USAGE, "'gpu-host' is no worker host (known: none)"),
        (("rm",), "", ExitCode.USAGE, "rm needs a host"),
    ],
)
def test_bad_input_is_one_line(worker_project, args, env_line, code, words):
    worker_project.env_file.write_text(ENV + env_line)
    result = cli(worker_project, None, *args)
    assert result.returncode == code, result.stdout + result.stderr
    assert words in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_state_file_lives_beside_the_env_file(tmp_path: Path):
    book = HostBook.beside(tmp_path / ".env")
    host = WorkerHost("ssh://a@b", "0,1", "img", "rediss://u:***@h/0", "now")
    book.remember(host)
    book.remember(WorkerHost("ssh://c@d:2222", "none", "img", "x", "now"))
    assert (tmp_path / STATE_FILE).stat().st_mode & 0o777 == 0o600
    assert book.find("b") == host and book.find("ssh://a@b/") == host
    assert book.find("d-2222").url == "ssh://c@d:2222"
    book.forget("ssh://a@b")
    assert [h.url for h in book.hosts()] == ["ssh://c@d:2222"]


def test_an_older_image_under_the_tag_is_replaced(remote, docker_client, monkeypatch):
    server, engine = remote
    monkeypatch.setenv("PATH", server.client_env(dict(os.environ))["PATH"])  # the ssh wrapper
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        entry = tarfile.TarInfo("marker")
        tar.addfile(entry, io.BytesIO(b""))
    repository, tag = dockerenv.BUSYBOX_IMAGE.split(":")
    engine.api.import_image_from_data(archive.getvalue(), repository=repository, tag=tag)
    older = engine.api.inspect_image(dockerenv.BUSYBOX_IMAGE)["Id"]
    local = docker_client.api.inspect_image(dockerenv.BUSYBOX_IMAGE)["Id"]
    assert older != local

    seen: list[tuple[int, int, bool]] = []
    client = connect_host(server.docker_host)  # through sshd, as `worker add` does
    try:
        why = ensure_image(
            docker_client, client, dockerenv.BUSYBOX_IMAGE, lambda *a: seen.append(a)
        )
        assert why == OUTDATED
        assert engine.api.inspect_image(dockerenv.BUSYBOX_IMAGE)["Id"] == local
        assert seen[-1][2] and not any(done for *_, done in seen[:-1])
        assert seen[-1][0] == seen[-1][1] > 0
        assert ensure_image(docker_client, client, dockerenv.BUSYBOX_IMAGE) is None  # same id now
    finally:
        close_host(client)
