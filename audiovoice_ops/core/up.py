"""Create and start service containers in ``depends_on`` order, then wait until all are ready.

A dependency declared ``condition: service_healthy`` must be healthy before its dependents start
(``service_started``: running; ``service_completed_successfully``: exited 0); a replicated
dependency (one worker per GPU, ``core/replicas.py``) with all its replicas. GPU reservations
become ``DeviceRequest``s, with the ``--gpus auto|on|off`` policy applied when the engine cannot
provide them (``off`` keeps the replicas, without their device requests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audiovoice_ops.core.convergence import container_name, create_container, device_requests
from audiovoice_ops.core.errors import GpuUnavailable, OperationFailed
from audiovoice_ops.core.replicas import Replica
from audiovoice_ops.core.resources import ensure_networks, ensure_volumes
from audiovoice_ops.core.stack import Stack
from audiovoice_ops.core.wait import EventWatch, Target
from audiovoice_ops.gpu.toolkit import GPU_DRIVER_ERROR, TOOLKIT_HINT, lacks_gpu_driver

if TYPE_CHECKING:
    import docker

    from audiovoice_ops.core.project import Project

CONDITION_TARGET = {
    "service_healthy": "ready",
    "service_started": "started",
    "service_completed_successfully": "completed",
}


@dataclass
class Started:
    service: str
    container_id: str
    name: str
    gpu: bool
    number: int = 1


Warn = Callable[[str], None]
Chosen = dict[str, set[int] | None]  # service -> the replica numbers to start (None: all)


def up_services(
    project: Project,
    services: list[str],
    gpus: str,
    timeout: float,
    warn: Warn,
    on_started: Callable[[Started], None] | None = None,
    *,
    before_start: Callable[[Replica], None] | None = None,
    ready_first: Callable[[str], bool] | None = None,
    replicas: Chosen | None = None,
) -> list[Started]:
    """Start ``services`` in dependency order, each with its planned replicas (``replicas``
    limits a service to some numbers). ``before_start(replica)`` runs once the service's
    dependencies meet their conditions, right before the replica's container is created (rebuild
    waits there for the service's image, or stops the container it replaces). ``ready_first``
    picks, among the services whose dependencies come earlier, those to start first."""
    client, stack = project.client, project.stack
    order = start_order(stack, services, ready_first or (lambda _service: True))
    ensure_networks(client, stack, order)
    ensure_volumes(client, stack, order)
    started: dict[str, list[Started]] = {}
    with EventWatch(client, stack.project) as watch:
        for service in order:
            watch.wait(_dependency_targets(project, service, started), timeout)
            started[service] = []
            for replica in chosen_replicas(project, service, replicas):
                if before_start:
                    before_start(replica)
                started[service].append(start_service(client, stack, replica, gpus, warn))
                if on_started:
                    on_started(started[service][-1])
        everything = [s for group in started.values() for s in group]
        watch.wait([Target(s.container_id, s.name) for s in everything], timeout)
    return everything


def chosen_replicas(project: Project, service: str, replicas: Chosen | None) -> list[Replica]:
    numbers = (replicas or {}).get(service)
    return [r for r in project.replicas.of(service) if numbers is None or r.number in numbers]


def start_order(stack: Stack, services: list[str], ready_first: Callable[[str], bool]) -> list[str]:
    """A dependency order of ``services`` (dependencies outside them must be up already) that takes,
    at each step, the first service of the compose order whose dependencies are placed, preferring
    one ``ready_first`` accepts: a service that needs no build is not queued behind one that does."""
    pending = [name for name in stack.startup_order if name in services]
    order: list[str] = []
    while pending:
        placeable = [
            name for name in pending if not set(stack.service(name).depends_on) & set(pending)
        ]
        pick = next((name for name in placeable if ready_first(name)), placeable[0])
        order.append(pick)
        pending.remove(pick)
    return order


def _dependency_targets(
    project: Project, service: str, started: dict[str, list[Started]]
) -> list[Target]:
    """What ``service`` waits for: every container of each dependency. A dependency outside this
    run must already be up: it is looked up in the project's inventory, read before the run
    (containers this run starts are in ``started``; the run never removes one it does not start)."""
    targets = []
    for dep, spec in project.stack.service(service).depends_on.items():
        condition = CONDITION_TARGET[spec.condition]
        if dep in started:
            containers = [(s.container_id, s.name) for s in started[dep]]
        else:
            containers = [(v.id, v.name) for v in project.inventory.services.get(dep) or []]
            if not containers:
                if not spec.required:
                    continue
                raise OperationFailed(
                    f"service {service!r} depends on {dep!r}, which has no container",
                    hint=f"bring it up too: avops rebuild --service {dep}",
                )
        targets += [Target(container_id, name, condition) for container_id, name in containers]
    return targets


def start_service(
    client: docker.DockerClient, stack: Stack, replica: Replica, gpus: str, warn: Warn
) -> Started:
    from docker.errors import APIError

    service, number = replica.service, replica.number
    wants_gpu = bool(device_requests(stack.service(service), replica)) and gpus != "off"
    name = container_name(stack, service, number)
    try:
        container_id = create_container(
            client, stack, service, number, with_gpus=wants_gpu, replica=replica
        )
    except APIError as exc:
        raise OperationFailed(
            f"creating {name} failed: {exc.explanation or exc}",
            hint="`avops status` lists containers squatting the project's names",
        ) from None
    try:
        client.api.start(container_id)
        return Started(service, container_id, name, gpu=wants_gpu, number=number)
    except APIError as exc:
        reason = exc.explanation or str(exc)
        if not (wants_gpu and lacks_gpu_driver(reason)):
            raise OperationFailed(f"starting {name} failed: {reason}") from None
    client.api.remove_container(container_id, force=True)
    if gpus == "on":
        raise GpuUnavailable(
            f"service {service!r} reserves a GPU but the Docker Engine cannot provide one "
            f'({GPU_DRIVER_ERROR} "nvidia")',
            hint=TOOLKIT_HINT,
        )
    warn(
        f"{name} (service {service!r}) reserves a GPU, but the Docker Engine has no NVIDIA "
        f"runtime: starting it WITHOUT a GPU (CPU mode). Fix: {TOOLKIT_HINT}"
    )
    container_id = create_container(
        client, stack, service, number, with_gpus=False, replica=replica
    )
    client.api.start(container_id)
    return Started(service, container_id, name, gpu=False, number=number)
