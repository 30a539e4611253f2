"""The ``avops`` Typer app. Each command lives in its own module under ``audiovoice_ops.commands``;
this file only wires them and turns typed errors into one line and an exit code. The console
script enters through ``audiovoice_ops.cli``, which imports this module under a Ctrl-C guard.

Importing this module must stay cheap: no Docker SDK, no NVML, never torch (a test checks).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from audiovoice_ops import __version__
from audiovoice_ops.commands import check_gpu as check_gpu_cmd
from audiovoice_ops.commands import doctor as doctor_cmd
from audiovoice_ops.commands import cleanup as cleanup_cmd
from audiovoice_ops.commands import env as env_cmd
from audiovoice_ops.commands import logs as logs_cmd
from audiovoice_ops.commands import rebuild as rebuild_cmd
from audiovoice_ops.commands import restart as restart_cmd
from audiovoice_ops.commands import status as status_cmd
from audiovoice_ops.commands import vram as vram_cmd
from audiovoice_ops.commands.common import GlobalOptions, print_json, report_error
from audiovoice_ops.core.errors import AvopsError, ExitCode

app = typer.Typer(
    name="avops",
    help="Operate the audio-voice TTS stack: containers, environment, GPU and VRAM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"avops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Compose file (default docker/compose.yml; env AVOPS_COMPOSE_FILE).")] = None,
    env_file: Annotated[Path | None, typer.Option("--env-file", help="The stack's .env file (default .env; env AVOPS_ENV_FILE).")] = None,
    project_name: Annotated[str | None, typer.Option("--project-name", "-p", help="Project name (default: the compose file's name:; env AVOPS_PROJECT_NAME).")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    ctx.obj = GlobalOptions(compose_file=file, env_file=env_file, project_name=project_name)


app.command("status")(status_cmd.status)
app.command("env")(env_cmd.env)
app.command("cleanup")(cleanup_cmd.cleanup)
app.command("rebuild")(rebuild_cmd.rebuild)
app.command("restart")(restart_cmd.restart)
app.command("logs")(logs_cmd.logs)
app.command("check-gpu")(check_gpu_cmd.check_gpu)
app.command("vram")(vram_cmd.vram)
app.command("doctor")(doctor_cmd.doctor)


def run() -> None:
    try:
        app()
    except AvopsError as exc:
        sys.exit(fail(exc.message, exc.hint, exc.exit_code))
    except KeyboardInterrupt:
        sys.exit(fail("interrupted", None, ExitCode.INTERRUPTED))
    except Exception as exc:  # Docker SDK and pydantic errors that escaped a command
        if _is_expected(exc):
            sys.exit(fail(_one_line(exc), None, ExitCode.OPERATION_FAILED))
        raise


def fail(message: str, hint: str | None, code: int) -> int:
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
