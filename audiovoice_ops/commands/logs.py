"""``avops logs``: one or all services' logs, each line prefixed with its container."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from audiovoice_ops.commands.common import console, global_options, open_project

COLORS = ("cyan", "magenta", "green", "yellow", "blue", "red")


def logs(
    ctx: typer.Context,
    services: Annotated[
        list[str] | None,
        typer.Argument(help="Services (default: all); SERVICE:N shows replica N only."),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep streaming new lines (Ctrl-C stops).")
    ] = False,
    tail: Annotated[
        int | None,
        typer.Option(
            "--tail", "-n", help="Lines from the end of each container's log (default: all)."
        ),
    ] = None,
    timestamps: Annotated[
        bool, typer.Option("--timestamps", help="Show Docker's timestamps.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON object per line: container, line.")
    ] = False,
) -> None:
    """Show logs of one or all services; lines of several containers are merged in time order.

    A worker with one container per GPU: SERVICE merges every replica, SERVICE:N shows one.
    """
    from audiovoice_ops.core.logs import follow_lines, recent_lines
    from audiovoice_ops.core.replicas import parse_targets

    project = open_project(global_options(ctx).settings())
    chosen = parse_targets(services, project)
    client = project.client
    views = [
        v
        for name, group in project.inventory.services.items()
        if not chosen or name in chosen
        for v in group
        if chosen.get(name) is None or v.number in (chosen[name] or ())
    ]
    if not views:
        console.print("no containers: nothing to show (start the stack with avops rebuild)")
        return
    width = max(len(v.name) for v in views)
    colors = {v.name: COLORS[i % len(COLORS)] for i, v in enumerate(views)}
    lines = (
        follow_lines(client, views, tail, timestamps)
        if follow
        else recent_lines(client, views, tail, timestamps)
    )
    try:
        for name, text in lines:
            if json_output:
                _json_line(name, text)
            else:
                console.print(
                    Text(f"{name:<{width}} | ", style=colors[name]) + Text(text), soft_wrap=True
                )
    except KeyboardInterrupt:
        pass  # Ctrl-C ends a follow: a normal way out, exit 0


def _json_line(name: str, text: str) -> None:
    import json
    import sys

    sys.stdout.write(json.dumps({"container": name, "line": text}) + "\n")
    sys.stdout.flush()
