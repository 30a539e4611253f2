"""Route what libraries ``print`` to the log at DEBUG.

f5_tts prints ~48 lines ("vocab : ...", "token : ...") on every model load and coqui-tts
prints its own progress; under Celery, stdout is redirected to the worker log at WARNING, so
an operator's log would be mostly library chatter. Library calls in the engines run inside
``library_output(logger)``: their stdout and stderr become DEBUG records of ``logger``.

``contextlib.redirect_stdout`` swaps the process-wide ``sys.stdout``: fine in a worker that
runs one job at a time (the VRAM manager serialises model calls); prints from other threads
in that window are routed the same way.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator


class _LogWriter(io.TextIOBase):
    """A text stream whose complete lines become DEBUG records (empty lines dropped)."""

    def __init__(self, logger: logging.Logger, stream_name: str) -> None:
        super().__init__()
        self._logger, self._stream_name, self._pending = logger, stream_name, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self._pending + text).replace("\r", "\n").split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._emit(self._pending)
            self._pending = ""

    def _emit(self, line: str) -> None:
        if line.strip():
            self._logger.debug("[%s] %s", self._stream_name, line.rstrip())


@contextlib.contextmanager
def library_output(logger: logging.Logger) -> Iterator[None]:
    """Inside the block, stdout/stderr writes are logged at DEBUG on ``logger``."""
    out, err = _LogWriter(logger, "stdout"), _LogWriter(logger, "stderr")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield
    finally:
        out.flush()
        err.flush()
