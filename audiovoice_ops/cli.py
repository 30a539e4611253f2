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
    # While the libraries load, Ctrl-C ends the process from the signal handler itself: raised
    # as KeyboardInterrupt it can land inside importlib's own callbacks, where Python prints it
    # as "Exception ignored ... Traceback" and no except clause here can catch it. Once the app
    # is loaded, the usual handler is back, so commands turn Ctrl-C into their own exits.
    import _signal

    usual = _signal.getsignal(_signal.SIGINT)
    if usual is _signal.default_int_handler:  # not when the parent made us ignore SIGINT
        _signal.signal(_signal.SIGINT, _leave_during_startup)
    try:
        from audiovoice_ops.app import run
    except KeyboardInterrupt:
        interrupted()
    finally:
        _signal.signal(_signal.SIGINT, usual)
    run()


def _leave_during_startup(signum: int, _frame: object) -> None:
    import os  # loaded by the interpreter already: no import machinery runs here

    os.write(2, b"error: interrupted\n")
    os._exit(128 + signum)  # the shell's convention, 130 for SIGINT (ExitCode.INTERRUPTED)


def interrupted() -> None:
    # A second Ctrl-C while exiting must not print a traceback either. `_signal` is the built-in
    # half of `signal`: importing it is instant, where `signal` itself builds enums first.
    import _signal

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    from audiovoice_ops.core.errors import ExitCode

    sys.stderr.write("error: interrupted\n")
    sys.exit(int(ExitCode.INTERRUPTED))
