"""``avops doctor``'s Redis exposure check on the fixture stack: a published Redis fails without a
password and warns without TLS, read from the compose file and from the running container."""

from __future__ import annotations

import json

import pytest

from tests.doctor.test_doctor import doctor, edit_compose
from tests.service.procs import free_port

CHECK = "security.redis"
REMOTE_FIX = "docker/compose.remote-redis.yml"
# The remote mode's shape (docker/compose.remote-redis.yml): a shell that writes the ACL file and
# execs redis-server with a TLS port; the secret stays in the environment.
TLS_SCRIPT = (
    'echo "user worker on #$$(printf %s "$$PW" | sha256sum | cut -d\' \' -f1) ~* +@all" '
    "> /tmp/users.acl; exec redis-server --aclfile /tmp/users.acl --tls-port 6380 "
    "--tls-cert-file /tls/server.pem --tls-key-file /tls/server.key"
)


def _publish(project, port: str, command=None, on_network: bool = False) -> None:
    def change(data):
        redis = data["services"]["redis"]
        redis["ports"] = [port]
        if command is not None:
            redis["command"] = command
        if on_network:
            redis.pop("network_mode")  # a container on network none cannot publish

    edit_compose(project, change)


def test_not_published_passes(project):
    project.up()
    _, _, checks = doctor(project)
    check = checks[CHECK]
    assert check["status"] == "pass" and "not published" in check["reason"], check


def test_published_without_password_fails(project):
    _publish(project, "0.0.0.0:16379:6379")
    code, report, checks = doctor(project)
    check = checks[CHECK]
    assert check["status"] == "fail" and code == 1 and not report["ok"], check
    assert "redis 0.0.0.0:16379 (compose file)" in check["reason"], check
    assert "without a password" in check["reason"] and REMOTE_FIX in check["fix"], check


@pytest.mark.parametrize(
    "command, env_line",
    [
        (["redis-server", "--requirepass", "s3cret-value"], ""),
        (None, "REDIS_URL=redis://api:s3cret-value@redis:6379/0\n"),
        # TLS on, but the plain port is the one published
        (["sh", "-c", TLS_SCRIPT], ""),
    ],
    ids=["requirepass", "credentials-in-url", "plain-port-next-to-tls"],
)
def test_published_with_password_but_no_tls_warns(project, command, env_line):
    _publish(project, "127.0.0.1:16379:6379", command)
    project.env_file.write_text(project.env_file.read_text() + env_line)
    code, _, checks = doctor(project)
    check = checks[CHECK]
    assert check["status"] == "warn", check
    assert "without TLS" in check["reason"] and REMOTE_FIX in check["fix"], check
    assert "s3cret-value" not in json.dumps(check)


def test_tls_port_with_acl_passes(project):
    _publish(project, "0.0.0.0:16380:6380", ["sh", "-c", TLS_SCRIPT])
    _, _, checks = doctor(project)
    check = checks[CHECK]
    assert check["status"] == "pass" and "TLS port with authentication" in check["reason"], check


def test_running_container_that_publishes_fails_even_if_the_file_does_not(project):
    """A stack started with another file (an override): what the engine runs is what counts."""
    port = free_port()
    _publish(project, f"127.0.0.1:{port}:6379", on_network=True)
    project.up()
    edit_compose(project, lambda d: d["services"]["redis"].pop("ports"))
    code, _, checks = doctor(project)
    check = checks[CHECK]
    assert check["status"] == "fail" and code == 1, check
    assert f"127.0.0.1:{port} (container)" in check["reason"], check
    assert "(compose file)" not in check["reason"], check
