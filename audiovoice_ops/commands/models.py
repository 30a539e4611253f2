"""``avops models [ps | load ENGINE | unload ENGINE]``: what each worker holds, and warming or
unloading a model, through the API's ``/admin/models`` (the admin key, as ``avops vram``).
Rendering only; the data comes from ``core.apiclient`` as ``engines.contracts`` models.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any

import typer
from rich.table import Table

from audiovoice_ops.commands.common import JsonOption, console, global_options, print_json
from audiovoice_ops.commands.vram import keep_alive_text
from audiovoice_ops.core.errors import ExitCode

STATE_STYLE = {"gpu": "green", "cpu": "cyan", "parked": "yellow", "free": "dim"}


class Action(str, Enum):
    ps = "ps"
    load = "load"
    unload = "unload"


def models(
    ctx: typer.Context,
    action: Annotated[Action, typer.Argument(help="ps (list), load or unload.")] = Action.ps,
    engine: Annotated[
        str | None, typer.Argument(help="The engine to load or unload (f5tts, xtts).")
    ] = None,
    keep_alive: Annotated[
        float | None,
        typer.Option(
            "--keep-alive",
            help="load: seconds it stays after loading (-1 forever; capped at "
            "MODEL_KEEP_ALIVE_MAX). Default MODEL_KEEP_ALIVE.",
        ),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            min=1,
            max=600,
            help="Seconds to wait for the workers (a busy one answers after its job).",
        ),
    ] = 120.0,
    json_output: JsonOption = False,
) -> None:
    """Show each worker's models (state, device, size, last use, keep-alive expiry); load or unload one.

    ps lists every worker that published its state recently. load warms ENGINE on every worker;
    unload takes it off the GPU now (parked in host RAM or freed, by VRAM_OFFLOAD).

    Exit 0; 5 when the API cannot be reached, no worker answers, or a worker's command failed.
    """
    from audiovoice_ops.core.apiclient import ApiClient

    if action is Action.ps and engine is not None:
        raise typer.BadParameter("ps takes no engine", param_hint="ENGINE")
    if action is not Action.ps:
        engine = _engine_name(engine)
    if keep_alive is not None and (action is not Action.load or not _valid_keep_alive(keep_alive)):
        raise typer.BadParameter(
            "only with load, and -1 (forever), 0 or a number of seconds", param_hint="--keep-alive"
        )
    settings = global_options(ctx).settings()
    with ApiClient.from_settings(settings) as api:
        if action is Action.ps:
            result = api.models()
        else:
            assert engine is not None
            result = api.model_command(action.value, engine, wait, keep_alive)
    if not result.ok:
        _fail(result, json_output)
    if action is Action.ps:
        _show_workers(result.parsed, json_output)
        raise typer.Exit(ExitCode.OK)
    _show_command(result.parsed, json_output)
    ok = all(r.ok for r in result.parsed.results)
    raise typer.Exit(ExitCode.OK if ok else ExitCode.OPERATION_FAILED)


def _engine_name(engine: str | None) -> str:
    from engines.registry import ENGINE_NAMES, find_spec

    spec = find_spec(engine) if engine else None
    if spec is None:
        raise typer.BadParameter(
            f"{'missing' if not engine else repr(engine) + ' is not an engine'}; "
            f"engines: {', '.join(ENGINE_NAMES)}",
            param_hint="ENGINE",
        )
    return spec.name


def _valid_keep_alive(value: float) -> bool:
    from engines.settings import check_keep_alive

    try:
        check_keep_alive(value)
    except ValueError:
        return False
    return True


def _fail(result: Any, json_output: bool) -> None:
    from audiovoice_ops.commands.common import report_error

    if json_output:
        print_json({"error": result.error, "api": result.to_dict()})
    else:
        report_error(result.error or "the API did not answer", None)
    raise typer.Exit(ExitCode.OPERATION_FAILED)


def _show_workers(answer: Any, json_output: bool) -> None:
    if json_output:
        print_json(answer.model_dump())
        return
    if not answer.workers:
        console.print("[yellow]no worker has published its state recently[/]")
        return
    table = Table(title="models", title_justify="left")
    for column in (
        "WORKER",
        "ENGINE",
        "STATE",
        "DEVICE",
        "SIZE",
        "LAST USED",
        "KEEP-ALIVE",
        "LEAVES",
    ):
        table.add_column(column)
    for worker in answer.workers:
        for model in worker.models:
            style = STATE_STYLE.get(model.state, "")
            table.add_row(
                worker.worker,
                model.engine,
                f"[{style}]{model.state}[/]"
                + (f" (in use x{model.in_use})" if model.in_use else ""),
                model.device or "-",
                "-" if model.size_mb is None else f"{model.size_mb:,.1f} MiB",
                _ago(model.last_used),
                keep_alive_text(
                    model.keep_alive_s if model.state != "free" else worker.keep_alive_s
                ),
                _in(model.expires_at),
            )
    console.print(table)


def _show_command(answer: Any, json_output: bool) -> None:
    if json_output:
        print_json(answer.model_dump())
        return
    for r in answer.results:
        if r.ok:
            console.print(
                f"[green]ok[/] {r.worker}: {answer.engine} {r.state or '?'} ({r.seconds or 0:.2f} s)"
            )
        else:
            console.print(f"[red]failed[/] {r.worker}: {answer.engine}: {r.error}")


def _ago(iso: str | None) -> str:
    if iso is None:
        return "-"
    seconds = (datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds()
    return f"{max(0.0, seconds):.0f}s ago"


def _in(iso: str | None) -> str:
    if iso is None:
        return "-"
    seconds = (datetime.fromisoformat(iso) - datetime.now(timezone.utc)).total_seconds()
    return f"in {max(0.0, seconds):.0f}s"
