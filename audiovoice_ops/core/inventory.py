"""What the Docker Engine holds for a project, sorted against the stack model.

- service containers: project label, service in the file, not one-off;
- orphans: project label, service no longer in the file;
- one-offs: ``docker compose run`` containers (``oneoff=True``);
- remote workers: ``avops worker add`` containers (``io.avops.worker-host``) found on this engine
  (only when "another host" is this engine): kept apart, never counted as the stack's replicas;
- squatters: containers *without* the project label whose name is a service's ``container_name``
  or starts with the project's name (the old cleanup script's "unknown containers" check).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.containers import ContainerView

if TYPE_CHECKING:
    import docker

    from audiovoice_ops.core.project import Project


@dataclass
class Squatter:
    id: str
    name: str
    reason: str


@dataclass
class Inventory:
    services: dict[str, list[ContainerView]] = field(default_factory=dict)
    orphans: list[ContainerView] = field(default_factory=list)
    oneoffs: list[ContainerView] = field(default_factory=list)
    remote_workers: list[ContainerView] = field(default_factory=list)
    squatters: list[Squatter] = field(default_factory=list)

    @property
    def all_project_containers(self) -> list[ContainerView]:
        owned = [c for group in self.services.values() for c in group]
        return owned + self.orphans + self.oneoffs


def project_containers(client: docker.DockerClient, project: str) -> list[ContainerView]:
    found = client.api.containers(all=True, filters={"label": L.project_filter(project)})
    views = []
    for summary in found:
        try:
            views.append(ContainerView.from_attrs(client.api.inspect_container(summary["Id"])))
        except _not_found():
            continue  # removed between list and inspect
    return sorted(views, key=lambda c: (c.service or "", c.number, c.name))


def read_inventory(project: Project) -> Inventory:
    """One reading of the engine; commands get it through ``project.inventory`` (read once) and
    ``project.refresh_inventory()`` (after a change)."""
    client, stack = project.client, project.stack
    inventory = Inventory(services={name: [] for name in stack.services})
    for view in project_containers(client, stack.project):
        if view.oneoff:
            inventory.oneoffs.append(view)
        elif L.WORKER_HOST in view.labels:
            inventory.remote_workers.append(view)
        elif view.service in inventory.services:
            inventory.services[view.service].append(view)
        else:
            inventory.orphans.append(view)
    inventory.squatters = find_squatters(project)
    return inventory


def find_squatters(project: Project) -> list[Squatter]:
    stack = project.stack
    reserved = {
        svc.container_name: name for name, svc in stack.services.items() if svc.container_name
    }
    prefixes = (f"{stack.project}-", f"{stack.project}_")
    squatters = []
    for summary in project.client.api.containers(all=True):
        if (summary.get("Labels") or {}).get(L.PROJECT) == stack.project:
            continue
        for name in (n.lstrip("/") for n in summary.get("Names") or []):
            if name in reserved:
                reason = f"takes container_name of service {reserved[name]!r}"
            elif name.startswith(prefixes):
                reason = f"name starts with the project name {stack.project!r}"
            else:
                continue
            squatters.append(Squatter(id=summary["Id"], name=name, reason=reason))
            break
    return sorted(squatters, key=lambda s: s.name)


def _not_found() -> type[Exception]:
    from docker.errors import NotFound

    return NotFound
