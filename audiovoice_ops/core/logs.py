"""Logs of one or all services, each line prefixed with its container.

Without ``follow`` the lines of all containers are merged in time order (Docker timestamps);
with ``follow`` one reader thread per container feeds a queue until Ctrl-C.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from audiovoice_ops.core.containers import ContainerView

if TYPE_CHECKING:
    import docker

Line = tuple[str, str]  # (container name, text)


def recent_lines(
    client: docker.DockerClient,
    views: list[ContainerView],
    tail: int | None,
    timestamps: bool = False,
) -> list[Line]:
    stamped: list[tuple[str, str, str]] = []
    for view in views:
        raw = client.api.logs(view.id, timestamps=True, tail=tail if tail is not None else "all")
        for line in raw.decode(errors="replace").splitlines():
            stamp, _, text = line.partition(" ")
            stamped.append((stamp, view.name, line if timestamps else text))
    stamped.sort(key=lambda item: item[0])  # RFC 3339 with fixed-width nanoseconds sorts as text
    return [(name, text) for _, name, text in stamped]


def follow_lines(
    client: docker.DockerClient,
    views: list[ContainerView],
    tail: int | None,
    timestamps: bool = False,
    stop: threading.Event | None = None,
) -> Iterator[Line]:
    """Yield lines as they arrive from every container, until all streams end or ``stop`` is set."""
    lines: queue.Queue[Line | None] = queue.Queue()
    stop = stop or threading.Event()
    readers = [
        threading.Thread(target=_read, args=(client, v, tail, timestamps, lines), daemon=True)
        for v in views
    ]
    for reader in readers:
        reader.start()
    finished = 0
    while finished < len(readers) and not stop.is_set():
        try:
            item = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if item is None:
            finished += 1
        else:
            yield item


def _read(
    client, view: ContainerView, tail: int | None, timestamps: bool, out: queue.Queue
) -> None:
    pending = b""
    try:
        for chunk in client.api.logs(
            view.id,
            stream=True,
            follow=True,
            timestamps=timestamps,
            tail=tail if tail is not None else "all",
        ):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                out.put((view.name, line.decode(errors="replace")))
        if pending:
            out.put((view.name, pending.decode(errors="replace")))
    except Exception:  # noqa: BLE001  (container removed while following: end this stream quietly)
        pass
    finally:
        out.put(None)
