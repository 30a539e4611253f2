"""One avops at a time per project: an advisory file lock (``flock``) held while a command changes
the project, so two processes never interleave creates and removes.

The lock file lives in a directory only this user can write (``$XDG_RUNTIME_DIR/avops``, else
``<tmp>/avops-<uid>``, created 0700 and checked), never directly in the shared /tmp where another user
could plant a symlink to a file of ours. It is opened with ``O_NOFOLLOW`` and never truncated before
it is locked, and it is removed when released, so nothing is left behind.

Removing a lock file on release races with a process that opened it and waits for it: that process
would then lock an unlinked file while a third creates a new one. So after locking, a holder checks
that its open file is still the one at the path, and starts over when it is not.
"""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from audiovoice_ops.core.errors import ConfigError, ProjectLocked

POLL_SECONDS = 0.2


def lock_dir() -> Path:
    """This user's private directory for lock files, created if needed and checked to be safe."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and _private_dir(Path(runtime)):
        directory = Path(runtime) / "avops"
    else:
        directory = Path(tempfile.gettempdir()) / f"avops-{os.getuid()}"
    try:
        directory.mkdir(mode=0o700)
    except FileExistsError:
        pass
    if not _private_dir(directory):
        raise ConfigError(
            f"lock directory {directory} is not a directory owned by you with mode 0700",
            hint=f"remove it (it is re-created safely): rm -r {directory}",
        )
    return directory


def _private_dir(path: Path) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def lock_path(project: str) -> Path:
    return lock_dir() / f"{project}.lock"


@contextmanager
def project_lock(project: str, wait_seconds: float = 0.0, on_wait=None) -> Iterator[None]:
    """Hold the project's lock; wait up to ``wait_seconds`` for another holder, then fail clearly."""
    path = lock_path(project)
    deadline = time.monotonic() + wait_seconds
    announced = False
    while True:
        handle = _open(path)
        state = _try_lock(handle, path)
        if state == "held":
            break
        if state == "busy":
            holder = _holder(handle)
            os.close(handle)
            if time.monotonic() >= deadline:
                raise ProjectLocked(
                    f"another avops process (pid {holder}) is changing project {project!r}",
                    hint="wait for it to finish, or pass --wait-lock SECONDS to queue behind it",
                )
            if on_wait and not announced:
                on_wait(holder)
                announced = True
            time.sleep(POLL_SECONDS)
        else:  # "replaced": the holder removed the file while we waited; lock the new one
            os.close(handle)
    try:
        os.ftruncate(handle, 0)  # our own file now: it is locked and still at the path
        os.write(handle, str(os.getpid()).encode())
        yield
    finally:
        _release(handle, path)


def _open(path: Path) -> int:
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:  # ELOOP: a symlink is there
        raise ConfigError(
            f"cannot open lock file {path}: {exc.strerror}", hint=f"remove it: rm {path}"
        ) from None
    info = os.fstat(handle)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
        os.close(handle)
        raise ConfigError(
            f"lock file {path} is not a regular file of yours", hint=f"remove it: rm {path}"
        )
    return handle


def _try_lock(handle: int, path: Path) -> str:
    """ "held" (locked, and the file is still the one at ``path``), "busy" (another process holds
    it) or "replaced" (locked a file its previous holder has removed)."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return "busy"
    return "held" if _same_file(handle, path) else "replaced"


def _same_file(handle: int, path: Path) -> bool:
    try:
        at_path = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(handle)
    return (at_path.st_dev, at_path.st_ino) == (opened.st_dev, opened.st_ino)


def _holder(handle: int) -> str:
    return os.pread(handle, 32, 0).decode(errors="replace").strip() or "?"


def _release(handle: int, path: Path) -> None:
    # Unlink while still holding the lock, so no one can lock this file and think it is current.
    try:
        if _same_file(handle, path):
            path.unlink()
    finally:
        os.close(handle)  # closing releases the flock
