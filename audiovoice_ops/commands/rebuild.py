"""``avops rebuild``: build while the stack serves, recreate in order, wait for health, check
(``--clean``: the old script's cleanup first)."""

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


def rebuild(
    ctx: typer.Context,
    service: Annotated[
        list[str] | None,
        typer.Option(
            "--service",
            "-s",
            help="Rebuild only this service (and what depends on it). Repeatable.",
        ),
    ] = None,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache",
            help="Use the build cache (default: no cache, like the old script).",
        ),
    ] = False,
    clean: Annotated[
        bool,
        typer.Option(
            "--clean",
            help="The old order: remove the containers (volumes kept) and built images first, then build and start. The stack is down for the whole build.",
        ),
    ] = False,
    gpus: GpusOption = None,
    timeout: TimeoutOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Proceed although foreign containers squat the project's names."
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Print the full build log.")
    ] = False,
    wait_lock: WaitLockOption = 0.0,
    json_output: JsonOption = False,
) -> None:
    """Rebuild the images while the stack serves, then recreate the services in order and wait until healthy.

    Checks .env first (LOW_VRAM set and valid). Images build in parallel while
    the old containers keep serving; a failed build leaves them untouched.

    Then each service not running the new image and current config is
    recreated in dependency order: the old container gets its
    stop_grace_period (the worker finishes its running job), and dependents
    wait for the new one. Waits on Docker events; exits 0 only if every
    service is healthy.

    --clean: the old order, everything removed first (volumes kept); services
    that need no build start while the builds run.
    """
    from audiovoice_ops.core.rebuild import rebuild as run_rebuild

    settings = global_options(ctx).settings(gpus=gpus, timeout=timeout)
    project = open_project(settings, require_env_file=True)
    project.env.require_low_vram()
    project.connect()
    run_locked_and_report(
        project.name,
        wait_lock,
        json_output,
        verbose,
        lambda reporter: run_rebuild(
            project,
            reporter,
            services=service,
            nocache=not cache,
            gpus=settings.gpus,
            timeout=settings.timeout,
            force=force,
            clean=clean,
        ),
    )
