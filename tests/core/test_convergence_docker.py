"""The create arguments avops derives from the compose file, checked on real containers."""

from __future__ import annotations

import os

import pytest

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.convergence import create_container
from audiovoice_ops.core.resources import ensure_networks, ensure_volumes
from audiovoice_ops.core.stack import load_stack

pytestmark = pytest.mark.docker

COMPOSE = """
services:
  web:
    image: avops-test/busybox:latest
    command: ["sh", "-c", "sleep 300"]
    ports: ["127.0.0.1::8080", "9090/udp"]
    tmpfs: ["/scratch:size=1m"]
    volumes: [data:/data:ro, "./conf:/conf"]
    user: "1000:1000"
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    restart: on-failure:3
    stop_grace_period: 7s
    labels: {tier: front}
    networks:
      back: {aliases: [www]}
    healthcheck:
      test: ["CMD", "true"]
      interval: 1m30s
      start_period: 500ms
volumes:
  data:
networks:
  back:
"""


def test_container_matches_the_compose_file(docker_client, busybox_image, project, tmp_path):
    (tmp_path / "conf").mkdir()
    compose = tmp_path / "compose.yml"
    compose.write_text(COMPOSE)
    stack = load_stack(compose, tmp_path / ".env", os.environ, project_name=project.name)
    ensure_networks(docker_client, stack, ["web"])
    ensure_volumes(docker_client, stack, ["web"])
    attrs = docker_client.api.inspect_container(create_container(docker_client, stack, "web"))
    host, config = attrs["HostConfig"], attrs["Config"]
    assert attrs["Name"] == f"/{project.name}-web-1"
    assert host["PortBindings"]["8080/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": ""}]
    assert "9090/udp" in host["PortBindings"]
    assert host["Tmpfs"] == {"/scratch": "size=1m"}
    mounts = {m["Target"]: m for m in host["Mounts"]}
    assert (
        mounts["/data"]["Source"] == f"{project.name}_data" and mounts["/data"]["ReadOnly"] is True
    )
    assert mounts["/conf"]["Type"] == "bind" and mounts["/conf"]["Source"] == str(tmp_path / "conf")
    assert config["User"] == "1000:1000" and host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert config["StopTimeout"] == 7
    assert (
        config["Healthcheck"]["Interval"] == 90 * 10**9
        and config["Healthcheck"]["StartPeriod"] == 5 * 10**8
    )
    assert config["Labels"]["tier"] == "front" and config["Labels"][L.SERVICE] == "web"
    assert config["Labels"][L.CONFIG_HASH] == stack.config_hash("web")
    network = attrs["NetworkSettings"]["Networks"][f"{project.name}_back"]
    assert {"web", "www"} <= set(network["Aliases"])
    net = docker_client.api.inspect_network(f"{project.name}_back")
    assert net["Labels"][L.PROJECT] == project.name and net["Labels"][L.NETWORK] == "back"
