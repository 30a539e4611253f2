"""The one Docker SDK client avops uses, and the translation of connection failures into
``DockerUnavailable`` errors with a fix. A DOCKER_HOST that cannot be parsed is one of them (exit 4),
and ssh:// goes through the system ssh client (``core/sshtunnel.py``).

The API version is negotiated (``version="auto"``): Debian's dockerd 20.10 speaks API 1.41 and a
pinned newer version fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from audiovoice_ops.core.errors import DockerUnavailable, InvalidDockerHost

if TYPE_CHECKING:
    import docker

DEFAULT_HOST = "unix:///var/run/docker.sock"
# The one timeout policy, for every command: seconds one Engine API request may take. A reachable
# engine answers in milliseconds; this bounds a hung one. Long operations do not hit it: builds and
# pulls stream, and the SDK adds a stop's grace period to the request timeout itself.
REQUEST_TIMEOUT_S = 60


def connect(docker_host: str | None) -> docker.DockerClient:
    """A client for ``docker_host`` (default: the local socket), checked with ``/_ping``.

    Called by ``core/project.py`` only (``optional_docker`` for the GPU views without a stack):
    one construction point, one timeout policy."""
    import docker
    from docker.errors import DockerException

    base_url = check_docker_host(docker_host or DEFAULT_HOST)
    tunnel = None
    try:
        if base_url.startswith("ssh://"):
            from audiovoice_ops.core.sshtunnel import SshTunnel

            tunnel = SshTunnel(base_url)
        client = docker.DockerClient(
            base_url=tunnel.base_url if tunnel else base_url,
            version="auto",
            timeout=REQUEST_TIMEOUT_S,
        )
        client.ping()
    except DockerException as exc:
        if tunnel is not None:
            tunnel.close()
            if tunnel.last_error:
                raise DockerUnavailable(
                    f"cannot reach the Docker daemon at {base_url} over ssh: {tunnel.last_error}",
                    hint=SSH_HINT,
                ) from None
        raise unavailable(base_url, exc) from None
    client.avops_tunnel = tunnel  # keeps the bridge alive as long as the client
    return client


SSH_HINT = (
    "check that `ssh [-p PORT] user@host docker version` works without a prompt "
    "(keys in ~/.ssh/config or an agent, host key in known_hosts)"
)
HOST_HINT = "DOCKER_HOST is unix:///path/docker.sock, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]"


def check_docker_host(url: str) -> str:
    """``url`` if the Docker SDK can parse it, else ``InvalidDockerHost`` naming it (exit 4).

    Checked before any connection: the SDK raises bare ``ValueError``s for a port out of range or a
    broken IPv6 literal, and only when a request is made."""
    from docker.errors import DockerException
    from docker.utils import parse_host

    try:
        parse_host(url, is_win32=False, tls=False)
        # parse_host accepts a missing host ("ssh://") and takes no port check for ssh:// from urlsplit.
        parts = urlsplit(url)
        _ = parts.port
        if parts.scheme == "ssh" and not parts.hostname:
            raise ValueError("no host")
    except (DockerException, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidDockerHost(f"invalid DOCKER_HOST {url!r}: {reason}", hint=HOST_HINT) from None
    return url


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
