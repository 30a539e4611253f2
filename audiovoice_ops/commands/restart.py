"""``avops restart``: recreate containers with the current .env (never ``docker restart``)."""

from __future__ import annotations

from typing import Annotated

import typer

from audiovoice_ops.commands.common import (
    JsonOption, console, docker_client, err_console, global_options, load_stack_from, print_json,
)
from audiovoice_ops.commands.lifecycle import (
    GpusOption, TimeoutOption, WaitLockOption, lock_waiting_notice, print_failure_details,
)
from audiovoice_ops.commands.progress import RichReporter
from audiovoice_ops.commands.status import render as render_status
from audiovoice_ops.core.errors import ExitCode


def restart(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(help="Services to recreate (default: all).")] = None,
    gpus: GpusOption = None,
    timeout: TimeoutOption = None,
    stop_timeout: Annotated[float | None, typer.Option("--stop-timeout", "-t", help="Seconds to wait for each container to stop (default: its stop_grace_period).")] = None,
    wait_lock: WaitLockOption = 0.0,
    json_output: JsonOption = False,
) -> None:
    """Recreate containers so they pick up the current .env (never `docker restart`).

    Stop, remove, create from the current compose file and .env, start, wait healthy: `docker
    restart` keeps the old environment, which is how LOW_VRAM stayed off.
    """
    from audiovoice_ops.core.errors import AvopsError
    from audiovoice_ops.core.lock import project_lock
    from audiovoice_ops.core.restart import restart as run_restart

    settings = global_options(ctx).settings(gpus=gpus, timeout=timeout)
    stack = load_stack_from(settings, require_env_file=True)
    client = docker_client(settings)
    reporter = RichReporter(err_console if json_output else console)
    try:
        with project_lock(stack.project, wait_lock, lock_waiting_notice):
            report = run_restart(client, stack, reporter, services=services, gpus=settings.gpus,
                                 timeout=settings.timeout, stop_timeout=stop_timeout)
    except AvopsError as exc:
        reporter.close()
        print_failure_details(exc)
        raise
    finally:
        reporter.close()
    if json_output:
        print_json(report.to_dict())
    else:
        render_status(report)
    raise typer.Exit(ExitCode.OK if report.ok else ExitCode.CHECK_FAILED)
