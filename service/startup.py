"""Start-up refusals of the API and the worker: one line on stderr and exit status 2, like the CLI.

A bad setting (a short API key, ``LOW_VRAM=maybe``, a negative number) or a missing key is the
operator's mistake, not a bug: the message names the variable, and no traceback buries it.
``SystemExit`` is raised where the processes read their settings (while uvicorn or celery
imports the application), so neither server wraps it in its own traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Callable, NoReturn, TypeVar

T = TypeVar("T")
EXIT_BAD_SETTING = 2


class StartupRefused(RuntimeError):
    """The process must not start (the message says why and how to fix it)."""


def refuse(message: str, hard: bool = False) -> NoReturn:
    """Print the one line and exit. ``hard``: leave at once (``os._exit``), for code running
    inside an ASGI lifespan, where Starlette would turn SystemExit into a logged traceback;
    the server has not bound its socket yet, so there is nothing to clean up."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    if hard:
        sys.stdout.flush()
        os._exit(EXIT_BAD_SETTING)
    raise SystemExit(EXIT_BAD_SETTING)


def or_exit(load: Callable[[], T], hard: bool = False) -> T:
    """``load()``, or exit with its one-line message when a setting is invalid."""
    from engines.errors import EngineConfigError
    from service.settings import ServiceSettingsError

    try:
        return load()
    except (ServiceSettingsError, EngineConfigError, StartupRefused) as exc:
        refuse(str(exc), hard)
