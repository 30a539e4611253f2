"""Turning a service of the stack into a container: the create arguments Compose would use.

Shared by ``rebuild`` and ``restart``; tests use it to make real project containers. Every
container gets Compose's labels (project, service, number, one-off, working dir, config files,
config hash) so ``docker compose`` sees it as its own. A replica pinned to a GPU
(``core/replicas.py``) gets a ``DeviceRequest`` for that device only, and ``io.avops.gpu``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.replicas import Replica
from audiovoice_ops.core.resources import network_name, service_networks, volume_name
from audiovoice_ops.core.stack import Stack
from audiovoice_ops.core.stack.model import DeviceReservation, Healthcheck, Service

if TYPE_CHECKING:
    import docker

NANOS = 1_000_000_000


def image_name(stack: Stack, service: str) -> str:
    """The service's image: ``image:`` if given, else Compose's ``<project>-<service>``."""
    return stack.service(service).image or f"{stack.project}-{service}"


def container_name(stack: Stack, service: str, number: int = 1) -> str:
    return stack.service(service).container_name or f"{stack.project}-{service}-{number}"


def container_labels(
    stack: Stack, service: str, number: int = 1, replica: Replica | None = None
) -> dict[str, str]:
    svc = stack.service(service)
    placement = replica.placement if replica else None
    own = {L.REPLICA_GPU: replica.gpu or "none"} if replica and placement else {}
    return {
        **{k: v or "" for k, v in svc.labels.items()},
        L.PROJECT: stack.project,
        L.SERVICE: service,
        L.CONTAINER_NUMBER: str(number),
        L.ONEOFF: "False",
        L.WORKING_DIR: str(stack.project_dir),
        L.CONFIG_FILES: str(stack.compose_file),
        L.CONFIG_HASH: stack.config_hash(service, placement),
        L.VERSION: L.COMPOSE_VERSION_VALUE,
        L.MANAGED_BY: L.MANAGED_BY_VALUE,
        **own,
    }


def create_container(
    client: docker.DockerClient,
    stack: Stack,
    service: str,
    number: int = 1,
    with_gpus: bool = True,
    replica: Replica | None = None,
) -> str:
    """Create (not start) the service's container; returns its id. Networks and volumes must exist.
    ``replica`` (default: number ``number`` as the file says) decides its name and device."""
    replica = replica or Replica(service, number)
    kwargs = create_arguments(client, stack, replica, with_gpus)
    svc = stack.service(service)
    networks = service_networks(stack, service)
    container_id = client.api.create_container(**kwargs)["Id"]
    for extra in networks[1:]:
        client.api.connect_container_to_network(
            container_id, network_name(stack, extra), aliases=endpoint_aliases(svc, service, extra)
        )
    return container_id


def create_arguments(
    client: docker.DockerClient, stack: Stack, replica: Replica, with_gpus: bool
) -> dict[str, Any]:
    """What ``create_container`` sends to the engine for ``replica`` (no engine call: tests
    inspect the device requests on a host without GPUs)."""
    service, number = replica.service, replica.number
    svc = stack.service(service)
    networks = service_networks(stack, service)
    primary = networks[0] if networks else None
    config = host_config(stack, service, with_gpus, replica)
    kwargs: dict[str, Any] = {
        "image": image_name(stack, service),
        "name": container_name(stack, service, number),
        "command": svc.command,
        "entrypoint": svc.entrypoint,
        "environment": stack.effective_environment(service),
        "labels": container_labels(stack, service, number, replica),
        "ports": [(p.target, p.protocol) for p in svc.ports] or None,
        "user": svc.user,
        "working_dir": svc.working_dir,
        "stop_signal": svc.stop_signal,
        "healthcheck": healthcheck_config(svc.healthcheck),
        "host_config": client.api.create_host_config(**config),
    }
    if svc.stop_grace_period is not None:
        kwargs["stop_timeout"] = int(svc.stop_grace_period)
    if primary:
        kwargs["networking_config"] = client.api.create_networking_config(
            {
                network_name(stack, primary): client.api.create_endpoint_config(
                    aliases=endpoint_aliases(svc, service, primary)
                )
            }
        )
    return kwargs


def endpoint_aliases(svc: Service, service: str, network: str) -> list[str]:
    extra = svc.networks[network].aliases if network in svc.networks else []
    return [service, *extra]


def host_config(
    stack: Stack, service: str, with_gpus: bool, replica: Replica | None = None
) -> dict[str, Any]:
    from docker.types import Mount

    svc = stack.service(service)
    networks = service_networks(stack, service)
    config: dict[str, Any] = {
        "port_bindings": port_bindings(svc) or None,
        "mounts": [_mount(stack, m, Mount) for m in svc.volumes if m.type != "tmpfs"] or None,
        "tmpfs": tmpfs_mounts(svc) or None,
        "restart_policy": restart_policy(svc.restart),
        "network_mode": svc.network_mode
        or (network_name(stack, networks[0]) if networks else None),
        "init": svc.init,
        "read_only": svc.read_only,
        "security_opt": svc.security_opt or None,
        "cap_drop": svc.cap_drop or None,
        "cap_add": svc.cap_add or None,
    }
    requests = device_requests(svc, replica or Replica(service))
    if with_gpus and requests:
        config["device_requests"] = requests
    return config


def device_requests(svc: Service, replica: Replica) -> list:
    """The file's reservations; for a pinned replica the same driver and capabilities, for its
    one device only (Docker takes ``count`` or ``device_ids``, not both); none for a CPU one."""
    if replica.cpu:
        return []
    if replica.gpu is None:
        return [device_request(d) for d in svc.gpu_devices]
    template = next(iter(svc.gpu_devices), None) or DeviceReservation(
        driver="nvidia", capabilities=["gpu"]
    )
    pinned = template.model_copy(update={"count": None, "device_ids": [replica.gpu]})
    return [device_request(pinned)]


def port_bindings(svc: Service) -> dict[str, Any]:
    """``{"8005/tcp": ("127.0.0.1", 8005)}``; no host IP binds all interfaces, no port picks one."""
    bindings: dict[str, Any] = {}
    for port in svc.ports:
        bindings[f"{port.target}/{port.protocol}"] = (
            (port.host_ip, port.published) if port.host_ip else port.published
        )
    return bindings


def tmpfs_mounts(svc: Service) -> dict[str, str]:
    """``tmpfs: [/tmp:size=64m]`` and ``volumes: [{type: tmpfs}]`` as Docker's ``{path: options}``."""
    mounts = {}
    for entry in svc.tmpfs:
        path, _, options = entry.partition(":")
        mounts[path] = options
    mounts.update({m.target: "" for m in svc.volumes if m.type == "tmpfs"})
    return mounts


