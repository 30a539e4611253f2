"""Project networks and volumes: names, labels, and creating the missing ones.

Names follow Compose (``<project>_default``, ``<project>_<volume>``) and carry Compose's labels, so
``docker compose down`` and avops agree on what belongs to the project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.errors import OperationFailed
from audiovoice_ops.core.stack import Stack

if TYPE_CHECKING:
    import docker

DEFAULT_NETWORK = "default"


def network_name(stack: Stack, key: str) -> str:
    spec = stack.model.networks.get(key)
    if spec and spec.name:
        return spec.name
    return f"{stack.project}_{key}"


def volume_name(stack: Stack, key: str) -> str:
    spec = stack.model.volumes.get(key)
    if spec and spec.name:
        return spec.name
    return f"{stack.project}_{key}"


def service_networks(stack: Stack, service: str) -> list[str]:
    """Network keys a service joins; none when it uses ``network_mode``."""
    svc = stack.service(service)
    if svc.network_mode:
        return []
    return list(svc.networks) or [DEFAULT_NETWORK]


def ensure_networks(client: docker.DockerClient, stack: Stack, services: list[str]) -> None:
    from docker.errors import NotFound

    keys = {key for name in services for key in service_networks(stack, name)}
    for key in sorted(keys):
        spec = stack.model.networks.get(key)
        name = network_name(stack, key)
        try:
            client.api.inspect_network(name)
            continue
        except NotFound:
            if spec and spec.external:
                raise OperationFailed(
                    f"external network {name!r} does not exist",
                    hint=f"docker network create {name}",
                ) from None
        client.api.create_network(
            name,
            driver=(spec.driver if spec else None) or "bridge",
            labels={
                **(spec.labels if spec else {}),
                L.PROJECT: stack.project,
                L.NETWORK: key,
                L.VERSION: L.COMPOSE_VERSION_VALUE,
            },
        )


def ensure_volumes(client: docker.DockerClient, stack: Stack, services: list[str]) -> None:
    from docker.errors import NotFound

    keys = {
        m.source
        for name in services
        for m in stack.service(name).volumes
        if m.type == "volume" and m.source
    }
    for key in sorted(keys):
        spec = stack.model.volumes[key]
        name = volume_name(stack, key)
        try:
            client.api.inspect_volume(name)
            continue
        except NotFound:
            if spec.external:
                raise OperationFailed(
                    f"external volume {name!r} does not exist", hint=f"docker volume create {name}"
                ) from None
        client.api.create_volume(
            name,
            driver=spec.driver or "local",
            driver_opts=spec.driver_opts or None,
            labels={
                **spec.labels,
                L.PROJECT: stack.project,
                L.VOLUME: key,
                L.VERSION: L.COMPOSE_VERSION_VALUE,
            },
        )


def project_volumes(client: docker.DockerClient, project: str) -> list[dict]:
    return client.api.volumes(filters={"label": L.project_filter(project)}).get("Volumes") or []


def project_networks(client: docker.DockerClient, project: str) -> list[dict]:
    return client.api.networks(filters={"label": L.project_filter(project)})
