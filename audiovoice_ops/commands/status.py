"""``avops status``: one row per container, and the invariants (one per service, no orphans, no squatters)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from audiovoice_ops.commands.common import (
    JsonOption,
    console,
    emit_report,
    format_duration,
    global_options,
    open_project,
)

if TYPE_CHECKING:
    from audiovoice_ops.core.status import StatusReport

HEALTH_STYLE = {"healthy": "green", "starting": "yellow", "unhealthy": "red"}


def status(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show each service's container, state, health, image, uptime and GPU; check the invariants.

    Exit 1 when an invariant fails: a missing or duplicate container, an orphan, a squatter, or a
    container that is not running or unhealthy.
    """
    from audiovoice_ops.core.status import project_status

    report = project_status(open_project(global_options(ctx).settings()))
    emit_report(report, json_output, render)


def render(report: StatusReport) -> None:
    table = Table(title=f"project {report.project}", title_justify="left")
    for column in ("service", "container", "state", "health", "image", "uptime", "gpu"):
        table.add_column(column)
    for row in report.rows:
        health = row.health or "-"
        if row.health_output:
            health += f"\n[dim]{row.health_output.splitlines()[-1][:80]}[/]"
        table.add_row(
            row.service,
            row.container,
            f"[{'green' if row.state == 'running' else 'red'}]{row.state}[/]",
            f"[{HEALTH_STYLE.get(row.health or '', 'white')}]{health}[/]",
            row.image,
            format_duration(row.uptime_seconds),
            gpu_cell(row.gpu, row.gpu_requested),
        )
    for problem in report.problems:
        if problem.kind == "missing":
            table.add_row(problem.subject, "-", "[red]missing[/]", "-", "-", "-", "-")
    console.print(table)
    for problem in report.problems:
        console.print(f"[red]✗[/] {problem.message}")
    if report.ok:
        console.print("[green]✓[/] one container per service, no orphans, no squatters")


def gpu_cell(granted: bool, requested: bool) -> str:
    if granted:
        return "[green]yes[/]"
    return "[yellow]no (CPU fallback)[/]" if requested else "no"
