"""``avops check-gpu``: host driver and GPUs, the engine's GPU pass-through, CUDA inside the worker."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from audiovoice_ops.commands.common import JsonOption, console, global_options, load_stack_from, print_json

STATUS_STYLE = {"pass": "[green]pass[/]", "warn": "[yellow]warn[/]", "fail": "[red]fail[/]",
                "skipped": "[dim]skipped[/]"}


def check_gpu(
    ctx: typer.Context,
    service: Annotated[str | None, typer.Option("--service", "-s", help="Worker service to look into (default: celery, worker, or the service reserving a GPU).")] = None,
    no_engine_probe: Annotated[bool, typer.Option("--no-engine-probe", help="Do not start the throw-away GPU probe container.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Can the GPU be used? Checks the host, the Docker Engine and the worker container.

    Host: NVML, GPUs, memory, compute capability; LOW_VRAM in .env compared with the GPU's size.
    Engine: GPU pass-through. Container: torch.cuda inside the worker.

    Exit 0 usable; 10 no NVIDIA driver; 11 the engine cannot pass GPUs; 12 the container cannot see the GPU.
    """
    from audiovoice_ops.core.errors import ConfigError
    from audiovoice_ops.gpu.check import run_check
    from audiovoice_ops.gpu.source import GpuSource, optional_docker

    settings = global_options(ctx).settings()
    try:
        stack = load_stack_from(settings)
    except ConfigError:
        if service:
            raise
        stack = None  # host and engine checks need no compose file
    client = optional_docker(settings)
    with GpuSource(settings.nvml_snapshot, client) as source:
        snapshot = source.read()
    report = run_check(snapshot, client, stack, service, env_low_vram(settings, stack),
                       probe_engine=not no_engine_probe)
    if json_output:
        print_json(report.to_dict())
    else:
        render(report)
    raise typer.Exit(report.exit_code)


def env_low_vram(settings, stack) -> str | None:
    """LOW_VRAM as the stack's ``.env`` file sets it (None: not set, or no .env)."""
    from audiovoice_ops.core.envfile import read_env_file
    from audiovoice_ops.core.errors import ConfigError

    path = stack.env_file if stack is not None else settings.env_file
    if not path.is_file():
        return None
    try:
        return read_env_file(path).get("LOW_VRAM")
    except ConfigError:
        return None


def render(report) -> None:
    table = Table(title="GPU check", title_justify="left", show_lines=True)
    for column in ("layer", "status", "finding", "fix"):
        table.add_column(column, overflow="fold")
    for layer in (report.host, report.recommendation, report.engine, report.container):
        table.add_row(layer.name, STATUS_STYLE.get(layer.status, layer.status), layer.message, layer.fix or "")
    console.print(table)
    if report.snapshot is not None and report.snapshot.gpus:
        from audiovoice_ops.commands.vram import gpu_table

        console.print(gpu_table(report.snapshot))
    code = int(report.exit_code)
    if code == 0:
        console.print("[green]✓[/] GPU usable")
    else:
        failed = next(l for l in (report.host, report.engine, report.container) if l.status == "fail")
        console.print(f"[red]✗[/] {failed.name}: {failed.message} (exit {code})", highlight=False)
