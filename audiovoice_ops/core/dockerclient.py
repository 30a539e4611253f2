"""The one Docker SDK client avops uses, and the translation of connection failures into
``DockerUnavailable`` errors with a fix.

The API version is negotiated (``version="auto"``): Debian's dockerd 20.10 speaks API 1.41 and a
pinned newer version fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from audiovoice_ops.core.errors import DockerUnavailable

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///var/run/docker.sock"


def connect(docker_host: str | None, timeout: float = 60) -> docker.DockerClient:
    """A client for ``docker_host`` (default: the local socket), checked with ``/_ping``."""
    import docker
    from docker.errors import DockerException

    base_url = docker_host or DEFAULT_HOST
    try:
        client = docker.DockerClient(
            base_url=base_url,
            version="auto",
            timeout=int(timeout),
            # ssh:// through the system ssh binary: honours ~/.ssh/config and agents, no paramiko.
            use_ssh_client=base_url.startswith("ssh://"),
        )
        client.ping()
    except DockerException as exc:
        raise unavailable(base_url, exc) from None
    return client


def unavailable(base_url: str, exc: BaseException) -> DockerUnavailable:
    text = str(exc)
    if "Permission denied" in text or "PermissionError" in text:
        return DockerUnavailable(
            f"permission denied on the Docker socket ({base_url})",
            hint="add your user to the docker group (sudo usermod -aG docker $USER, then log in again) or run as root",
        )
    if "No such file" in text or "FileNotFoundError" in text or "Connection refused" in text:
        return DockerUnavailable(
            f"cannot reach the Docker daemon at {base_url}: is dockerd running?",
            hint="start it (sudo systemctl start docker) or point DOCKER_HOST at a running engine",
        )
    first_line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return DockerUnavailable(
        f"cannot talk to the Docker daemon at {base_url}: {first_line}",
        hint="check DOCKER_HOST and that dockerd is running",
    )
