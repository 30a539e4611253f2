"""Read a compose file's YAML within limits (``core/limits.py``).

``yaml.safe_load`` alone trusts its input: a non-UTF-8 file raises ``UnicodeDecodeError``, a
recursive alias (``a: &a [*a]``) makes a cyclic structure that later code recurses into forever, and a
"billion laughs" file (aliases of aliases) expands into gigabytes. Here the file size is capped
before parsing, nesting is capped while composing, and the node graph is walked with aliases
expanded (counting nodes, rejecting cycles) before anything is constructed from it. Every failure
is one ``ComposeFileError`` line naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from audiovoice_ops.core.errors import ComposeFileError
from audiovoice_ops.core.limits import (
    MAX_COMPOSE_FILE_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    read_limited,
)


class _Rejected(Exception):
    """The YAML is well-formed but outside the limits."""


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with a nesting cap while composing (the composer recurses per level)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Rejected(f"nested deeper than {MAX_YAML_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def read_compose_yaml(path: Path) -> Any:
    """The parsed document of ``path`` (None when empty); ``ComposeFileError`` on any problem."""
    text = _read_text(path)
    loader = None
    try:
        loader = _LimitedLoader(text)  # checks for unprintable characters here
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node)
        return loader.construct_document(node)
    except _Rejected as exc:
        raise ComposeFileError(
            f"{path}: YAML rejected: {exc}",
            hint="compose files do not need deep nesting or aliases that multiply",
        ) from None
    except yaml.YAMLError as exc:
        raise ComposeFileError(f"{path}{_line_of(exc)}: invalid YAML: {_problem(exc)}") from None
    except (
        ValueError,
        TypeError,
        OverflowError,
    ) as exc:  # a scalar its tag cannot hold: 2001-13-45
        raise ComposeFileError(
            f"{path}{_line_of(exc)}: invalid YAML: {_first_line(str(exc))}"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()


def _read_text(path: Path) -> str:
    try:
        data = read_limited(path, MAX_COMPOSE_FILE_BYTES, "compose file", ComposeFileError)
    except FileNotFoundError:
        raise ComposeFileError(
            f"compose file not found: {path}",
            hint="run avops from the repository root, or pass --file / set AVOPS_COMPOSE_FILE",
        ) from None
    except OSError as exc:
        raise ComposeFileError(f"cannot read compose file {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ComposeFileError(
            f"{path}: not UTF-8 text (invalid byte at offset {exc.start})",
            hint="save the compose file as UTF-8",
        ) from None


def _check_expansion(root: yaml.Node) -> None:
    """Walk the graph as construction would see it, aliases expanded: reject cycles, bound size and depth."""
    visited = 0
    on_path: set[int] = set()

    def walk(node: yaml.Node, depth: int) -> None:
        nonlocal visited
        visited += 1
        if visited > MAX_YAML_NODES:
            raise _Rejected(f"more than {MAX_YAML_NODES} nodes once aliases are expanded")
        if depth > MAX_YAML_DEPTH:
            raise _Rejected(f"nested deeper than {MAX_YAML_DEPTH} levels once aliases are expanded")
        if isinstance(node, yaml.ScalarNode):
            return
        if id(node) in on_path:
            raise _Rejected("an alias refers to a node that contains it (recursive alias)")
        on_path.add(id(node))
        children = (
            node.value
            if isinstance(node, yaml.SequenceNode)
            else [n for pair in node.value for n in pair]
        )
        for child in children:
            walk(child, depth + 1)
        on_path.discard(id(node))

    walk(root, 1)


def _line_of(exc: BaseException) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f":{mark.line + 1}" if mark is not None else ""


def _problem(exc: yaml.YAMLError) -> str:
    # ReaderError has no `problem`; its str() spans two lines (reason, then position).
    return _first_line(getattr(exc, "problem", None) or str(exc))


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else "unreadable"
