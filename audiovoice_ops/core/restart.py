"""``restart``: *recreate* containers so they pick up the current ``.env``.

``docker restart`` (and ``docker compose restart``) reuse the container's stored environment, so
an edited ``env_file`` is silently ignored; that is how LOW_VRAM stayed off. Here each container is
stopped, removed, created from the current files, started and waited for.

``celery`` recreates every replica of the service (and removes replicas past the plan, after a
``WORKER_GPUS`` change); ``celery:1`` only replica 1, while the others keep serving.
"""

from __future__ import annotations

from audiovoice_ops.core.build import image_present
from audiovoice_ops.core.cleanup import containers_plan, run_cleanup
from audiovoice_ops.core.containers import ContainerView
from audiovoice_ops.core.convergence import image_name
from audiovoice_ops.core.errors import OperationFailed
from audiovoice_ops.core.project import Project
from audiovoice_ops.core.replicas import parse_targets
from audiovoice_ops.core.reporter import Reporter
from audiovoice_ops.core.status import StatusReport, project_status
from audiovoice_ops.core.up import up_services


def restart(
    project: Project,
    reporter: Reporter,
    *,
    services: list[str] | None,
    gpus: str,
    timeout: float,
    stop_timeout: float | None = None,
) -> StatusReport:
    """``services``: ``NAME`` (every replica) or ``NAME:N`` (replica N); None: the whole stack."""
    stack, client = project.stack, project.client
    chosen = parse_targets(services, project)
    names = [s for s in stack.startup_order if not chosen or s in chosen]
    for name in names:
        if not image_present(client, image_name(stack, name)):
            raise OperationFailed(
                f"image {image_name(stack, name)} of service {name!r} is not on this engine",
                hint=f"build it first: avops rebuild --service {name}",
            )
    reporter.phase("stop and remove")
    old = [
        view
        for view in project.inventory.all_project_containers
        if view.service in names and _chosen(view, chosen.get(view.service or ""))
    ]  # recreating ours never touches squatters
    reporter.cleaned(run_cleanup(project, containers_plan(project, old), timeout=stop_timeout))
    reporter.phase("recreate")
    up_services(
        project,
        names,
        gpus=gpus,
        timeout=timeout,
        warn=reporter.warn,
        on_started=reporter.started,
        replicas=chosen or None,
    )
    project.refresh_inventory()
    return project_status(project)


def _chosen(view: ContainerView, numbers: set[int] | None) -> bool:
    """A whole service: all its containers (surplus replicas and one-offs too); some replicas:
    their service containers only."""
    return numbers is None or (not view.oneoff and view.number in numbers)
