"""Remove a project's containers, networks and built images, selected by label only.

Never by name: the old script's ``docker images | grep audio-voice | xargs docker rmi -f`` removed
anything *named* alike. Here a resource is touched only if it carries the project's label; named
volumes (users' voices and outputs) are kept unless asked.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.containers import ContainerView
from audiovoice_ops.core.errors import Refused
from audiovoice_ops.core.inventory import Inventory, Squatter, take_inventory
from audiovoice_ops.core.resources import project_networks, project_volumes
from audiovoice_ops.core.stack import Stack

if TYPE_CHECKING:
    import docker

DEFAULT_STOP_TIMEOUT = 10


@dataclass
class Action:
    kind: str  # container | network | image | volume
    name: str
    id: str
    outcome: str = "planned"  # planned | removed | kept | refused | failed
    detail: str = ""


@dataclass
class CleanupPlan:
    project: str
    containers: list[Action] = field(default_factory=list)
    networks: list[Action] = field(default_factory=list)
    images: list[Action] = field(default_factory=list)
    volumes: list[Action] = field(default_factory=list)
    squatters: list[Squatter] = field(default_factory=list)
    whole_project: bool = True  # False when limited to some services: networks and images stay

    @property
    def actions(self) -> list[Action]:
        return self.containers + self.networks + self.images + self.volumes

    def to_dict(self) -> dict:
        return {"project": self.project,
                "actions": [asdict(a) for a in self.actions],
                "squatters": [asdict(s) for s in self.squatters],
                "removed": sum(a.outcome == "removed" for a in self.actions),
                "kept": [a.name for a in self.actions if a.outcome == "kept"]}


def plan_cleanup(client: docker.DockerClient, stack: Stack, services: list[str] | None = None,
                 remove_volumes: bool = False, inventory: Inventory | None = None) -> CleanupPlan:
    """What cleanup would do. ``services`` limits it to those services' containers (rebuild --service)."""
    inventory = inventory or take_inventory(client, stack)
    plan = CleanupPlan(project=stack.project, squatters=inventory.squatters, whole_project=services is None)
    containers = inventory.all_project_containers
    if services is not None:
        containers = [c for c in containers if c.service in services]
    plan.containers = [Action("container", c.name, c.id) for c in containers]
    if plan.whole_project:
        plan.networks = [Action("network", n["Name"], n["Id"]) for n in project_networks(client, stack.project)]
        plan.images = [Action("image", _image_name(i), i["Id"]) for i in built_images(client, stack.project)]
        plan.volumes = [Action("volume", v["Name"], v["Name"],
                               outcome="planned" if remove_volumes else "kept",
                               detail="" if remove_volumes else "data volume kept (use --volumes to remove)")
                        for v in project_volumes(client, stack.project)]
    return plan


def built_images(client: docker.DockerClient, project: str) -> list[dict]:
    return client.api.images(filters={"label": f"{L.BUILT_FOR_PROJECT}={project}"})


def _image_name(image: dict) -> str:
    tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
    return tags[0] if tags else image["Id"][7:19]


def execute_cleanup(client: docker.DockerClient, stack: Stack, plan: CleanupPlan,
                    timeout: float | None = None, force: bool = False) -> CleanupPlan:
    if plan.squatters and not force:
        listing = ", ".join(f"{s.name} ({s.reason})" for s in plan.squatters)
        raise Refused(f"foreign containers squat this project's names: {listing}",
                      hint="remove or rename them yourself, or pass --force to clean up anyway (they are never touched)")
    _remove_containers(client, stack, plan.containers, timeout)
    for action in plan.networks:
        _attempt(action, lambda a=action: client.api.remove_network(a.id))
    for action in plan.images:
        _attempt(action, lambda a=action: client.api.remove_image(a.id, force=False, noprune=False))
    for action in plan.volumes:
        if action.outcome == "planned":
            _attempt(action, lambda a=action: client.api.remove_volume(a.name))
    if plan.whole_project:
        # Leftovers of this project's builds: unused images carrying its label (dangling=False is
        # required for the label filter to select non-dangling parents too).
        client.api.prune_images(filters={"label": f"{L.BUILT_FOR_PROJECT}={stack.project}", "dangling": False})
    return plan


def _remove_containers(client: docker.DockerClient, stack: Stack, actions: list[Action], timeout: float | None) -> None:
    def stop_and_remove(action: Action) -> None:
        grace = timeout if timeout is not None else _grace_period(client, stack, action.id)
        # v=True removes the container's *anonymous* volumes (an image's VOLUME left unmounted):
        # a new container never gets them back, so keeping them only leaks disk. Named volumes,
        # where users' data lives, are never touched here.
        _attempt(action, lambda: (client.api.stop(action.id, timeout=int(grace)),
                                  client.api.remove_container(action.id, v=True, force=True)))

    if not actions:
        return
    with ThreadPoolExecutor(max_workers=min(16, len(actions))) as pool:
        list(pool.map(stop_and_remove, actions))


def _grace_period(client: docker.DockerClient, stack: Stack, container_id: str) -> float:
    from docker.errors import NotFound

    try:
        view = ContainerView.from_attrs(client.api.inspect_container(container_id))
    except NotFound:
        return 0
    service = stack.services.get(view.service or "")
    if service and service.stop_grace_period is not None:
        return service.stop_grace_period
    return DEFAULT_STOP_TIMEOUT


def _attempt(action: Action, operation) -> None:
    from docker.errors import APIError, NotFound

    try:
        operation()
        action.outcome = "removed"
    except NotFound:
        action.outcome, action.detail = "removed", "already gone"
    except APIError as exc:
        # 409: still in use (an image a foreign container runs, a network with foreign endpoints).
        action.outcome = "kept" if exc.status_code == 409 else "failed"
        action.detail = (exc.explanation or str(exc)).splitlines()[0][:200]
