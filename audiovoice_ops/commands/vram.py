"""``avops vram [--watch]``: each GPU's memory and processes (with their containers) from NVML, and
the worker's own view from ``GET /admin/vram``. Rendering only; the data comes from
``audiovoice_ops.gpu`` and ``core.apiclient``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group, JustifyMethod
from rich.table import Table
from rich.text import Text

from audiovoice_ops.commands.common import JsonOption, console, global_options, print_json
from audiovoice_ops.core.errors import ExitCode

if TYPE_CHECKING:
    import docker

    from audiovoice_ops.core.apiclient import ApiClient
    from audiovoice_ops.gpu.source import GpuSource
    from audiovoice_ops.gpu.types import GpuSnapshot

MIN_INTERVAL = 0.25
BAR_WIDTH = 24


def vram(
    ctx: typer.Context,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Refresh until Ctrl-C (exit 0).")
    ] = False,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            "-n",
            min=MIN_INTERVAL,
            help="Seconds between readings with --watch (min 0.25).",
        ),
    ] = 1.0,
    count: Annotated[
        int,
        typer.Option(
            "--count", min=0, help="With --watch: stop after N readings (0: until Ctrl-C)."
        ),
    ] = 0,
    no_api: Annotated[
        bool, typer.Option("--no-api", help="Do not ask the API's /admin/vram.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show GPU memory and per-process VRAM, and the worker's VRAM manager state.

    Per-process rows carry their container names; the worker's view comes from GET /admin/vram.
    --json prints one object; with --watch, one object per line.

    Exit 0; 1 when neither NVML nor the API answers (one-shot only).
    """
    from audiovoice_ops.core.apiclient import ApiClient
    from audiovoice_ops.gpu.source import GpuSource, optional_docker

    settings = global_options(ctx).settings()
    client = optional_docker(settings)
    api = None if no_api else ApiClient.from_settings(settings)
    source = GpuSource(settings.nvml_snapshot, client)
    try:
        if not watch:
            frame = collect(source, api)
            if json_output:
                print_json(frame)
            else:
                console.print(render_frame(frame))
            raise typer.Exit(
                ExitCode.OK
                if frame["gpu"]["available"] or (frame["api"] or {}).get("ok")
                else ExitCode.CHECK_FAILED
            )
        run_watch(source, api, interval, count, json_output)
    finally:
        source.close()
        if api is not None:
            api.close()
    raise typer.Exit(ExitCode.OK)


def collect(source: GpuSource, api: ApiClient | None) -> dict[str, Any]:
    """One reading of both sources, as the JSON object ``--json`` prints."""
    snapshot = source.read()
    frame: dict[str, Any] = {
        "timestamp": round(time.time(), 3),
        "gpu": snapshot.to_dict(),
        "api": None,
    }
    workers = pinned_workers(source.resolver.client)
    if workers:  # one worker per GPU: which holds which (absent otherwise, as before)
        frame["workers"] = workers
    if api is not None:
        result = api.vram()
        published = result.parsed  # engines.contracts.VramResponse when the answer was ok
        frame["api"] = {
            **result.to_dict(),
            "vram": None,
            "age_seconds": None,
            "server_timestamp": None,
            "worker": None,
            "event": None,
        }
        if published is not None:
            frame["api"].update(
                vram=published.vram.model_dump(),
                age_seconds=published.age_seconds,
                server_timestamp=published.timestamp,
                worker=published.worker,
                event=published.event,
            )
        models = api.models() if result.ok else None
        # every worker, on every GPU and host, from GET /admin/models (None: the API has none)
        frame["api"]["workers"] = (
            [w.model_dump() for w in models.parsed.workers] if models and models.ok else None
        )
    return frame


def pinned_workers(client: docker.DockerClient | None) -> dict[str, list[str]]:
    """GPU (index or UUID) -> the running worker containers avops pinned to it, one worker per
    GPU (label ``io.avops.gpu``, core/replicas.py): which worker holds which GPU even before it
    made a CUDA context. Empty without an engine."""
    from audiovoice_ops.core import labels as L

    if client is None:
        return {}
    try:
        summaries = client.api.containers(filters={"label": L.REPLICA_GPU})
    except Exception:  # noqa: BLE001  (the GPU view works without names; the engine went away)
        return {}
    pinned: dict[str, list[str]] = {}
    for summary in summaries:
        gpu = (summary.get("Labels") or {}).get(L.REPLICA_GPU)
        names = summary.get("Names") or ["?"]
        if gpu and gpu != "none":
            pinned.setdefault(gpu, []).append(names[0].lstrip("/"))
    return {gpu: sorted(names) for gpu, names in pinned.items()}


