"""``avops cleanup``: remove the project's containers, networks and built images, by label only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from audiovoice_ops.commands.common import (
    JsonOption,
    console,
    global_options,
    open_project,
    print_json,
    report_error,
)
from audiovoice_ops.commands.lifecycle import WaitLockOption, lock_waiting_notice
from audiovoice_ops.core.errors import ExitCode

if TYPE_CHECKING:
    from audiovoice_ops.core.cleanup import CleanupPlan

OUTCOME_STYLE = {
    "removed": "green",
    "kept": "yellow",
    "refused": "red",
    "failed": "red",
    "planned": "cyan",
}


def cleanup(
    ctx: typer.Context,
    volumes: Annotated[
        bool,
        typer.Option("--volumes", help="Also remove the project's named volumes (users' data!)."),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before removing volumes.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan; change nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Go ahead even if foreign containers squat the project's names (they are never touched).",
        ),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            "-t",
            help="Seconds to wait for each container to stop (default: its stop_grace_period, else 10).",
        ),
    ] = None,
    wait_lock: WaitLockOption = 0.0,
    json_output: JsonOption = False,
) -> None:
    """Remove the project's containers, networks and built images, selected by label only.

    Service containers, orphans and one-offs are stopped in parallel. Named volumes (users' data)
    are kept unless --volumes. Foreign containers are never touched.
    """
    from audiovoice_ops.core.cleanup import cleanup_plan, run_cleanup
    from audiovoice_ops.core.errors import Refused
    from audiovoice_ops.core.lock import project_lock

    project = open_project(global_options(ctx).settings()).connect()
    with project_lock(project.name, wait_lock, lock_waiting_notice):
        plan = cleanup_plan(project, remove_volumes=volumes, force=force)
        if dry_run:
            _finish(plan, json_output, dry_run=True)
        if volumes and not yes and plan.volumes_to_remove:
            _confirm_volumes(plan, json_output)
        try:
            run_cleanup(project, plan, timeout=timeout)
        except Refused as exc:
            # Show the plan with the refusal (one JSON document in --json mode), then the error.
            _show(plan, json_output, dry_run=False, error=exc.message)
            report_error(exc.message, exc.hint)
            raise typer.Exit(ExitCode.REFUSED) from None
    _finish(plan, json_output, dry_run=False)


def _confirm_volumes(plan: CleanupPlan, json_output: bool) -> None:
    names = ", ".join(plan.volumes_to_remove)
    if json_output or not console.is_terminal:
        from audiovoice_ops.core.errors import ConfigError

        raise ConfigError(
            f"--volumes would delete data volumes ({names}) and there is no terminal to confirm",
            hint="add --yes to confirm",
        )
    if not typer.confirm(
        f"Delete the data volumes {names}? Cloned voices and outputs in them are lost",
        default=False,
    ):
        plan.keep_volumes("not confirmed")


def _finish(plan: CleanupPlan, json_output: bool, dry_run: bool) -> None:
    _show(plan, json_output, dry_run)
    failed = any(a.outcome == "failed" for a in plan.actions)
    raise typer.Exit(ExitCode.OPERATION_FAILED if failed else ExitCode.OK)


def _show(plan: CleanupPlan, json_output: bool, dry_run: bool, error: str | None = None) -> None:
    if json_output:
        print_json({**plan.to_dict(), "dry_run": dry_run, "error": error})
    else:
        render(plan, dry_run)


def render(plan: CleanupPlan, dry_run: bool) -> None:
    title = (
        f"cleanup plan for {plan.project} (dry run: nothing changed)"
        if dry_run
        else f"cleanup of {plan.project}"
    )
    if not plan.actions:
        console.print(f"{title}: nothing to remove")
        return
    table = Table(title=title, title_justify="left")
    for column in ("kind", "name", "result", "detail"):
        table.add_column(column)
    for a in plan.actions:
        outcome = "would remove" if dry_run and a.outcome == "planned" else a.outcome
        table.add_row(
            a.kind, a.name, f"[{OUTCOME_STYLE.get(a.outcome, 'white')}]{outcome}[/]", a.detail
        )
    console.print(table)
