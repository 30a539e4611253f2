"""Waiting for containers the way ``docker compose up --wait`` defines it, driven by Docker events.

A service with a healthcheck must become ``healthy``, one without must be ``running``. A container
that exits or turns ``unhealthy`` fails the wait at once, with its last log lines and last probe
output. The event stream is opened *before* the containers start (``EventWatch``), so no
transition can slip between a start and the first look.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audiovoice_ops.core import labels as L
from audiovoice_ops.core.containers import ContainerView
from audiovoice_ops.core.errors import WaitFailed

if TYPE_CHECKING:
    import docker

LOG_LINES = 50
TERMINAL_ACTIONS = ("die", "oom", "destroy")


@dataclass
class Target:
    container_id: str
    name: str
    condition: str = "ready"  # ready (healthy or running) | started | completed


class EventWatch:
    """The project's container events, read on a background thread into a queue."""

    def __init__(self, client: docker.DockerClient, project: str):
        self._client = client
        self._events: queue.Queue[dict] = queue.Queue()
        self._stream = client.api.events(
            decode=True, filters={"type": "container", "label": L.project_filter(project)}
        )
        self._thread = threading.Thread(target=self._pump, name="avops-events", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            for event in self._stream:
                self._events.put(event)
        except Exception:  # noqa: BLE001  (the stream is closed under us on exit; nothing to report)
            pass

    def next_event(self, timeout: float) -> dict | None:
        try:
            return self._events.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def close(self) -> None:
        try:
            self._stream.close()
        except Exception:  # noqa: BLE001  (closing a stream the engine already dropped: nothing to undo)
            pass

    def __enter__(self) -> EventWatch:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def wait(self, targets: list[Target], timeout: float) -> float:
        """Block until every target meets its condition; returns the seconds waited."""
        started = time.monotonic()
        deadline = started + timeout
        pending = {t.container_id: t for t in targets}
        for target in list(pending.values()):  # state before any event
            if self._settled(target, self._view(target)):
                del pending[target.container_id]
        while pending:
            event = self.next_event(deadline - time.monotonic())
            if event is None:
                if time.monotonic() >= deadline:
                    self._fail_timeout(pending.values(), timeout)
                continue
            changed = pending.get(event.get("id") or event.get("Actor", {}).get("ID", ""))
            if changed and _relevant(event) and self._settled(changed, self._view(changed)):
                del pending[changed.container_id]
        return time.monotonic() - started

    def _view(self, target: Target) -> ContainerView:
        from docker.errors import NotFound

        try:
            return ContainerView.from_attrs(self._client.api.inspect_container(target.container_id))
        except NotFound:
            raise WaitFailed(
                f"container {target.name} was removed while avops waited for it"
            ) from None

    def _settled(self, target: Target, view: ContainerView) -> bool:
        """True when the condition holds; raises WaitFailed when it never can."""
        if target.condition == "completed":
            if view.state in ("exited", "dead"):
                if view.exit_code == 0:
                    return True
                self._fail(view, f"container {view.name} exited with code {view.exit_code}")
            return False
        if view.state in ("exited", "dead"):
            self._fail(view, f"container {view.name} exited with code {view.exit_code}")
        if not view.running:
            return False
        if target.condition == "started" or view.health is None:
            return True
        if view.health == "unhealthy":
            self._fail(view, f"container {view.name} is unhealthy")
        return view.health == "healthy"

    def _fail(self, view: ContainerView, message: str) -> None:
        raise WaitFailed(
            message,
            logs=container_logs(self._client, view.id),
            probe_output=view.health_output,
            hint=f"see the logs above; `avops logs {view.service or ''} --tail 200` for more",
        )

    def _fail_timeout(self, pending, timeout: float) -> None:
        target = next(iter(pending))
        view = self._view(target)
        state = view.health or view.state
        raise WaitFailed(
            f"timed out after {timeout:.0f}s waiting for {target.name} (still {state})",
            logs=container_logs(self._client, view.id),
            probe_output=view.health_output,
            hint="raise --timeout, or check the healthcheck",
        )


def _relevant(event: dict) -> bool:
    action = event.get("Action") or event.get("status") or ""
    return action.startswith(("health_status", "start")) or action in TERMINAL_ACTIONS


def container_logs(client: docker.DockerClient, container_id: str, lines: int = LOG_LINES) -> str:
    from docker.errors import NotFound

    try:
        return client.api.logs(container_id, tail=lines).decode(errors="replace")
    except NotFound:
        return ""
