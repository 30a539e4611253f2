"""Test helpers around a real Docker Engine: base images, projects, running the avops CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.convergence import create_container
from audiovoice_ops.core.resources import ensure_networks, ensure_volumes
from audiovoice_ops.core.stack import Stack, load_stack

BUSYBOX_IMAGE = "avops-test/busybox:latest"
REPO_ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGES_SCRIPT = Path(__file__).with_name("base-images.sh")


def client_or_none() -> docker.DockerClient | None:
    try:
        client = docker.DockerClient(base_url="unix:///var/run/docker.sock", version="auto")
        client.ping()
        return client
    except DockerException:
        return None


def ensure_busybox_image(client: docker.DockerClient) -> str:
    """Make the busybox base image with the same script CI uses (no registry here)."""
    try:
        client.images.get(BUSYBOX_IMAGE)
    except ImageNotFound:
        subprocess.run(
            ["bash", str(BASE_IMAGES_SCRIPT)],
            check=True,
            env={**os.environ, "AVOPS_SKIP_PYTHON_IMAGE": "1"},
        )
    return BUSYBOX_IMAGE


@dataclass
class TestProject:
    client: docker.DockerClient
    name: str
    dir: Path
    extra_containers: list[str] = field(default_factory=list)  # foreign containers a test made

    @property
    def compose_file(self) -> Path:
        return self.dir / "compose.yml"

    @property
    def env_file(self) -> Path:
        return self.dir / ".env"

    def stack(self) -> Stack:
        return load_stack(self.compose_file, self.env_file, os.environ, project_name=self.name)

    def cli_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "AVOPS_COMPOSE_FILE": str(self.compose_file),
            "AVOPS_ENV_FILE": str(self.env_file),
            "AVOPS_PROJECT_NAME": self.name,
        }

    def avops(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess:
        return run_avops(*args, env=env or self.cli_env(), cwd=self.dir, timeout=timeout)

    def start_service(self, service: str, number: int = 1, stack: Stack | None = None) -> str:
        """Create and start one service container through avops's own convergence code."""
        stack = stack or self.stack()
        ensure_networks(self.client, stack, [service])
        ensure_volumes(self.client, stack, [service])
        container_id = create_container(self.client, stack, service, number=number, with_gpus=False)
        self.client.api.start(container_id)
        return container_id

    def up(self) -> None:
        stack = self.stack()
        for service in stack.startup_order:
            wait_healthy(self.client, self.start_service(service, stack=stack))

    def foreign_container(self, name: str, labels: dict[str, str] | None = None) -> str:
        container = self.client.containers.run(
            BUSYBOX_IMAGE,
            ["sleep", "300"],
            name=name,
            detach=True,
            labels=labels or {},
            network_mode="none",
        )
        self.extra_containers.append(container.id)
        return container.id

    def destroy(self) -> None:
        destroy_project(self.client, self.name)
        for container_id in self.extra_containers:
            _force_remove(self.client, container_id)


def wait_healthy(client: docker.DockerClient, container_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.api.inspect_container(container_id)["State"]
        health = (state.get("Health") or {}).get("Status")
        if state["Status"] == "running" and health in (None, "healthy"):
            return
        if state["Status"] in ("exited", "dead"):
            raise AssertionError(f"container {container_id[:12]} exited: {state}")
        time.sleep(0.2)
    raise AssertionError(f"container {container_id[:12]} not healthy after {timeout}s")


def destroy_project(client: docker.DockerClient, project: str) -> None:
    selector = {"label": L.project_filter(project)}
    for summary in client.api.containers(all=True, filters=selector):
        _force_remove(client, summary["Id"])
    for net in client.api.networks(filters=selector):
        try:
            client.api.remove_network(net["Id"])
        except (NotFound, APIError):
            pass
    for vol in client.api.volumes(filters=selector).get("Volumes") or []:
        try:
            client.api.remove_volume(vol["Name"], force=True)
        except (NotFound, APIError):
            pass
    for image in client.api.images(filters={"label": f"{L.BUILT_FOR_PROJECT}={project}"}):
        try:
            client.api.remove_image(image["Id"], force=True)
        except (NotFound, APIError):
            pass


def _force_remove(client: docker.DockerClient, container_id: str) -> None:
    try:
        client.api.remove_container(container_id, force=True, v=True)  # anonymous volumes too
    except NotFound:
        pass


def run_avops(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, as a user or a CI step would."""
    return subprocess.run(
        [sys.executable, "-m", "audiovoice_ops", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or REPO_ROOT,
        timeout=timeout,
    )
