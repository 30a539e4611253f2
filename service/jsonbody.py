"""Strict JSON request bodies: RFC 8259 and valid Unicode, or a 422 naming what was wrong.

Python's ``json`` accepts more than JSON: ``NaN``, ``Infinity``, ``-Infinity``, numbers that
overflow a float (``1e999`` becomes ``inf``), integers of any length (past 4,300 digits a
ValueError) and ``\\ud800`` escapes that decode to a lone surrogate, text that cannot be
encoded again. Each of those used to reach pydantic, the job store or the worker and end in a
500 or a worker traceback. Here they are refused while the body is parsed, wherever they
appear (any field, nested, keys included): ``StrictJsonRoute`` makes FastAPI parse request
bodies with ``strict_loads``, and FastAPI turns the ``JSONDecodeError`` into a 422.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

from fastapi import Request
from fastapi.routing import APIRoute


class _NotJson(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"number {text[:40]} is out of range (at most about 1.8e308)")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # past sys.get_int_max_str_digits()
        raise _NotJson(f"integer of {len(text)} digits is too long") from None


def _first_unencodable(value: Any) -> str | None:
    """The first string (key or value, at any depth) that is not valid Unicode, else None.
    Iterative: nesting depth is bounded by the body cap, not by the call stack."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                return f"{item[exc.start]!r}"
    return None


def strict_loads(body: bytes | str) -> Any:
    """``json.loads`` for request bodies; anything it should not accept raises JSONDecodeError."""
    try:
        value = json.loads(
            body, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_int
        )
    except _NotJson as exc:
        raise json.JSONDecodeError(str(exc), "", 0) from None
    except UnicodeDecodeError:
        raise json.JSONDecodeError("the body is not UTF-8 text", "", 0) from None
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", "", 0) from None
    bad = _first_unencodable(value)
    if bad is not None:
        raise json.JSONDecodeError(
            f"a string holds the unpaired surrogate {bad}: not valid Unicode text", "", 0
        )
    return value


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """An APIRoute whose handler reads the JSON body with ``strict_loads``."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def strict_handler(request: Request):
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler
