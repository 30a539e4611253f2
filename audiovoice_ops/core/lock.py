"""One avops at a time per project: an advisory file lock (``flock``) held while a command changes
the project, so two processes never interleave creates and removes."""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from audiovoice_ops.core.errors import ProjectLocked


def lock_path(project: str) -> Path:
    return Path(tempfile.gettempdir()) / f"avops-{project}.lock"


@contextmanager
def project_lock(project: str, wait_seconds: float = 0.0, on_wait=None) -> Iterator[None]:
    """Hold the project's lock; wait up to ``wait_seconds`` for another holder, then fail clearly."""
    path = lock_path(project)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        _acquire(handle, path, project, wait_seconds, on_wait)
        os.ftruncate(handle, 0)
        os.write(handle, str(os.getpid()).encode())
        yield
    finally:
        os.close(handle)  # closing releases the flock


def _acquire(handle: int, path: Path, project: str, wait_seconds: float, on_wait) -> None:
    deadline = time.monotonic() + wait_seconds
    announced = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = path.read_text().strip() or "?"
            if time.monotonic() >= deadline:
                raise ProjectLocked(
                    f"another avops process (pid {holder}) is changing project {project!r}",
                    hint="wait for it to finish, or pass --wait-lock SECONDS to queue behind it",
                ) from None
            if on_wait and not announced:
                on_wait(holder)
                announced = True
            time.sleep(0.2)
