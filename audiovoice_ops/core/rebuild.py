"""``rebuild``: build the images, then bring the stack to them, in one of two orders.

- Default, rolling (like ``docker compose up -d --build``): build every image first, in parallel,
  while the old containers keep serving; a failed build ends the run with the stack untouched.
  Then recreate, in dependency order, each service whose container is not already running the
  current image and configuration: stop the old container with the service's
  ``stop_grace_period`` (for the Celery worker a warm shutdown: the running job finishes; a job
  that does not finish in time is redelivered, ``acks_late``), create and start the new one, and
  wait for the conditions its dependents declare. The API is down for its own recreate and health
  wait, never for a build.
- ``clean=True``, the old script's order: clean up (volumes kept), then build and start at once:
  builds run in parallel, and services that need no build start (and become healthy) meanwhile;
  each built service starts when its image exists and its dependencies meet their conditions.

Readiness comes from Docker events, never a sleep. Safe to re-run after Ctrl-C: the rolling path
recreates whatever is missing or stale, the clean path removes whatever a broken run left.
"""

from __future__ import annotations

import threading
from typing import Any, cast

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.build import ImageJobs
from audiovoice_ops.core.cleanup import cleanup_plan, containers_plan, run_cleanup
from audiovoice_ops.core.convergence import image_name
from audiovoice_ops.core.project import Project
from audiovoice_ops.core.replicas import Replica
from audiovoice_ops.core.reporter import Reporter
from audiovoice_ops.core.stack import Stack
from audiovoice_ops.core.stack.dependencies import dependents_closure
from audiovoice_ops.core.status import StatusReport, project_status
from audiovoice_ops.core.up import Chosen, up_services


def selected_services(stack: Stack, only: list[str] | None) -> list[str]:
    """All services, or the chosen ones plus everything that depends on them."""
    if not only:
        return list(stack.services)
    for name in only:
        stack.service(name)
    closure = dependents_closure(stack.model, only)
    return [name for name in stack.startup_order if name in closure]


def rebuild(
    project: Project,
    reporter: Reporter,
    *,
    services: list[str] | None,
    nocache: bool,
    gpus: str,
    timeout: float,
    force: bool = False,
    clean: bool = False,
) -> StatusReport:
    targets = selected_services(project.stack, services)
    # Build threads report while the main thread starts services.
    reporter = cast(Reporter, SerializedReporter(reporter))
    run = clean_rebuild if clean else rolling_rebuild
    run(
        project,
        reporter,
        targets,
        scoped=bool(services),
        nocache=nocache,
        gpus=gpus,
        timeout=timeout,
        force=force,
    )
    project.refresh_inventory()
    return project_status(project)


def rolling_rebuild(
    project: Project,
    reporter: Reporter,
    targets: list[str],
    *,
    scoped: bool,
    nocache: bool,
    gpus: str,
    timeout: float,
    force: bool,
) -> None:
    plan = cleanup_plan(project, services=targets, force=force)
    if plan.refused:
        run_cleanup(project, plan)  # raises Refused, touching nothing
    reporter.phase("build (the running stack keeps serving)")
    image_jobs(project, reporter, targets, nocache).wait_all()
    stale = stale_replicas(project, targets)
    reporter.phase(
        "recreate" if stale else "recreate: every container runs the current image and config"
    )

    def replace(replica: Replica) -> None:
        # One replica at a time: the others keep serving. stop_grace_period: a warm shutdown.
        old = [
            v
            for v in project.inventory.services.get(replica.service) or []
            if v.number == replica.number
        ]
        if old:
            reporter.cleaned(run_cleanup(project, containers_plan(project, old)))

    up_services(
        project,
        list(stale),
        gpus=gpus,
        timeout=timeout,
        warn=reporter.warn,
        on_started=reporter.started,
        before_start=replace,
        replicas=stale,
    )
    remove_surplus(project, reporter, targets)
    if not scoped:  # like the clean path, whose cleanup is limited to the chosen services too
        remove_leftovers(project, reporter)


def clean_rebuild(
    project: Project,
    reporter: Reporter,
    targets: list[str],
    *,
    scoped: bool,
    nocache: bool,
    gpus: str,
    timeout: float,
    force: bool,
) -> None:
    reporter.phase("cleanup")
    reporter.cleaned(
        run_cleanup(
            project, cleanup_plan(project, services=targets if scoped else None, force=force)
        )
    )
    project.refresh_inventory()
    reporter.phase("build and start")
    jobs = image_jobs(project, reporter, targets, nocache)
    up_services(
        project,
        targets,
        gpus=gpus,
        timeout=timeout,
        warn=reporter.warn,
        on_started=reporter.started,
        before_start=lambda replica: jobs.ready(replica.service),
        ready_first=jobs.is_ready,
    )


def image_jobs(
    project: Project, reporter: Reporter, targets: list[str], nocache: bool
) -> ImageJobs:
    return ImageJobs(
        project,
        targets,
        nocache=nocache,
        on_progress=reporter.build_progress,
        on_line=reporter.build_line,
        on_built=reporter.build_done,
        on_pull_status=reporter.pull_status,
    )


def stale_replicas(project: Project, targets: list[str]) -> Chosen:
    """Service -> the numbers of its replicas to recreate; services with none are left out."""
    stale: Chosen = {}
    for service in targets:
        numbers = {r.number for r in project.replicas.of(service) if not up_to_date(project, r)}
        if numbers:
            stale[service] = numbers
    return stale


def up_to_date(project: Project, replica: Replica) -> bool:
    """One running, not unhealthy container for the replica, made from the service's current image
    and configuration (Compose's config hash, with the replica's GPU): recreating it would change
    nothing, so the rolling path keeps it serving."""
    service = replica.service
    containers = [
        v for v in project.inventory.services.get(service) or [] if v.number == replica.number
    ]
    if len(containers) != 1 or not containers[0].running or containers[0].health == "unhealthy":
        return False
    container = containers[0]
    current_image = project.client.api.inspect_image(image_name(project.stack, service))["Id"]
    return container.image_id == current_image and container.labels.get(
        L.CONFIG_HASH
    ) == project.stack.config_hash(service, replica.placement)


def remove_surplus(project: Project, reporter: Reporter, services: list[str]) -> None:
    """Replicas past the plan (``WORKER_GPUS`` went from ``0,1`` to ``0``): removed, after the
    planned ones are up."""
    inventory = project.refresh_inventory()
    surplus = [
        view
        for service in services
        for view in project.replicas.surplus(service, inventory.services.get(service) or [])
    ]
    if surplus:
        reporter.cleaned(run_cleanup(project, containers_plan(project, surplus)))


def remove_leftovers(project: Project, reporter: Reporter) -> None:
    """What the clean path's cleanup would have removed: containers of services no longer in the
    file and ``run`` one-offs, then the project's built images no container uses any more (the
    images the new builds replaced)."""
    inventory = project.refresh_inventory()
    leftovers = inventory.orphans + inventory.oneoffs
    if leftovers:
        reporter.cleaned(run_cleanup(project, containers_plan(project, leftovers)))
    project.client.api.prune_images(
        filters={"label": f"{L.BUILT_FOR_PROJECT}={project.name}", "dangling": True}
    )


class SerializedReporter:
    """A reporter whose methods run one at a time: the front end's progress display is not
    thread-safe, and build threads report while the main thread starts services."""

    def __init__(self, reporter: Reporter):
        self._reporter = reporter
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._reporter, name)

        def serialized(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return serialized
