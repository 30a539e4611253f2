"""``avops check-gpu``: host driver and GPUs, the engine's GPU pass-through, CUDA inside the worker."""

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
)

if TYPE_CHECKING:
    from audiovoice_ops.gpu.check import GpuCheckReport

STATUS_STYLE = {
    "pass": "[green]pass[/]",
    "warn": "[yellow]warn[/]",
    "fail": "[red]fail[/]",
    "skipped": "[dim]skipped[/]",
}


def check_gpu(
    ctx: typer.Context,
    service: Annotated[
        str | None,
        typer.Option(
            "--service",
            "-s",
            help="Worker service to look into (default: celery, worker, or the service reserving a GPU).",
        ),
    ] = None,
    no_engine_probe: Annotated[
        bool,
        typer.Option("--no-engine-probe", help="Do not start the throw-away GPU probe container."),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Can the GPU be used? Checks the host, the Docker Engine and the worker container.

    Host: NVML, GPUs, memory, compute capability; LOW_VRAM in .env compared with the GPU's size.
    Engine: GPU pass-through. Container: torch.cuda inside the worker. Arch: the GPUs' compute
    capability against the architectures the worker's torch was built for (and the image variant
    that fixes a mismatch).

    Exit 0 usable; 10 no NVIDIA driver; 11 the engine cannot pass GPUs; 12 the container cannot
    see the GPU or its torch has no kernels for it.
    """
    from audiovoice_ops.core.envfacts import EnvFacts
    from audiovoice_ops.core.errors import ConfigError
    from audiovoice_ops.core.settings import process_environment
    from audiovoice_ops.gpu.check import run_check
    from audiovoice_ops.gpu.source import GpuSource, optional_docker

    settings = global_options(ctx).settings()
    try:
        project = open_project(settings, worker=service)
    except ConfigError:
        if service:
            raise
        project = None  # host and engine checks need no compose file
    if project is not None:
        client, env = project.client_or_none(), project.env
    else:
        client, env = (
            optional_docker(settings),
            EnvFacts.read(settings.env_file, process_environment()),
        )
    with GpuSource(settings.nvml_snapshot, client) as source:
        snapshot = source.read()
    report = run_check(
        snapshot, client, project, env.low_vram_raw, probe_engine=not no_engine_probe
    )
    if json_output:
        print_json(report.to_dict())
    else:
        render(report)
    raise typer.Exit(report.exit_code)


def render(report: GpuCheckReport) -> None:
    table = Table(title="GPU check", title_justify="left", show_lines=True)
    for column in ("layer", "status", "finding", "fix"):
        table.add_column(column, overflow="fold")
    for layer in report.layers:
        table.add_row(
            layer.name, STATUS_STYLE.get(layer.status, layer.status), layer.message, layer.fix or ""
        )
    console.print(table)
    if report.snapshot is not None and report.snapshot.gpus:
        from audiovoice_ops.commands.vram import gpu_table

        console.print(gpu_table(report.snapshot))
    code = int(report.exit_code)
    if code == 0:
        console.print("[green]✓[/] GPU usable")
    else:
        failed = next(layer for layer, _ in report.failing if layer.status == "fail")
        console.print(f"[red]✗[/] {failed.name}: {failed.message} (exit {code})", highlight=False)