def run_watch(
    source: GpuSource, api: ApiClient | None, interval: float, count: int, json_lines: bool
) -> None:
    from rich.live import Live

    readings = 0
    next_tick = time.monotonic()
    try:
        if json_lines:
            while True:
                sys.stdout.write(json.dumps(collect(source, api), default=str) + "\n")
                sys.stdout.flush()
                readings += 1
                if count and readings >= count:
                    return
                next_tick = _sleep_until(next_tick + interval)
        with Live(
            console=console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False
        ) as live:
            while True:
                frame = collect(source, api)
                live.update(
                    Group(
                        render_frame(frame),
                        Text(f"every {interval:g}s, Ctrl-C to quit", style="dim"),
                    ),
                    refresh=True,
                )
                readings += 1
                if count and readings >= count:
                    return
                next_tick = _sleep_until(next_tick + interval)
    except KeyboardInterrupt:
        return
    except BrokenPipeError:  # `avops vram --watch --json | head`
        try:
            sys.stdout = open(
                "/dev/null", "w"
            )  # silences the interpreter's flush at exit; open until exit
        except OSError:
            pass


def _sleep_until(deadline: float) -> float:
    """Sleep to a fixed schedule; after a slow reading, start again from now instead of bursting."""
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)
        return deadline
    return time.monotonic()


# ---------------------------------------------------------------------------- rendering
def render_frame(frame: dict[str, Any]) -> Group:
    from audiovoice_ops.gpu.types import GpuSnapshot

    parts: list[Any] = []
    snapshot = GpuSnapshot.from_dict(frame["gpu"])
    if snapshot.available:
        parts.append(gpu_table(snapshot, frame.get("workers") or {}))
        parts.append(process_table(snapshot))
    else:
        parts.append(
            Text(
                f"GPU: no NVML reading ({snapshot.error}); showing the API's view only",
                style="yellow",
            )
        )
    if frame.get("api") is not None:
        parts.append(api_view(frame["api"]))
        if frame["api"].get("workers"):
            parts.append(workers_view(frame["api"]["workers"]))
    return Group(*parts)


def workers_view(workers: list[dict[str, Any]]) -> Table:
    """Each worker (every replica and host): its GPU memory as the worker's torch sees it and
    what it holds, from GET /admin/models (read through the contract, as the API serves it)."""
    from engines.contracts import WorkerModels

    table = Table(title="workers (GET /admin/models)", title_justify="left")
    for column in ("worker", "device", "allocated / total", "holds", "keep-alive", "age"):
        table.add_column(column)
    for worker in (WorkerModels.model_validate(w) for w in workers):
        held = [f"{m.engine} {m.state}" for m in worker.models if m.state != "free"]
        table.add_row(
            worker.worker,
            worker.device,
            f"{_mb(worker.allocated_mb)} / {_mb(worker.total_mb)}" if worker.total_mb else "-",
            ", ".join(held) or "[dim]nothing[/]",
            keep_alive_text(worker.keep_alive_s),
            "-" if worker.age_seconds is None else f"{worker.age_seconds:.0f}s",
        )
    return table


def memory_bar(used: float, total: float, width: int = BAR_WIDTH) -> str:
    fraction = 0.0 if total <= 0 else min(1.0, max(0.0, used / total))
    filled = round(fraction * width)
    return "█" * filled + "░" * (width - filled)


def _style_for(fraction: float) -> str:
    return "red" if fraction >= 0.9 else "yellow" if fraction >= 0.7 else "green"


