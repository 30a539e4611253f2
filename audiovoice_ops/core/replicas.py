"""Replicas: one worker container per GPU, each pinned to its device.

A service that carries ``x-avops-gpus: ${WORKER_GPUS:-all}`` in the compose file gets one
container per selected GPU: ``<project>-<service>-1``, ``-2``, ... (Compose's names and
``container-number`` label), each with a ``DeviceRequest(device_ids=[its GPU])`` so CUDA inside
sees exactly one device. The selection, from ``.env``:

- ``all`` (default): every GPU NVML shows on this host; none seen (no driver here, or a remote
  ``DOCKER_HOST``) keeps the single container with the compose file's own reservation, as
  ``docker compose up`` makes it;
- ``0,1`` (indices or ``GPU-...`` UUIDs): those GPUs, checked against NVML when it answers;
- ``none``: one CPU worker, no device request at all.

Every other service has one replica, number 1, as the compose file describes it. The invariant of
``status``/``doctor`` is exactly one container per (service, replica).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from audiovoice_ops.core.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from audiovoice_ops.core.containers import ContainerView
    from audiovoice_ops.core.project import Project
    from audiovoice_ops.core.stack import Stack
    from audiovoice_ops.gpu.types import GpuSnapshot

ALL, NONE = "all", "none"
SELECTION_VARIABLE = "WORKER_GPUS"
SELECTION_RULE = "all, none, or GPU indices/UUIDs separated by commas (0,1)"
CPU_PLACEMENT = "cpu"


@dataclass(frozen=True)
class Replica:
    """One container of a service. ``gpu``: the device it is pinned to (an index or UUID);
    ``cpu``: no device request at all. Neither: the compose file's reservation, as written."""

    service: str
    number: int = 1
    gpu: str | None = None
    cpu: bool = False

    @property
    def key(self) -> str:
        return f"{self.service}:{self.number}"

    @property
    def placement(self) -> str | None:
        """What distinguishes this replica's container (config hash, label); None: the file's."""
        if self.gpu is not None:
            return f"gpu:{self.gpu}"
        return CPU_PLACEMENT if self.cpu else None


@dataclass
class ReplicaPlan:
    """The replicas every service should have, and why (for messages)."""

    replicas: dict[str, list[Replica]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)  # replicated service -> how resolved

    def of(self, service: str) -> list[Replica]:
        return self.replicas.get(service) or [Replica(service)]

    def numbers(self, service: str) -> list[int]:
        return [r.number for r in self.of(service)]

    def replica(self, service: str, number: int) -> Replica | None:
        return next((r for r in self.of(service) if r.number == number), None)

    def surplus(self, service: str, views: list[ContainerView]) -> list[ContainerView]:
        """Containers numbered past the plan (``WORKER_GPUS`` went from ``0,1`` to ``0``)."""
        planned = set(self.numbers(service))
        return [v for v in views if v.number not in planned]


def parse_selection(text: str) -> str | list[str]:
    """``all`` | ``none`` | a list of device ids; a ConfigError naming the rule otherwise."""
    value = text.strip().lower()
    if value in (ALL, NONE):
        return value
    ids = [part.strip() for part in text.split(",")]
    for device in ids:
        if not (device.isdigit() or device.upper().startswith("GPU-")):
            raise ConfigError(
                f"invalid {SELECTION_VARIABLE}={text!r}: {device!r} is no GPU index",
                hint=f"{SELECTION_VARIABLE} is {SELECTION_RULE}",
            )
    if len(set(ids)) != len(ids):
        raise ConfigError(
            f"invalid {SELECTION_VARIABLE}={text!r}: a GPU is listed twice",
            hint="each GPU gets one worker; list it once",
        )
    return ids


