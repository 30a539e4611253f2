"""Remove a project's containers, networks and built images, selected by label only.

Never by name: the old script's ``docker images | grep audio-voice | xargs docker rmi -f`` removed
anything *named* alike. Here a resource is touched only if it carries the project's label; named
volumes (users' voices and outputs) are kept unless asked.

The squatter policy lives here too: a foreign container holding one of the project's names
refuses the run (``cleanup_plan(force=False)``), and is never touched. ``commands/`` only renders.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.containers import ContainerView
from audiovoice_ops.core.errors import Refused
from audiovoice_ops.core.inventory import Squatter
from audiovoice_ops.core.resources import project_networks, project_volumes

if TYPE_CHECKING:
    import docker

    from audiovoice_ops.core.project import Project

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
    # Foreign containers squatting the project's names, shown "refused" when they stop the run
    # (without --force). Never touched either way.
    foreign: list[Action] = field(default_factory=list)
    squatters: list[Squatter] = field(default_factory=list)
    whole_project: bool = True  # False when limited to some services: networks and images stay

    @property
    def actions(self) -> list[Action]:
        return self.containers + self.networks + self.images + self.volumes + self.foreign

    @property
    def refused(self) -> bool:
        return any(a.outcome == "refused" for a in self.foreign)

    @property
    def volumes_to_remove(self) -> list[str]:
        return [a.name for a in self.volumes if a.outcome == "planned"]

    def keep_volumes(self, why: str) -> None:
        """Keep the volumes planned for removal (the user did not confirm)."""
        for action in self.volumes:
            if action.outcome == "planned":
                action.outcome, action.detail = "kept", why

    def to_dict(self) -> dict:
        return {
            "project": self.project,
            "actions": [asdict(a) for a in self.actions],
            "squatters": [asdict(s) for s in self.squatters],
            "removed": sum(a.outcome == "removed" for a in self.actions),
            "kept": [a.name for a in self.actions if a.outcome == "kept"],
        }


def cleanup_plan(
    project: Project,
    services: list[str] | None = None,
    remove_volumes: bool = False,
    force: bool = False,
) -> CleanupPlan:
    """What cleanup would do, on ``project.inventory``. ``services`` limits it to those services'
    containers (rebuild --service). Squatters refuse the whole run unless ``force``."""
    inventory, client, name = project.inventory, project.client, project.name
    plan = CleanupPlan(project=name, squatters=inventory.squatters, whole_project=services is None)
    containers = inventory.all_project_containers
    if services is not None:
        containers = [c for c in containers if c.service in services]
    plan.containers = [Action("container", c.name, c.id) for c in containers]
    if plan.whole_project:
        plan.networks = [
            Action("network", n["Name"], n["Id"]) for n in project_networks(client, name)
        ]
        plan.images = [Action("image", _image_name(i), i["Id"]) for i in built_images(client, name)]
        plan.volumes = [
            Action(
                "volume",
                v["Name"],
                v["Name"],
                outcome="planned" if remove_volumes else "kept",
                detail="" if remove_volumes else "data volume kept (use --volumes to remove)",
            )
            for v in project_volumes(client, name)
        ]
    if not force:
        refuse_squatters(plan)
    return plan


def containers_plan(project: Project, views: list[ContainerView]) -> CleanupPlan:
    """Removing just these containers of the project (a replica being recreated, surplus
    replicas, leftovers): networks, images and volumes stay."""
    return CleanupPlan(
        project=project.name,
        whole_project=False,
        containers=[Action("container", v.name, v.id) for v in views],
    )


def refuse_squatters(plan: CleanupPlan) -> None:
    """The squatter policy: a foreign container holding one of the project's names stops the run
    (removing ours and recreating them would fail on the name, or worse, confuse the two)."""
    plan.foreign = [
        Action(
            "container", s.name, s.id, outcome="refused", detail=f"foreign container: {s.reason}"
        )
        for s in plan.squatters
    ]


def built_images(client: docker.DockerClient, project: str) -> list[dict]:
    return client.api.images(filters={"label": f"{L.BUILT_FOR_PROJECT}={project}"})


def _image_name(image: dict) -> str:
    tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
    return tags[0] if tags else image["Id"][7:19]


def run_cleanup(project: Project, plan: CleanupPlan, timeout: float | None = None) -> CleanupPlan:
    """Carry out ``plan``; ``Refused`` (nothing touched) when its squatters refused it. The
    project's inventory is stale afterwards: ``project.refresh_inventory()`` before reading it."""
    if plan.refused:
        listing = ", ".join(f"{s.name} ({s.reason})" for s in plan.squatters)
        raise Refused(
            f"foreign containers squat this project's names: {listing}",
            hint="remove or rename them yourself, or pass --force to clean up anyway (they are never touched)",
        )
    client = project.client
    _remove_containers(project, plan.containers, timeout)
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
        client.api.prune_images(
            filters={"label": f"{L.BUILT_FOR_PROJECT}={project.name}", "dangling": False}
        )
    return plan


def _remove_containers(project: Project, actions: list[Action], timeout: float | None) -> None:
    client = project.client

    def stop_and_remove(action: Action) -> None:
        grace = timeout if timeout is not None else _grace_period(project, action.id)
        # v=True removes the container's *anonymous* volumes (an image's VOLUME left unmounted):
        # a new container never gets them back, so keeping them only leaks disk. Named volumes,
        # where users' data lives, are never touched here.
        _attempt(
            action,
            lambda: (
                client.api.stop(action.id, timeout=int(grace)),
                client.api.remove_container(action.id, v=True, force=True),
            ),
        )

    if not actions:
        return
    with ThreadPoolExecutor(max_workers=min(16, len(actions))) as pool:
        list(pool.map(stop_and_remove, actions))


def _grace_period(project: Project, container_id: str) -> float:
    from docker.errors import NotFound

    try:
        view = ContainerView.from_attrs(project.client.api.inspect_container(container_id))
    except NotFound:
        return 0
    service = project.stack.services.get(view.service or "")
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
