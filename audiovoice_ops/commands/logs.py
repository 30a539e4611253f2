"""``avops logs``: one or all services' logs, each line prefixed with its container."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from audiovoice_ops.commands.common import console, global_options, open_project

COLORS = ("cyan", "magenta", "green", "yellow", "blue", "red")


def logs(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(help="Services (default: all).")] = None,
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
    """Show logs of one or all services; lines of several containers are merged in time order."""
    from audiovoice_ops.core.logs import follow_lines, recent_lines

    project = open_project(global_options(ctx).settings())
    for name in services or []:
        project.stack.service(name)
    client = project.client
    views = [
        v
        for name, group in project.inventory.services.items()
        if not services or name in services
        for v in group
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
