"""``avops worker add|rm|ls``: Celery workers on other hosts' Docker Engines, pointed at this
stack's Redis. Rendering and option checks only; the work is in ``core/remote/``.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from audiovoice_ops.commands.common import (
    JsonOption,
    console,
    err_console,
    format_duration,
    global_options,
    open_project,
    print_json,
)
from audiovoice_ops.core.errors import ExitCode

if TYPE_CHECKING:
    from audiovoice_ops.core.project import Project
    from audiovoice_ops.core.remote.hosts import HostBook

PROGRESS_EVERY_S = 2.0  # without a terminal: one progress line this often (and at the end)
MIB = 1024 * 1024
STATE_STYLE = {"running": "green", "exited": "red", "dead": "red", "created": "yellow"}


class Action(str, Enum):
    add = "add"
    rm = "rm"
    ls = "ls"


def worker(
    ctx: typer.Context,
    action: Annotated[Action, typer.Argument(help="add, rm or ls (list).")] = Action.ls,
    host: Annotated[
        str | None,
        typer.Argument(help="add: ssh://[USER@]HOST[:PORT]; rm: a remembered host (URL or name)."),
    ] = None,
    gpus: Annotated[
        str,
        typer.Option(
            "--gpus",
            help="add: all (one worker with every GPU), none (one CPU worker), or GPU indices/"
            "UUIDs (0,1: one worker per GPU).",
        ),
    ] = "all",
    redis_url: Annotated[
        str | None,
        typer.Option(
            "--redis-url",
            help="add: the Redis URL the workers get (default WORKER_REDIS_URL of .env); "
            "rediss:// with a password unless on loopback.",
        ),
    ] = None,
    redis_ca: Annotated[
        Path | None,
        typer.Option(
            "--redis-ca",
            help="add: the CA certificate (PEM) the workers verify Redis's TLS with; default "
            "REDIS_TLS_DIR/ca.pem of .env for a rediss:// URL.",
        ),
    ] = None,
    insecure_redis: Annotated[
        bool,
        typer.Option(
            "--insecure-redis",
            help="add: allow plain redis:// or no password to a non-loopback Redis (trusted networks).",
        ),
    ] = False,
    volumes: Annotated[
        bool, typer.Option("--volumes", help="rm: also remove the host's models volume.")
    ] = False,
    forget: Annotated[
        bool,
        typer.Option(
            "--forget",
            help="rm: forget the host even when its engine does not answer (its containers stay).",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Start, remove or list Celery workers on other hosts' Docker Engines (over ssh).

    add starts one worker per GPU (--gpus) on the host's engine with the compose worker
    service's image (sent there from the local engine when missing), its .env values and
    REDIS_URL replaced, and remembers the host in .avops-hosts.json next to .env. rm removes the
    host's workers (by label) and forgets it. ls shows each host's workers, or why it does not
    answer.

    Exit 0; 2 bad input (host URL, --gpus, --redis-url, --redis-ca, unknown host); 3 configuration (no
    WORKER_REDIS_URL); 4 the host's engine does not answer (add, rm); 5 the image or a start failed.
    """
    settings = global_options(ctx).settings()
    project = open_project(settings)
    from audiovoice_ops.core.remote.hosts import HostBook

    book = HostBook.beside(project.stack.env_file)
    if action is Action.ls:
        _refuse_host_for_ls(host)
        _list(project, book, json_output)
    elif action is Action.add:
        redis = (redis_url, redis_ca, insecure_redis)
        _add(project, book, host, gpus, redis, json_output)
    else:
        _rm(project, book, host, volumes, forget, json_output)
    raise typer.Exit(ExitCode.OK)


def _refuse_host_for_ls(host: str | None) -> None:
    if host is not None:
        raise typer.BadParameter("ls takes no host", param_hint="HOST")


def _required(host: str | None, action: str) -> str:
    if not host:
        raise typer.BadParameter(f"{action} needs a host", param_hint="HOST")
    return host


