"""The ``avops`` Typer app. Each command lives in its own module under ``audiovoice_ops.commands``;
this file only wires them and turns typed errors into one line and an exit code. The console
script enters through ``audiovoice_ops.cli``, which imports this module under a Ctrl-C guard.

Start-up is kept short (``avops --help`` / ``--version``, a test lists the modules they load):
a command's module, and with it rich, pydantic-settings, YAML and the Docker SDK, is imported only
when that command runs (``LazyCommands``); the command list in ``--help`` comes from ``COMMANDS``
and is printed in click's plain format, so listing the commands needs neither rich nor any of them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from audiovoice_ops.cli import version_line
from audiovoice_ops.core.errors import AvopsError, ExitCode

if TYPE_CHECKING:
    # Typer vendors click as typer._click: the group hooks below override methods declared with
    # its Context/Command/HelpFormatter (typer.Context is a subclass, too narrow for an override).
    from typer._click import Command, Context, HelpFormatter


@dataclass(frozen=True)
class CommandEntry:
    module: str  # under audiovoice_ops.commands
    function: str
    summary: str  # the line `avops --help` lists; the function's docstring starts with it (a test checks)


# In the order `avops --help` lists them.
COMMANDS: dict[str, CommandEntry] = {
    "status": CommandEntry(
        "status",
        "status",
        "Show each service's container, state, health, image, uptime and GPU; check the invariants.",
    ),
    "env": CommandEntry(
        "env",
        "env",
        "Show each service's effective environment and its drift from the running container.",
    ),
    "cleanup": CommandEntry(
        "cleanup",
        "cleanup",
        "Remove the project's containers, networks and built images, selected by label only.",
    ),
    "rebuild": CommandEntry(
        "rebuild",
        "rebuild",
        "Rebuild the images while the stack serves, then recreate the services in order and wait until healthy.",
    ),
    "restart": CommandEntry(
        "restart",
        "restart",
        "Recreate containers so they pick up the current .env (never `docker restart`).",
    ),
    "logs": CommandEntry(
        "logs",
        "logs",
        "Show logs of one or all services; lines of several containers are merged in time order.",
    ),
    "check-gpu": CommandEntry(
        "check_gpu",
        "check_gpu",
        "Can the GPU be used? Checks the host, the Docker Engine and the worker container.",
    ),
    "vram": CommandEntry(
        "vram", "vram", "Show GPU memory and per-process VRAM, and the worker's VRAM manager state."
    ),
    "models": CommandEntry(
        "models",
        "models",
        "Show each worker's models (state, device, size, last use, keep-alive expiry); load or unload one.",
    ),
    "doctor": CommandEntry(
        "doctor", "doctor", "Run the final validation checklist; exit 1 if any check fails."
    ),
    "worker": CommandEntry(
        "worker",
        "worker",
        "Start, remove or list Celery workers on other hosts' Docker Engines (over ssh).",
    ),
}


class Interrupted(Exception):
    """Ctrl-C, carried past Typer's own KeyboardInterrupt handling to ``run``."""


class LoadedOnUse(dict[str, "Command"]):
    """The group's name -> command table: every name is known, a command is built when first read."""

    def __missing__(self, name: str) -> Command:
        self[name] = load_command(name)
        return self[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in COMMANDS else default

    def keys(self) -> Any:  # every name in COMMANDS, for Typer's "Did you mean ...?" on a typo
        return COMMANDS.keys()


class LazyCommands(TyperGroup):
    """A group that imports a command's module only when the command is looked up to run."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LoadedOnUse()

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    # Typer turns a KeyboardInterrupt into a silent exit 130; avops's Ctrl-C ends with one line
    # (run() below), wherever it lands: parsing, importing the command, or running it.
    def make_context(self, *args: Any, **kwargs: Any) -> Context:
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted from None

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted from None

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, entry.summary) for name, entry in COMMANDS.items()])

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            # Typer's rich help printed itself while the error was built; the plain one is returned.
            typer.echo(ctx.get_help())
            ctx.exit(ExitCode.USAGE)
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        # click's plain layout: Typer's rich panels would load rich (~0.1 s) for this one page.
        # Each command's own --help keeps Typer's rich rendering.
        super(TyperGroup, self).format_help(ctx, formatter)


def load_command(name: str) -> Command:
    from audiovoice_ops.cli import guarded_import

    entry = COMMANDS[name]
    function = getattr(guarded_import(f"audiovoice_ops.commands.{entry.module}"), entry.function)
    single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    single.command(name, short_help=entry.summary)(function)
    return typer.main.get_command(single)


app = typer.Typer(
    name="avops",
    cls=LazyCommands,
    help="Operate the audio-voice TTS stack: containers, environment, GPU and VRAM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            help="Compose file (default docker/compose.yml; env AVOPS_COMPOSE_FILE).",
        ),
    ] = None,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file", help="The stack's .env file (default .env; env AVOPS_ENV_FILE)."
        ),
    ] = None,
    project_name: Annotated[
        str | None,
        typer.Option(
            "--project-name",
            "-p",
            help="Project name (default: the compose file's name:; env AVOPS_PROJECT_NAME).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    from audiovoice_ops.commands.common import GlobalOptions

    ctx.obj = GlobalOptions(compose_file=file, env_file=env_file, project_name=project_name)


def run() -> None:
    try:
        app()
    except AvopsError as exc:
        sys.exit(fail(exc.message, exc.hint, exc.exit_code))
    except (KeyboardInterrupt, Interrupted):
        sys.exit(fail("interrupted", None, ExitCode.INTERRUPTED))
    except Exception as exc:  # Docker SDK and pydantic errors that escaped a command
        if _is_expected(exc):
            sys.exit(fail(_one_line(exc), None, ExitCode.OPERATION_FAILED))
        raise


def fail(message: str, hint: str | None, code: int) -> int:
    from audiovoice_ops.commands.common import print_json, report_error

    report_error(message, hint)
    if "--json" in sys.argv:
        print_json({"error": message, "hint": hint, "exit_code": int(code)})
    return int(code)


def _is_expected(exc: Exception) -> bool:
    module = type(exc).__module__
    return module.startswith(("docker.", "pydantic", "requests.", "urllib3."))


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
