"""``avops doctor``: the final validation checklist as one command (rich table, or ``--json`` for CI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from audiovoice_ops.commands.common import (
    JsonOption,
    console,
    emit_report,
    global_options,
    open_project,
)

if TYPE_CHECKING:
    from audiovoice_ops.core.doctor.report import DoctorReport

STATUS_STYLE = {
    "pass": "[green]pass[/]",
    "warn": "[yellow]warn[/]",
    "fail": "[bold red]fail[/]",
    "skipped": "[dim]skipped[/]",
}


def doctor(
    ctx: typer.Context,
    service: Annotated[
        str | None,
        typer.Option(
            "--service",
            "-s",
            help="Worker service (default: celery, worker, or the service reserving a GPU).",
        ),
    ] = None,
    max_age: Annotated[
        float,
        typer.Option(
            "--max-age", min=0, help="Seconds after which /admin/vram stats count as stale."
        ),
    ] = 30.0,
    no_api: Annotated[
        bool, typer.Option("--no-api", help="Skip the API checks (/health, /admin/vram).")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Run the final validation checklist; exit 1 if any check fails.

    Containers, LOW_VRAM, F5-TTS on CUDA, Dockerfile base image, healthchecks, GPU reservation,
    /admin/vram, security (API open without a key, .env world-readable, public port, root
    containers, voices without an owning key). Each check: pass, warn, fail or skipped, with a
    one-line fix.

    Exit 0 when no check fails, 1 when any fails (warnings do not fail).
    """
    from audiovoice_ops.core.apiclient import ApiClient
    from audiovoice_ops.core.doctor import gather, run_doctor
    from audiovoice_ops.gpu.source import GpuSource

    settings = global_options(ctx).settings()
    project = open_project(settings, worker=service)
    with GpuSource(settings.nvml_snapshot) as source:
        gpu = source.read()
    api = None if no_api else ApiClient.from_settings(settings)
    try:
        report = run_doctor(gather(project, settings, api, gpu), max_age_s=max_age)
    finally:
        if api is not None:
            api.close()
    emit_report(report, json_output, render)


def render(report: DoctorReport) -> None:
    table = Table(title=f"avops doctor: project {report.project}", title_justify="left")
    for column in ("group", "check", "status", "reason", "fix"):
        table.add_column(column, overflow="fold")
    for check in report.checks:
        table.add_row(
            check.group,
            check.title,
            STATUS_STYLE.get(check.status, check.status),
            check.reason,
            check.fix or "",
        )
    console.print(table)
    counts = report.counts()
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    mark = "[green]✓[/]" if report.ok else "[red]✗[/]"
    console.print(f"{mark} {summary}", highlight=False)
