"""Writing to the data volume: atomic files, nothing partial left behind, a full disk named as such.

Every file the service writes under ``DATA_DIR`` goes through ``atomic_file``: the data lands in a
hidden temp file next to its target and is renamed into place only when complete, and the temp
file is removed on every error path (a full disk, a crash of the encoder, an interrupt). A
reader therefore sees the old file or the new one, never half of one, and a failed write leaves
no trace. ``ENOSPC``/``EDQUOT`` become ``StorageFull``: a 507 at the API, a one-line reason on a
failed job, never the path of the file that could not be written.
"""

from __future__ import annotations

import errno
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from service.errors import Rejected

NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
NO_SPACE_MESSAGE = "storage full: no space left on the data volume (DATA_DIR); try again later"
INSUFFICIENT_STORAGE = 507  # RFC 4918: the server cannot store what the request needs


class StorageFull(Rejected):
    """The data volume is out of space (or over quota)."""

    def __init__(self, message: str = NO_SPACE_MESSAGE) -> None:
        super().__init__(message, INSUFFICIENT_STORAGE)


def is_no_space(exc: BaseException) -> bool:
    """True for "no space left" / "quota exceeded", also when a library wrapped the OSError
    (libsndfile and torch report it as their own error with the OSError as cause or in the
    text)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in NO_SPACE_ERRNOS:
            return True
        if any(os.strerror(code) in str(current) for code in NO_SPACE_ERRNOS):
            return True
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def no_space_as_storage_full() -> Iterator[None]:
    """Re-raise a full-disk error as ``StorageFull`` (message without any path)."""
    try:
        yield
    except StorageFull:
        raise
    except Exception as exc:
        if is_no_space(exc):
            raise StorageFull() from exc
        raise


def temp_path_for(path: Path) -> Path:
    """A hidden, unique sibling of ``path``: same filesystem, so the final rename is atomic."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temp path to write; on success it replaces ``path``, on any error it is removed."""
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # after a successful replace there is nothing to remove


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
