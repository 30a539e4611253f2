"""``avops rebuild``: cleanup, build without cache, start in order, wait for health, check."""

from __future__ import annotations

from typing import Annotated

import typer

from audiovoice_ops.commands.common import JsonOption, docker_client, global_options, load_stack_from
from audiovoice_ops.commands.lifecycle import GpusOption, TimeoutOption, WaitLockOption, run_locked_and_report


def rebuild(
    ctx: typer.Context,
    service: Annotated[list[str] | None, typer.Option("--service", "-s", help="Rebuild only this service (and what depends on it). Repeatable.")] = None,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Use the build cache (default: no cache, like the old script).")] = False,
    gpus: GpusOption = None,
    timeout: TimeoutOption = None,
    force: Annotated[bool, typer.Option("--force", help="Proceed although foreign containers squat the project's names.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print the full build log.")] = False,
    wait_lock: WaitLockOption = 0.0,
    json_output: JsonOption = False,
) -> None:
    """Clean rebuild: cleanup, build without cache, start in order, wait until healthy.

    Checks .env first (LOW_VRAM set and valid), waits on Docker events rather than sleeping, and
    exits 0 only if every service is healthy.
    """
    from audiovoice_ops.core.rebuild import check_preconditions, rebuild as run_rebuild
    from audiovoice_ops.core.settings import process_environment

    settings = global_options(ctx).settings(gpus=gpus, timeout=timeout)
    stack = load_stack_from(settings, require_env_file=True)
    check_preconditions(stack, process_environment())
    client = docker_client(settings)
    run_locked_and_report(stack.project, wait_lock, json_output, verbose, lambda reporter: run_rebuild(
        client, stack, reporter, services=service, nocache=not cache, gpus=settings.gpus,
        timeout=settings.timeout, force=force))
