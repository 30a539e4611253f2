"""``avops cleanup``: remove the project's containers, networks and built images, by label only."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from audiovoice_ops.commands.common import (
    JsonOption, console, docker_client, global_options, load_stack_from, print_json, report_error,
)
from audiovoice_ops.commands.lifecycle import WaitLockOption, lock_waiting_notice
from audiovoice_ops.core.errors import ExitCode

OUTCOME_STYLE = {"removed": "green", "kept": "yellow", "refused": "red", "failed": "red", "planned": "cyan"}


def cleanup(
    ctx: typer.Context,
    volumes: Annotated[bool, typer.Option("--volumes", help="Also remove the project's named volumes (users' data!).")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before removing volumes.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan; change nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Go ahead even if foreign containers squat the project's names (they are never touched).")] = False,
    timeout: Annotated[float | None, typer.Option("--timeout", "-t", help="Seconds to wait for each container to stop (default: its stop_grace_period, else 10).")] = None,
    wait_lock: WaitLockOption = 0.0,
    json_output: JsonOption = False,
) -> None:
    """Remove the project's containers, networks and built images, selected by label only.

    Service containers, orphans and one-offs are stopped in parallel. Named volumes (users' data)
    are kept unless --volumes. Foreign containers are never touched.
    """
    from audiovoice_ops.core.cleanup import execute_cleanup, plan_cleanup
    from audiovoice_ops.core.errors import Refused
    from audiovoice_ops.core.lock import project_lock

    settings = global_options(ctx).settings()
    stack = load_stack_from(settings)
    client = docker_client(settings)
    with project_lock(stack.project, wait_lock, lock_waiting_notice):
        plan = plan_cleanup(client, stack, remove_volumes=volumes)
        if plan.squatters and not force:
            for s in plan.squatters:
                _mark_refused(plan, s)
        if dry_run:
            _finish(plan, json_output, dry_run=True)
        if volumes and not yes and any(a.outcome == "planned" for a in plan.volumes):
            _confirm_volumes(plan, json_output)
        try:
            execute_cleanup(client, stack, plan, timeout=timeout, force=force)
        except Refused as exc:
            # Show the plan with the refusal (one JSON document in --json mode), then the error.
            _show(plan, json_output, dry_run=False, error=exc.message)
            report_error(exc.message, exc.hint)
            raise typer.Exit(ExitCode.REFUSED) from None
    _finish(plan, json_output, dry_run=False)


def _mark_refused(plan, squatter) -> None:
    from audiovoice_ops.core.cleanup import Action

    plan.volumes.append(Action("container", squatter.name, squatter.id, outcome="refused",
                               detail=f"foreign container: {squatter.reason}"))


def _confirm_volumes(plan, json_output: bool) -> None:
    names = ", ".join(a.name for a in plan.volumes if a.outcome == "planned")
    if json_output or not console.is_terminal:
        from audiovoice_ops.core.errors import ConfigError

        raise ConfigError(f"--volumes would delete data volumes ({names}) and there is no terminal to confirm",
                          hint="add --yes to confirm")
    if not typer.confirm(f"Delete the data volumes {names}? Cloned voices and outputs in them are lost", default=False):
        for action in plan.volumes:
            if action.outcome == "planned":
                action.outcome, action.detail = "kept", "not confirmed"


def _finish(plan, json_output: bool, dry_run: bool) -> None:
    _show(plan, json_output, dry_run)
    failed = any(a.outcome == "failed" for a in plan.actions)
    raise typer.Exit(ExitCode.OPERATION_FAILED if failed else ExitCode.OK)


def _show(plan, json_output: bool, dry_run: bool, error: str | None = None) -> None:
    if json_output:
        print_json({**plan.to_dict(), "dry_run": dry_run, "error": error})
    else:
        render(plan, dry_run)


def render(plan, dry_run: bool) -> None:
    title = f"cleanup plan for {plan.project} (dry run: nothing changed)" if dry_run else f"cleanup of {plan.project}"
    if not plan.actions:
        console.print(f"{title}: nothing to remove")
        return
    table = Table(title=title, title_justify="left")
    for column in ("kind", "name", "result", "detail"):
        table.add_column(column)
    for a in plan.actions:
        outcome = "would remove" if dry_run and a.outcome == "planned" else a.outcome
        table.add_row(a.kind, a.name, f"[{OUTCOME_STYLE.get(a.outcome, 'white')}]{outcome}[/]", a.detail)
    console.print(table)