# ---------------------------------------------------------------------------------- add
def _add(
    project: Project,
    book: HostBook,
    host: str | None,
    gpus: str,
    redis_options: tuple[str | None, Path | None, bool],
    json_output: bool,
) -> None:
    from audiovoice_ops.core.remote import workers as W
    from audiovoice_ops.core.remote.hosts import WorkerHost, parse_host_url
    from audiovoice_ops.core.remote.redis import worker_ca, worker_redis_url
    from engines.urls import mask_password as mask

    # Every input is checked before any engine is reached.
    url = parse_host_url(_required(host, "add"))
    service = W.worker_service(project.stack, project.worker)
    W.plan_replicas(service, gpus)
    redis_url, redis_ca, insecure = redis_options
    variables = project.stack.variables
    redis = worker_redis_url(redis_url, variables, insecure)
    ca_pem = worker_ca(redis_ca, redis, variables)
    local = project.client
    remote = W.connect_host(url)
    try:
        result = W.add_workers(
            local, remote, project.stack, service, url, gpus, redis, ImageProgress(), ca_pem
        )
    finally:
        W.close_host(remote)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    book.remember(WorkerHost(url, gpus, result.image, mask(redis), stamp))
    if json_output:
        print_json({**result.to_dict(), "redis": mask(redis), "state_file": str(book.path)})
        return
    if result.image_sent:
        console.print(
            f"sent {result.image} to {url} ({result.bytes_sent / MIB:,.1f} MiB; "
            f"{result.image_sent} there)"
        )
    for name in result.replaced:
        console.print(f"[dim]replaced {name}[/]")
    for started in result.workers:
        console.print(f"[green]started[/] {started['name']} on {url} ({_device(started['gpu'])})")
    console.print(f"Redis: {mask(redis)}; host remembered in {book.path}", highlight=False)


def _device(gpu: str) -> str:
    return {"none": "CPU", "all": "every GPU"}.get(gpu, f"GPU {gpu}")


class ImageProgress:
    """The image transfer's progress on stderr: a bar on a terminal, else a line every few seconds."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._last = 0.0
        self._terminal = err_console.is_terminal

    def __call__(self, sent: int, total: int, finished: bool) -> None:
        if self._terminal:
            self._draw(sent, total, finished)
            return
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_S or finished:
            self._last = now
            err_console.print(
                f"sending image: {sent / MIB:,.1f} of {total / MIB:,.1f} MiB "
                f"({100 * sent / max(total, 1):.0f}%)",
                highlight=False,
            )

    def _draw(self, sent: int, total: int, finished: bool) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        if self._bar is None:
            self._bar = Progress(
                "sending image",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                console=err_console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("image", total=total)
        self._bar.update(self._task, completed=sent, total=total)
        if finished:
            self._bar.stop()


# ---------------------------------------------------------------------------------- rm
def _rm(
    project: Project,
    book: HostBook,
    host: str | None,
    volumes: bool,
    forget: bool,
    json_output: bool,
) -> None:
    from audiovoice_ops.core.errors import DockerUnavailable
    from audiovoice_ops.core.remote import workers as W

    known = book.find(_required(host, "rm"))
    removed: list[str] = []
    removed_volumes: list[str] = []
    try:
        client = W.connect_host(known.url)
    except DockerUnavailable as exc:
        if not forget:
            exc.hint = (
                f"{exc.hint}; or `avops worker rm {known.url} --forget` (its containers stay)"
            )
            raise
        client = None
    if client is not None:
        try:
            removed = W.remove_containers(client, project.name, known.url)
            if volumes:
                removed_volumes = W.remove_volumes(client, project.name, known.url)
        finally:
            W.close_host(client)
    book.forget(known.url)
    if json_output:
        print_json(
            {
                "url": known.url,
                "removed": removed,
                "removed_volumes": removed_volumes,
                "reached": client is not None,
            }
        )
        return
    for name in removed + removed_volumes:
        console.print(f"removed {name}")
    if client is None:
        console.print(f"[yellow]{known.url} did not answer: its containers were left there[/]")
    console.print(f"forgot {known.url}")


# ---------------------------------------------------------------------------------- ls
def _list(project: Project, book: HostBook, json_output: bool) -> None:
    from audiovoice_ops.core.remote.workers import report_host

    reports = [report_host(host, project.name).to_dict() for host in book.hosts()]
    if json_output:
        print_json({"project": project.name, "hosts": reports})
        return
    if not reports:
        console.print("no worker hosts (add one with `avops worker add ssh://user@host`)")
        return
    console.print(hosts_table(f"worker hosts of {project.name}", reports))


def hosts_table(title: str, reports: list[dict[str, Any]]) -> Table:
    """One row per worker container on each host; a host that did not answer is a row saying so
    (``avops worker ls`` and ``avops status``)."""
    table = Table(title=title, title_justify="left")
    for column in ("host", "container", "state", "health", "gpu", "uptime"):
        table.add_column(column)
    for report in reports:
        if report["error"]:
            table.add_row(report["url"], f"[red]unreachable: {report['error']}[/]", "", "", "", "")
            continue
        if not report["workers"]:
            table.add_row(report["url"], "[yellow]no worker containers[/]", "", "", "", "")
        for row in report["workers"]:
            style = STATE_STYLE.get(row["state"], "")
            table.add_row(
                report["url"],
                row["name"],
                f"[{style}]{row['state']}[/]" if style else row["state"],
                row["health"] or "-",
                row["gpu"],
                format_duration(row["uptime_s"]),
            )
    return table
