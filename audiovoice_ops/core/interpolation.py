"""Compose variable interpolation: ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alt}``, ``${VAR+alt}`` and ``$$`` for a literal ``$``.

Applied to every string in the parsed YAML tree (values, not keys), as Compose does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from audiovoice_ops.core.limits import MAX_INTERPOLATION_DEPTH

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.DOTALL)


class InterpolationError(ValueError):
    pass


def interpolate_string(text: str, environ: Mapping[str, str], depth: int = 0) -> str:
    """A scanner rather than one regex, because defaults may nest: ``${A:-${B}}``.

    Nesting is bounded: each level rescans its argument, so unbounded nesting costs quadratic time
    and a deep Python stack."""
    if depth > MAX_INTERPOLATION_DEPTH:
        raise InterpolationError(f"variables nested deeper than {MAX_INTERPOLATION_DEPTH} levels")
    out: list[str] = []
    i = 0
    while (dollar := text.find("$", i)) != -1:
        out.append(text[i:dollar])
        nxt = text[dollar + 1 : dollar + 2]
        if nxt == "$":
            out.append("$")
            i = dollar + 2
        elif nxt == "{":
            close = _matching_brace(text, dollar + 1)
            match = _BRACED.fullmatch(text[dollar + 2 : close]) if close != -1 else None
            if match is None:
                raise InterpolationError(f"invalid interpolation format in {text!r}")
            out.append(
                _apply_operator(match["name"], match["op"], match["arg"] or "", environ, depth)
            )
            i = close + 1
        elif name := _NAME.match(text, dollar + 1):
            out.append(environ.get(name.group(), ""))
            i = name.end()
        else:
            raise InterpolationError(
                f"invalid interpolation format in {text!r} (use $$ for a literal $)"
            )
    out.append(text[i:])
    return "".join(out)


def _matching_brace(text: str, open_at: int) -> int:
    depth = 0
    for pos in range(open_at, len(text)):
        if text[pos] == "{":
            depth += 1
        elif text[pos] == "}":
            depth -= 1
            if depth == 0:
                return pos
    return -1


def _apply_operator(
    name: str, op: str | None, arg: str, environ: Mapping[str, str], depth: int
) -> str:
    value = environ.get(name)
    kind = op[-1] if op else None
    # With a colon, an empty value counts as unset (POSIX shell semantics, as in Compose).
    if value is None or (op is not None and op.startswith(":") and value == ""):
        if kind == "-":
            return interpolate_string(arg, environ, depth + 1)
        if kind == "?":
            raise InterpolationError(
                f"required variable {name} is missing a value: {arg or 'not set'}"
            )
        return ""
    if kind == "+":
        return interpolate_string(arg, environ, depth + 1)
    return value


def interpolate_tree(node: Any, environ: Mapping[str, str], path: str = "") -> Any:
    """Interpolate every string in a parsed YAML tree; errors name the key path."""
    if isinstance(node, dict):
        return {
            k: interpolate_tree(v, environ, f"{path}.{k}" if path else str(k))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [interpolate_tree(v, environ, f"{path}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str):
        try:
            return interpolate_string(node, environ)
        except InterpolationError as exc:
            raise InterpolationError(f"{path}: {exc}") from None
    return node
