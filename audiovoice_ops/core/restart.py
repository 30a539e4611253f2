"""``restart``: *recreate* containers so they pick up the current ``.env``.

``docker restart`` (and ``docker compose restart``) reuse the container's stored environment, so
an edited ``env_file`` is silently ignored; that is how LOW_VRAM stayed off. Here each container is
stopped, removed, created from the current files, started and waited for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from audiovoice_ops.core.build import image_present
from audiovoice_ops.core.cleanup import execute_cleanup, plan_cleanup
from audiovoice_ops.core.convergence import image_name
from audiovoice_ops.core.errors import OperationFailed
from audiovoice_ops.core.reporter import Reporter
from audiovoice_ops.core.stack import Stack
from audiovoice_ops.core.status import StatusReport, build_status
from audiovoice_ops.core.up import up_services

if TYPE_CHECKING:
    import docker


def restart(client: docker.DockerClient, stack: Stack, reporter: Reporter, *, services: list[str] | None,
            gpus: str, timeout: float, stop_timeout: float | None = None) -> StatusReport:
    names = [s for s in stack.startup_order if not services or s in services]
    for name in services or []:
        stack.service(name)
    for name in names:
        if not image_present(client, image_name(stack, name)):
            raise OperationFailed(f"image {image_name(stack, name)} of service {name!r} is not on this engine",
                                  hint=f"build it first: avops rebuild --service {name}")
    reporter.phase("stop and remove")
    plan = plan_cleanup(client, stack, services=names)
    reporter.cleaned(execute_cleanup(client, stack, plan, timeout=stop_timeout, force=True))
    reporter.phase("recreate")
    up_services(client, stack, names, gpus=gpus, timeout=timeout, warn=reporter.warn, on_started=reporter.started)
    return build_status(client, stack)
