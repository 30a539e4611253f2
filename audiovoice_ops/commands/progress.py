"""The rich ``Reporter`` for rebuild/restart: phases, a build progress bar (step N/M and the
current line), warnings in bold, and a plain mode for ``--json`` (messages to stderr only)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn

from audiovoice_ops.core.build import BuildProgress
from audiovoice_ops.core.cleanup import CleanupPlan
from audiovoice_ops.core.up import Started


class RichReporter:
    def __init__(self, console: Console, verbose: bool = False):
        self.console = console
        self.verbose = verbose
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def phase(self, title: str) -> None:
        self._stop_progress()
        self.console.print(f"[bold cyan]==>[/] {title}")

    def warn(self, message: str) -> None:
        self._stop_progress()
        self.console.print(f"[bold yellow]WARNING:[/] {message}")

    def cleaned(self, plan: CleanupPlan) -> None:
        removed = [a for a in plan.actions if a.outcome == "removed"]
        kept = [a for a in plan.actions if a.outcome == "kept"]
        self.console.print(
            f"    removed {len(removed)} resource(s)"
            + (f", kept {', '.join(a.name for a in kept)}" if kept else "")
        )

    def build_progress(self, progress: BuildProgress) -> None:
        if self.verbose:
            return
        bar = self._ensure_progress()
        task = self._tasks.get(progress.service)
        if task is None:
            task = self._tasks[progress.service] = bar.add_task(
                progress.service, total=progress.total or None
            )
        bar.update(
            task,
            completed=progress.step,
            total=progress.total or None,
            description=f"{progress.service}: {progress.line[:60]}",
        )

    def build_line(self, service: str, line: str) -> None:
        if self.verbose:
            self.console.print(f"[dim]{service} |[/] {line}", highlight=False, markup=False)

    def build_done(self, service: str, image_id: str) -> None:
        if self._progress and service in self._tasks:
            self._progress.update(
                self._tasks[service], description=f"{service}: built {image_id[7:19]}"
            )
        else:
            self.console.print(f"    built {service} ({image_id[7:19]})")

    def pull_status(self, image: str, status: str) -> None:
        bar = self._ensure_progress()
        task = self._tasks.get(image)
        if task is None:
            task = self._tasks[image] = bar.add_task(image, total=None)
        bar.update(task, description=f"pull {image}: {status[:60]}")

    def started(self, started: Started) -> None:
        self._stop_progress()
        gpu = " [green](GPU)[/]" if started.gpu else ""
        self.console.print(f"    started {started.name}{gpu}")

    def close(self) -> None:
        self._stop_progress()

    def _ensure_progress(self) -> Progress:
        if self._progress is None:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.start()
        return self._progress

    def _stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._tasks.clear()
