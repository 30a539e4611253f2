"""``DOCKER_HOST=ssh://user@host``: avops drives a remote engine through the system ssh client.

A real sshd on a loopback port (keys made in the test) in front of this machine's engine; avops
runs ``status`` and ``rebuild`` through it and the containers appear on the engine."""

from __future__ import annotations

import json
import os

import pytest

from audiovoice_ops.core.errors import ExitCode
from tests.support import sshd

pytestmark = pytest.mark.docker


@pytest.fixture
def ssh_server(tmp_path, docker_client):
    missing = sshd.missing_tools()
    if missing:
        if os.environ.get("AVOPS_TEST_REQUIRE_DOCKER") == "1":
            pytest.fail(f"AVOPS_TEST_REQUIRE_DOCKER=1 but {missing} is not installed")
        pytest.skip(f"{missing} is not installed (apt-get install openssh-server openssh-client)")
    server = sshd.start_sshd(tmp_path / "ssh")
    yield server
    server.stop()


def test_status_and_rebuild_over_ssh(build_project, ssh_server, docker_client):
    env = ssh_server.client_env({**build_project.cli_env(), "DOCKER_HOST": ssh_server.docker_host})
    before = build_project.avops("status", "--json", env=env, timeout=120)
    assert before.returncode == ExitCode.CHECK_FAILED, before.stderr + ssh_server.log()
    assert {p["kind"] for p in json.loads(before.stdout)["problems"]} == {"missing"}

    rebuilt = build_project.avops("rebuild", env=env, timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr + ssh_server.log()

    # The containers are on the engine behind sshd (this machine's), made through ssh.
    selector = {"label": f"com.docker.compose.project={build_project.name}"}
    names = sorted(c["Names"][0] for c in docker_client.api.containers(filters=selector))
    assert names == [f"/{build_project.name}-app-1", f"/{build_project.name}-store-1"]
    assert f"Accepted publickey for {ssh_server.user}" in ssh_server.log()

    after = build_project.avops("status", "--json", env=env, timeout=120)
    assert after.returncode == 0, after.stdout + after.stderr
    assert {row["service"]: row["health"] for row in json.loads(after.stdout)["services"]} == {
        "store": "healthy",
        "app": "healthy",
    }


def test_ssh_failure_is_one_line_exit_4(build_project, ssh_server):
    (ssh_server.dir / "authorized_keys").write_text("")  # our key is no longer accepted
    env = ssh_server.client_env({**build_project.cli_env(), "DOCKER_HOST": ssh_server.docker_host})
    result = build_project.avops("status", env=env, timeout=120)
    assert result.returncode == ExitCode.DOCKER_UNAVAILABLE, result.stderr
    assert "Traceback" not in result.stderr and "paramiko" not in result.stderr
    assert f"cannot reach the Docker daemon at {ssh_server.docker_host} over ssh: " in result.stderr
    assert "Permission denied" in result.stderr
