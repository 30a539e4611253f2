"""``avops restart``: recreate containers with the current .env (never ``docker restart``)."""

from __future__ import annotations

from typing import Annotated

import typer

from audiovoice_ops.commands.common import JsonOption, global_options, open_project
from audiovoice_ops.commands.lifecycle import (
    GpusOption,
    TimeoutOption,
    WaitLockOption,
    run_locked_and_report,
)


def restart(
    ctx: typer.Context,
    services: Annotated[
        list[str] | None,
        typer.Argument(
            help="Services to recreate (default: all); SERVICE:N recreates replica N only."
        ),
    ] = None,
    gpus: GpusOption = None,
    timeout: TimeoutOption = None,
    stop_timeout: Annotated[
        float | None,
        typer.Option(
            "--stop-timeout",
            "-t",
            help="Seconds to wait for each container to stop (default: its stop_grace_period).",
        ),
    ] = None,
    wait_lock: WaitLockOption = 0.0,
    json_output: JsonOption = False,
) -> None:
    """Recreate containers so they pick up the current .env (never `docker restart`).

    Stop, remove, create from the current compose file and .env, start, wait healthy: `docker
    restart` keeps the old environment, which is how LOW_VRAM stayed off. A worker with one
    container per GPU: `celery` recreates every replica (and removes those past WORKER_GPUS),
    `celery:1` replica 1 only.
    """
    from audiovoice_ops.core.replicas import parse_targets
    from audiovoice_ops.core.restart import restart as run_restart

    settings = global_options(ctx).settings(gpus=gpus, timeout=timeout)
    project = open_project(settings, require_env_file=True)
    parse_targets(services, project)  # a bad name: exit 2/3, no lock taken
    project.connect()
    run_locked_and_report(
        project.name,
        wait_lock,
        json_output,
        False,
        lambda reporter: run_restart(
            project,
            reporter,
            services=services,
            gpus=settings.gpus,
            timeout=settings.timeout,
            stop_timeout=stop_timeout,
        ),
    )