def plan_replicas(stack: Stack, read_gpus: Callable[[], GpuSnapshot | None]) -> ReplicaPlan:
    """The plan for every service; ``read_gpus`` (NVML or a recorded snapshot) is called only when
    a service selects GPUs (``all`` or a list)."""
    plan = ReplicaPlan()
    snapshot: list[GpuSnapshot | None] = []  # read once, on first need

    def gpus() -> GpuSnapshot | None:
        if not snapshot:
            snapshot.append(read_gpus())
        return snapshot[0]

    for name, service in stack.services.items():
        if service.gpu_replicas is None:
            continue
        selection = parse_selection(service.gpu_replicas)
        devices, plan.reasons[name] = resolve_devices(selection, gpus)
        plan.replicas[name] = replicas_for(name, selection, devices)
        if service.container_name and len(plan.replicas[name]) > 1:
            raise ConfigError(
                f"service {name!r} has container_name {service.container_name!r} and "
                f"{len(plan.replicas[name])} replicas ({plan.reasons[name]})",
                hint=f"remove container_name from {name!r} (Compose names replicas "
                f"{stack.project}-{name}-1, -2, ...)",
            )
    return plan


def resolve_devices(
    selection: str | list[str], read_gpus: Callable[[], GpuSnapshot | None]
) -> tuple[list[str], str]:
    """The device ids to pin replicas to (empty: one replica as the file says), and why."""
    if selection == NONE:
        return [], f"{SELECTION_VARIABLE}=none: one CPU worker"
    snapshot = read_gpus()
    seen = snapshot.gpus if snapshot is not None and snapshot.available else []
    if selection == ALL:
        if not seen:
            why = snapshot.error if snapshot is not None and snapshot.error else "no GPU"
            return [], f"{SELECTION_VARIABLE}=all, NVML shows no GPU ({why}): one worker"
        return [str(g.index) for g in seen], f"{SELECTION_VARIABLE}=all: {len(seen)} GPU(s)"
    assert isinstance(selection, list)
    if seen:
        known = {str(g.index) for g in seen} | {g.uuid.upper() for g in seen if g.uuid}
        unknown = [d for d in selection if d.upper() not in known]
        if unknown:
            raise ConfigError(
                f"{SELECTION_VARIABLE}={','.join(selection)}: no GPU {', '.join(unknown)} on this "
                f"host (NVML shows {', '.join(str(g.index) for g in seen)})",
                hint=f"{SELECTION_VARIABLE} is {SELECTION_RULE}",
            )
    return list(selection), f"{SELECTION_VARIABLE}={','.join(selection)}"


def replicas_for(service: str, selection: str | list[str], devices: list[str]) -> list[Replica]:
    if selection == NONE:
        return [Replica(service, 1, cpu=True)]
    if not devices:
        return [Replica(service, 1)]
    return [Replica(service, n, gpu=device) for n, device in enumerate(devices, start=1)]


def parse_target(text: str, project: Project) -> tuple[str, int | None]:
    """``celery`` (every replica) or ``celery:1`` (replica 1 only); a UsageError (exit 2) for a
    replica that is neither planned nor running (a surplus one still has logs), a ConfigError
    (exit 3) for an unknown service. The plan (and NVML) is read only for a ``:N``."""
    service, sep, number = text.partition(":")
    project.stack.service(service)
    if not sep:
        return service, None
    numbers = sorted(set(project.replicas.numbers(service)) | _existing(project, service))
    if not number.isdigit() or int(number) not in numbers:
        listing = ", ".join(f"{service}:{n}" for n in numbers)
        raise UsageError(
            f"no replica {text!r}: service {service!r} has {len(numbers)} ({listing})",
            hint="`avops status` lists each replica and its GPU",
        )
    return service, int(number)


def _existing(project: Project, service: str) -> set[int]:
    """Replica numbers the engine holds for ``service`` (none without an engine)."""
    if project.client_or_none() is None:
        return set()
    return {view.number for view in project.inventory.services.get(service) or []}


def parse_targets(texts: list[str] | None, project: Project) -> dict[str, set[int] | None]:
    """Service -> the replica numbers named (None: all of them); empty when ``texts`` is."""
    targets: dict[str, set[int] | None] = {}
    for text in texts or []:
        service, number = parse_target(text, project)
        chosen = targets.get(service, set())
        targets[service] = None if number is None or chosen is None else chosen | {number}
    return targets