def _mount(stack: Stack, mount, mount_type):
    if mount.type == "bind":
        return mount_type(
            target=mount.target,
            source=str(stack.resolve_path(mount.source)),
            type="bind",
            read_only=mount.read_only,
        )
    source = volume_name(stack, mount.source) if mount.source else None
    return mount_type(target=mount.target, source=source, type="volume", read_only=mount.read_only)


def restart_policy(restart: str | None) -> dict[str, Any] | None:
    if not restart or restart == "no":
        return None
    name, _, retries = restart.partition(":")
    policy: dict[str, Any] = {"Name": name}
    if retries:
        policy["MaximumRetryCount"] = int(retries)
    return policy


def healthcheck_config(check: Healthcheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    if check.disable:
        return {"test": ["NONE"]}
    config: dict[str, Any] = {"test": check.test, "retries": check.retries}
    for key in ("interval", "timeout", "start_period"):
        seconds = getattr(check, key)
        if seconds is not None:
            config[key] = int(seconds * NANOS)
    return {k: v for k, v in config.items() if v is not None}


def device_request(reservation: DeviceReservation):
    from docker.types import DeviceRequest

    count = -1 if reservation.count == "all" else reservation.count
    if count is None and not reservation.device_ids:
        count = -1  # Compose: no count and no ids means all devices
    return DeviceRequest(
        driver=reservation.driver or "",
        count=count or 0,
        device_ids=reservation.device_ids or [],
        capabilities=[reservation.capabilities] if reservation.capabilities else [],
        options=reservation.options,
    )
