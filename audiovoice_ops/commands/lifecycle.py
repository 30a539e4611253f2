"""Pieces shared by the commands that change the project (cleanup, rebuild, restart)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from audiovoice_ops.commands.common import console, emit_report, err_console
from audiovoice_ops.commands.progress import RichReporter
from audiovoice_ops.commands.status import render as render_status
from audiovoice_ops.core.errors import AvopsError, BuildFailed, WaitFailed
from audiovoice_ops.core.lock import project_lock

GpusOption = Annotated[
    str | None,
    typer.Option(
        "--gpus",
        help="GPU reservations: auto (CPU fallback with a warning), on (fail without GPU), off. Env AVOPS_GPUS.",
        show_default="auto",
    ),
]
TimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        help="Seconds to wait for all services to be healthy (env AVOPS_TIMEOUT).",
        show_default="300",
    ),
]
WaitLockOption = Annotated[
    float,
    typer.Option("--wait-lock", help="Seconds to wait for another avops working on this project."),
]


def print_failure_details(exc: Exception) -> None:
    """Extra context for build and wait failures, printed before the one-line error."""
    sections: list[tuple[str, str]] = []
    if isinstance(exc, BuildFailed) and exc.log_tail:
        sections.append(("last lines of the build", "\n".join(exc.log_tail)))
    if isinstance(exc, WaitFailed):
        if exc.logs:
            sections.append(("last 50 log lines", exc.logs.rstrip()))
        if exc.probe_output:
            sections.append(("last health probe", exc.probe_output))
    for title, text in sections:
        err_console.rule(title)
        err_console.print(text, markup=False, highlight=False)
    if sections:
        err_console.rule()


def lock_waiting_notice(holder: str) -> None:
    err_console.print(
        f"waiting for another avops process (pid {holder}) to finish with this project..."
    )


def run_locked_and_report(
    project: str,
    wait_lock: float,
    json_output: bool,
    verbose: bool,
    operation: Callable[[RichReporter], object],
) -> None:
    """Run ``operation(reporter)`` under the project lock, show its StatusReport, exit 0 if healthy.

    Progress goes to stderr in --json mode so stdout stays one JSON document.
    """
    reporter = RichReporter(err_console if json_output else console, verbose=verbose)
    try:
        with project_lock(project, wait_lock, lock_waiting_notice):
            report = operation(reporter)
    except AvopsError as exc:
        reporter.close()
        print_failure_details(exc)
        raise
    finally:
        reporter.close()
    emit_report(report, json_output, render_status)
