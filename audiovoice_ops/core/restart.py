"""``restart``: *recreate* containers so they pick up the current ``.env``.

``docker restart`` (and ``docker compose restart``) reuse the container's stored environment, so
an edited ``env_file`` is silently ignored; that is how LOW_VRAM stayed off. Here each container is
stopped, removed, created from the current files, started and waited for.
"""

from __future__ import annotations

from audiovoice_ops.core.build import image_present
from audiovoice_ops.core.cleanup import cleanup_plan, run_cleanup
from audiovoice_ops.core.convergence import image_name
from audiovoice_ops.core.errors import OperationFailed
from audiovoice_ops.core.project import Project
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
    stack, client = project.stack, project.client
    names = [s for s in stack.startup_order if not services or s in services]
    for name in services or []:
        stack.service(name)
    for name in names:
        if not image_present(client, image_name(stack, name)):
            raise OperationFailed(
                f"image {image_name(stack, name)} of service {name!r} is not on this engine",
                hint=f"build it first: avops rebuild --service {name}",
            )
    reporter.phase("stop and remove")
    plan = cleanup_plan(
        project, services=names, force=True
    )  # recreating ours never touches squatters
    reporter.cleaned(run_cleanup(project, plan, timeout=stop_timeout))
    reporter.phase("recreate")
    up_services(
        project,
        names,
        gpus=gpus,
        timeout=timeout,
        warn=reporter.warn,
        on_started=reporter.started,
    )
    project.refresh_inventory()
    return project_status(project)