def gpu_table(snapshot: GpuSnapshot, workers: dict[str, list[str]] | None = None) -> Table:
    """One row per GPU; ``workers`` (``pinned_workers``) adds the worker column."""
    title = f"GPUs (driver {snapshot.driver_version}, CUDA {snapshot.cuda_driver_version})"
    table = Table(title=title, title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("gpu", "right"),
        ("name", "left"),
        ("memory", "left"),
        ("used / total MiB", "right"),
        ("util", "right"),
        ("temp", "right"),
        ("power", "right"),
    )
    if workers:
        columns += (("worker", "left"),)
    for column, justify in columns:
        table.add_column(column, justify=justify, no_wrap=column == "memory")
    for gpu in snapshot.gpus:
        fraction = gpu.memory_used_mib / gpu.memory_total_mib if gpu.memory_total_mib else 0.0
        holders = (workers or {}).get(str(gpu.index), []) + (workers or {}).get(gpu.uuid, [])
        table.add_row(
            str(gpu.index),
            f"{gpu.name}\n[dim]cc {gpu.compute_cap or '?'}[/]",
            f"[{_style_for(fraction)}]{memory_bar(gpu.memory_used_mib, gpu.memory_total_mib)}[/]",
            f"{gpu.memory_used_mib:,.0f} / {gpu.memory_total_mib:,.0f} ({fraction:.0%})",
            _opt(gpu.utilization_gpu, "%"),
            _opt(gpu.temperature_gpu, "°C"),
            f"{_opt(gpu.power_draw_w, 'W')} / {_opt(gpu.power_limit_w, 'W')}"
            if gpu.power_limit_w
            else _opt(gpu.power_draw_w, "W"),
            *(["\n".join(holders) or "[dim]-[/]"] if workers else []),
        )
    return table


def process_table(snapshot: GpuSnapshot) -> Table | Text:
    if not snapshot.processes:
        return Text("no GPU processes", style="dim")
    table = Table(title="GPU processes", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("gpu", "right"),
        ("pid", "right"),
        ("process", "left"),
        ("container", "left"),
        ("service", "left"),
        ("used MiB", "right"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify, no_wrap=column == "memory")
    for gpu in snapshot.gpus:
        for proc in gpu.processes:
            table.add_row(
                str(gpu.index),
                str(proc.pid),
                proc.name or "?",
                proc.container or "[dim](host)[/]",
                proc.service or "-",
                "?" if proc.used_memory_mib is None else f"{proc.used_memory_mib:,.0f}",
            )
    return table


def keep_alive_text(seconds: float | None) -> str:
    """-1 -> forever, 0 -> none (leaves after each job), N -> 30s; None (an older worker) -> -."""
    if seconds is None:
        return "-"
    if seconds < 0:
        return "forever"
    return "none" if seconds == 0 else f"{seconds:g}s"


def api_view(api: dict[str, Any]) -> Table | Text:
    from engines.contracts import MEMORY_EVENTS, VramStats

    if not api.get("ok"):
        return Text(f"worker view: {api.get('error')}", style="yellow")
    stats = VramStats.model_validate(api["vram"])
    age = api.get("age_seconds")
    mode = "LOW_VRAM" if stats.low_vram_mode else "normal"
    title = (
        f"worker VRAM manager ({api['url']}, age {age:.1f}s)"
        if isinstance(age, (int, float))
        else f"worker VRAM manager ({api['url']})"
    )
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    if api.get("worker") or api.get("event"):
        table.add_row("published by", f"{api.get('worker') or '?'} on {api.get('event') or '?'}")
    table.add_row(
        "mode",
        f"{mode} (offload {stats.offload or '-'}, keep-alive {keep_alive_text(stats.keep_alive_s)}), "
        f"device {stats.device}",
    )
    table.add_row("allocated / reserved", f"{_mb(stats.allocated_mb)} / {_mb(stats.reserved_mb)}")
    table.add_row("free / total", f"{_mb(stats.free_mb)} / {_mb(stats.total_mb)}")
    table.add_row(
        "resident models",
        "\n".join(
            f"{resident.key} on {resident.device}, {_mb(resident.size_mb)}"
            + (", parked" if resident.parked else "")
            + (f", in use x{resident.in_use}" if resident.in_use else "")
            + f", used {resident.last_used_s_ago:.0f}s ago"
            + (
                f", leaves in {resident.expires_in_s:.0f}s"
                if resident.expires_in_s is not None
                else ""
            )
            for resident in stats.resident_models
        )
        or "[dim]none[/]",
    )
    table.add_row("counters", ", ".join(f"{name} {getattr(stats, name)}" for name in MEMORY_EVENTS))
    means = ", ".join(
        f"{label} {value}s"
        for label, value in (("mean load", stats.mean_load_s), ("mean swap", stats.mean_swap_s))
        if value is not None
    )
    if means:
        table.add_row("loads", means)
    return table


def _opt(value: Any, unit: str) -> str:
    return (
        "-"
        if value is None
        else f"{value:g}{unit}"
        if isinstance(value, float)
        else f"{value}{unit}"
    )


def _mb(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f} MB"
