"""``avops status``: one row per container, and the invariants (one per service or replica, no
orphans, no squatters). A worker replicated per GPU shows as ``celery:1``, ``celery:2`` with its GPU."""

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
    from audiovoice_ops.core.status import ContainerRow, StatusReport

HEALTH_STYLE = {"healthy": "green", "starting": "yellow", "unhealthy": "red"}


def status(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Show each service's container, state, health, image, uptime and GPU; check the invariants.

    A worker with one container per GPU shows each replica (celery:1, celery:2) and its GPU.
    Exit 1 when an invariant fails: a missing, duplicate or surplus container (one per service,
    or per replica of a worker pinned to each GPU), an orphan, a squatter, or a container that is
    not running or unhealthy.
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
            service_cell(row),
            row.container,
            f"[{'green' if row.state == 'running' else 'red'}]{row.state}[/]",
            f"[{HEALTH_STYLE.get(row.health or '', 'white')}]{health}[/]",
            row.image,
            format_duration(row.uptime_seconds),
            gpu_cell(row),
        )
    for problem in report.problems:
        if problem.kind == "missing":
            table.add_row(problem.subject, "-", "[red]missing[/]", "-", "-", "-", "-")
    console.print(table)
    for problem in report.problems:
        console.print(f"[red]✗[/] {problem.message}")
    if report.ok:
        console.print(
            "[green]✓[/] one container per service (and replica), no orphans, no squatters"
        )
    if report.worker_hosts:
        from audiovoice_ops.commands.worker import hosts_table

        console.print(hosts_table("workers on other hosts (avops worker add)", report.worker_hosts))


def service_cell(row: ContainerRow) -> str:
    """``celery:2`` for a replica avops placed (or any second container), else the service."""
    replicated = row.planned_gpu is not None or row.replica != 1
    return f"{row.service}:{row.replica}" if replicated else row.service


def gpu_cell(row: ContainerRow) -> str:
    if row.gpu_devices:
        return (
            "[green]" + ", ".join(d if d == "all" else f"GPU {d}" for d in row.gpu_devices) + "[/]"
        )
    if row.gpu:
        return "[green]yes[/]"
    if row.planned_gpu == "none":
        return "no (CPU worker)"
    if row.planned_gpu is not None:
        return f"[yellow]no (GPU {row.planned_gpu} planned; CPU)[/]"
    return "[yellow]no (CPU fallback)[/]" if row.gpu_requested else "no"
