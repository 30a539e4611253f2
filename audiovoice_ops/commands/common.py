"""What every command shares: the global options, building the Project (stack, Docker client,
inventory, .env facts), output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from audiovoice_ops.core.settings import AvopsSettings, load_settings, process_environment

if TYPE_CHECKING:
    from audiovoice_ops.core.project import Project
    from audiovoice_ops.core.stack import Stack

console = Console()
err_console = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


@dataclass
class GlobalOptions:
    """Options given before the command (``avops -f other.yml status``); None means "not given"."""

    compose_file: Path | None = None
    env_file: Path | None = None
    project_name: str | None = None

    def settings(self, **command_overrides: object) -> AvopsSettings:
        return load_settings(
            compose_file=self.compose_file,
            env_file=self.env_file,
            project_name=self.project_name,
            **command_overrides,
        )


def global_options(ctx: typer.Context) -> GlobalOptions:
    return ctx.find_root().obj or GlobalOptions()


def load_stack_from(settings: AvopsSettings, require_env_file: bool = False) -> Stack:
    from audiovoice_ops.core.stack import load_stack

    return load_stack(
        settings.compose_file,
        settings.env_file,
        process_environment(),
        project_name=settings.project_name,
        require_env_file=require_env_file,
    )


def open_project(
    settings: AvopsSettings, require_env_file: bool = False, worker: str | None = None
) -> Project:
    """The command's one Project: the stack loaded now; the Docker client and the inventory on
    first use. ``worker`` names the worker service (--service); unknown names fail here."""
    from audiovoice_ops.core.project import Project

    return Project(
        load_stack_from(settings, require_env_file=require_env_file),
        docker_host=settings.docker_host,
        environ=process_environment(),
        worker=worker,
        nvml_snapshot=settings.nvml_snapshot,
    )


def emit_report(report: Any, json_output: bool, render: Callable[[Any], None]) -> NoReturn:
    """Print a checked report (``--json`` or rendered) and exit 0 when ``report.ok``, else 1."""
    from audiovoice_ops.core.errors import ExitCode

    if json_output:
        print_json(report.to_dict())
    else:
        render(report)
    raise typer.Exit(ExitCode.OK if report.ok else ExitCode.CHECK_FAILED)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def format_duration(seconds: float | None) -> str:
    """``93784`` -> ``1d2h``: the two largest units, like ``docker ps``'s "Up" column."""
    if seconds is None:
        return "-"
    remaining = int(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if remaining >= size or (unit == "s" and not parts):
            parts.append(f"{remaining // size}{unit}")
            remaining %= size
        if len(parts) == 2:
            break
    return "".join(parts)


def report_error(message: str, hint: str | None) -> None:
    """The one-line error (and its fix) every failure ends with, on stderr."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    if hint:
        err_console.print(f"[dim]hint:[/] {hint}", highlight=False, soft_wrap=True)
