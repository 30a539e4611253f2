"""``avops`` console-script entry point (``pyproject.toml``: ``audiovoice_ops.cli:main``).

Nothing is imported at module level but ``sys`` (already loaded by the interpreter), so that a
Ctrl-C during the first fraction of a second, while Typer loads, ends like any other interrupt:
exit 130 and one line, not a ``KeyboardInterrupt`` traceback from deep inside an import. The app
itself is in ``audiovoice_ops.app``; it loads each command's module (rich, pydantic, the Docker SDK)
only when that command runs, through ``guarded_import`` below. (Python's own start-up, before this
module runs, is outside what a package can guard.)
"""

from __future__ import annotations

import sys
from types import ModuleType

# typing itself is not imported at start-up; mypy reads any name TYPE_CHECKING as True.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn


def main() -> None:
    if sys.argv[1:] == ["--version"]:  # answered before Typer loads: half of the start-up time
        sys.stdout.write(version_line() + "\n")
        return
    app = guarded_import("audiovoice_ops.app")
    app.run()


def version_line() -> str:
    from audiovoice_ops import __version__

    return f"avops {__version__}"


def guarded_import(name: str) -> ModuleType:
    """Import ``name`` with Ctrl-C ending the process from the signal handler itself.

    Raised as KeyboardInterrupt, an interrupt can land inside importlib's own callbacks, where Python
    prints it as "Exception ignored ... Traceback" and no except clause can catch it. Once the
    module is loaded, the usual handler is back, so commands turn Ctrl-C into their own exits.
    """
    import _signal
    import importlib

    usual = _signal.getsignal(_signal.SIGINT)
    if usual is _signal.default_int_handler:  # not when the parent made us ignore SIGINT
        _signal.signal(_signal.SIGINT, _leave_during_startup)
    try:
        return importlib.import_module(name)
    except KeyboardInterrupt:
        interrupted()
    finally:
        _signal.signal(_signal.SIGINT, usual)


def _leave_during_startup(signum: int, _frame: object) -> None:
    import os  # loaded by the interpreter already: no import machinery runs here

    os.write(2, b"error: interrupted\n")
    os._exit(128 + signum)  # the shell's convention, 130 for SIGINT (ExitCode.INTERRUPTED)


def interrupted() -> NoReturn:
    # A second Ctrl-C while exiting must not print a traceback either. `_signal` is the built-in
    # half of `signal`: importing it is instant, where `signal` itself builds enums first.
    import _signal

    _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
    from audiovoice_ops.core.errors import ExitCode

    sys.stderr.write("error: interrupted\n")
    sys.exit(int(ExitCode.INTERRUPTED))
