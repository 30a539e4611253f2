"""``avops env``: each service's effective environment, and its drift from the running container."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from audiovoice_ops.commands.common import (
    JsonOption,
    console,
    global_options,
    open_project,
    print_json,
)
from audiovoice_ops.core.errors import ExitCode


def env(
    ctx: typer.Context,
    services: Annotated[
        list[str] | None,
        typer.Argument(help="Services to show (default: all); SERVICE:N shows replica N only."),
    ] = None,
    show_secrets: Annotated[
        bool,
        typer.Option(
            "--show-secrets", help="Do not mask *PASSWORD*, *TOKEN*, *SECRET*, *KEY* values."
        ),
    ] = False,
    no_docker: Annotated[
        bool,
        typer.Option(
            "--no-docker", help="Only compute the environment from the files; skip the drift check."
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show each service's effective environment and its drift from the running container.

    The environment comes from the compose file and .env with Compose's rules; each replica of a
    worker per GPU is compared on its own. Exit 1 on drift; the fix is `avops restart SERVICE`
    (or SERVICE:N), which recreates the container.
    """
    from audiovoice_ops.core.drift import build_env_report
    from audiovoice_ops.core.replicas import parse_targets

    project = open_project(global_options(ctx).settings())
    chosen = parse_targets(services, project)  # unknown service or replica: clear error
    report = build_env_report(project, list(chosen) or None, with_docker=not no_docker)
    report.services = [
        s
        for s in report.services
        if s.number is None
        or chosen.get(s.service) is None
        or s.number in (chosen[s.service] or ())
    ]
    data = report.to_dict(show_secrets)
    if json_output:
        print_json(data)
    else:
        render(data, with_drift=not no_docker)
    raise typer.Exit(ExitCode.CHECK_FAILED if report.drifted else ExitCode.OK)


def render(data: dict[str, Any], with_drift: bool) -> None:
    for service in data["services"]:
        title = f"{service['service']}" + (
            f" ({service['container']})" if service["container"] else ""
        )
        table = Table(title=title, title_justify="left", show_edge=False)
        table.add_column("variable")
        table.add_column("value")
        for key, value in sorted(service["environment"].items()):
            table.add_row(key, value)
        console.print(table)
        if with_drift and service["container"] is None:
            console.print(
                f"  [yellow]no container[/]: nothing to compare (start it with avops rebuild --service {service['service']})"
            )
        if service["drift"]:
            render_drift(service)
    if not with_drift:
        return
    if any(s["drift"] for s in data["services"]):
        console.print(
            "[red]✗[/] environment drift: the containers run with an outdated environment"
        )
    else:
        console.print("[green]✓[/] no drift: running containers match the compose file and .env")


def render_drift(service: dict[str, Any]) -> None:
    table = Table(title=f"[red]drift in {service['container']}[/]", title_justify="left")
    for column in ("variable", "file says", "container has"):
        table.add_column(column)
    for d in service["drift"]:
        table.add_row(
            d["key"],
            d["expected"] if d["expected"] is not None else "[dim](unset)[/]",
            d["actual"] if d["actual"] is not None else "[dim](unset)[/]",
        )
    console.print(table)
    console.print(
        f"  fix: [bold]{service['fix']}[/] (recreates the container; `docker restart` would not re-read env_file)"
    )
