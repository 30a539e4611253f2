"""Create and start service containers in ``depends_on`` order, then wait until all are ready.

A dependency declared ``condition: service_healthy`` must be healthy before its dependents start
(``service_started``: running; ``service_completed_successfully``: exited 0). GPU reservations
become ``DeviceRequest``s, with the ``--gpus auto|on|off`` policy applied when the engine cannot
provide them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audiovoice_ops.core.convergence import container_name, create_container
from audiovoice_ops.core.errors import GpuUnavailable, OperationFailed
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


Warn = Callable[[str], None]


def up_services(
    project: Project,
    services: list[str],
    gpus: str,
    timeout: float,
    warn: Warn,
    on_started: Callable[[Started], None] | None = None,
    *,
    before_start: Callable[[str], None] | None = None,
    ready_first: Callable[[str], bool] | None = None,
) -> list[Started]:
    """Start ``services`` in dependency order; ``before_start(service)`` runs once the service's
    dependencies meet their conditions, right before its container is created (rebuild waits
    there for the service's image, or stops the container it replaces). ``ready_first`` picks,
    among the services whose dependencies come earlier, those to start first (images ready)."""
    client, stack = project.client, project.stack
    order = start_order(stack, services, ready_first or (lambda _service: True))
    ensure_networks(client, stack, order)
    ensure_volumes(client, stack, order)
    started: dict[str, Started] = {}
    with EventWatch(client, stack.project) as watch:
        for service in order:
            watch.wait(_dependency_targets(project, service, started), timeout)
            if before_start:
                before_start(service)
            started[service] = start_service(client, stack, service, gpus, warn)
            if on_started:
                on_started(started[service])
        watch.wait([Target(s.container_id, s.name) for s in started.values()], timeout)
    return list(started.values())


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
    project: Project, service: str, started: dict[str, Started]
) -> list[Target]:
    """What ``service`` waits for. A dependency outside this run must already be up: it is
    looked up in the project's inventory, read before the run (containers this run starts are
    in ``started``; the run never removes one it does not start)."""
    targets = []
    for dep, spec in project.stack.service(service).depends_on.items():
        if dep in started:
            container_id, name = started[dep].container_id, started[dep].name
        else:
            existing = project.inventory.services.get(dep) or []
            if not existing:
                if not spec.required:
                    continue
                raise OperationFailed(
                    f"service {service!r} depends on {dep!r}, which has no container",
                    hint=f"bring it up too: avops rebuild --service {dep}",
                )
            container_id, name = existing[0].id, existing[0].name
        targets.append(Target(container_id, name, CONDITION_TARGET[spec.condition]))
    return targets


def start_service(
    client: docker.DockerClient, stack: Stack, service: str, gpus: str, warn: Warn
) -> Started:
    from docker.errors import APIError

    wants_gpu = bool(stack.service(service).gpu_devices) and gpus != "off"
    name = container_name(stack, service)
    try:
        container_id = create_container(client, stack, service, with_gpus=wants_gpu)
    except APIError as exc:
        raise OperationFailed(
            f"creating {name} failed: {exc.explanation or exc}",
            hint="`avops status` lists containers squatting the project's names",
        ) from None
    try:
        client.api.start(container_id)
        return Started(service, container_id, name, gpu=wants_gpu)
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
        f"service {service!r} reserves a GPU, but the Docker Engine has no NVIDIA runtime: "
        f"starting it WITHOUT a GPU (CPU mode). Fix: {TOOLKIT_HINT}"
    )
    container_id = create_container(client, stack, service, with_gpus=False)
    client.api.start(container_id)
    return Started(service, container_id, name, gpu=False)
