"""``avops`` console-script entry point (``pyproject.toml``: ``audiovoice_ops.cli:main``).

Nothing is imported at module level but ``sys`` (already loaded by the interpreter), so that a
Ctrl-C during the first fraction of a second, while Typer, rich and pydantic load, ends like any other
interrupt: exit 130 and one line, not a ``KeyboardInterrupt`` traceback from deep inside an import.
The app itself is in ``audiovoice_ops.app``. (Python's own start-up, before this module runs, is
outside what a package can guard.)
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from audiovoice_ops.app import run
    except KeyboardInterrupt:
        interrupted()
    run()


def interrupted() -> None:
    # A second Ctrl-C while exiting must not print a traceback either. `_signal` is the built-in
    # half of `signal`: importing it is instant, where `signal` itself builds enums first.
    import _signal

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    from audiovoice_ops.core.errors import ExitCode

    sys.stderr.write("error: interrupted\n")
    sys.exit(int(ExitCode.INTERRUPTED))
