"""``rebuild``: preconditions, cleanup (volumes kept), build without cache, pull what is missing,
start in dependency order, wait for health, check one container per service.

The same steps as the old ``rebuild-audio-voice.sh``, minus its ``sleep 30``: readiness comes from
Docker events. Safe to re-run after Ctrl-C: cleanup first removes whatever a broken run left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from audiovoice_ops.core.build import build_service, image_present, pull_image
from audiovoice_ops.core.cleanup import execute_cleanup, plan_cleanup
from audiovoice_ops.core.convergence import image_name
from audiovoice_ops.core.envfile import parse_bool, read_env_file
from audiovoice_ops.core.errors import ConfigError
from audiovoice_ops.core.reporter import Reporter
from audiovoice_ops.core.stack import Stack
from audiovoice_ops.core.stack.dependencies import dependents_closure
from audiovoice_ops.core.status import StatusReport, build_status
from audiovoice_ops.core.up import up_services

if TYPE_CHECKING:
    import docker


def check_preconditions(stack: Stack, environ: dict[str, str]) -> bool:
    """The old script's checks: ``.env`` exists and sets a valid LOW_VRAM. Returns LOW_VRAM."""
    values = read_env_file(stack.env_file, environ)
    if "LOW_VRAM" not in values:
        raise ConfigError(f"LOW_VRAM is not set in {stack.env_file}",
                          hint="add LOW_VRAM=true (GPUs with less than 6 GB) or LOW_VRAM=false")
    return parse_bool("LOW_VRAM", values["LOW_VRAM"])


def selected_services(stack: Stack, only: list[str] | None) -> list[str]:
    """All services, or the chosen ones plus everything that depends on them."""
    if not only:
        return list(stack.services)
    for name in only:
        stack.service(name)
    closure = dependents_closure(stack.model, only)
    return [name for name in stack.startup_order if name in closure]


def rebuild(client: docker.DockerClient, stack: Stack, reporter: Reporter, *, services: list[str] | None,
            nocache: bool, gpus: str, timeout: float, force: bool = False) -> StatusReport:
    targets = selected_services(stack, services)
    scope = None if not services else targets

    reporter.phase("cleanup")
    plan = plan_cleanup(client, stack, services=scope)
    reporter.cleaned(execute_cleanup(client, stack, plan, force=force))

    reporter.phase("build")
    for service in targets:
        if stack.service(service).build:
            image_id = build_service(client, stack, service, nocache=nocache,
                                     on_progress=reporter.build_progress, on_line=reporter.build_line)
            reporter.build_done(service, image_id)
        elif not image_present(client, image_name(stack, service)):
            name = image_name(stack, service)
            pull_image(client, name, on_status=lambda status, n=name: reporter.pull_status(n, status))

    reporter.phase("start")
    up_services(client, stack, targets, gpus=gpus, timeout=timeout, warn=reporter.warn, on_started=reporter.started)
    return build_status(client, stack)
