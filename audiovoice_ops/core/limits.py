"""Input limits on the files avops reads, in one place (README, "Limits").

A compose file or ``.env`` file is hand-written configuration measured in kilobytes; these bounds are
orders of magnitude above any real stack, and low enough that a hostile or corrupt file (a "billion
laughs" alias bomb, a multi-megabyte env file) fails in milliseconds with one line instead of eating
memory and minutes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from audiovoice_ops.core.errors import AvopsError

MAX_COMPOSE_FILE_BYTES = 1024 * 1024  # 1 MiB of YAML
MAX_ENV_FILE_BYTES = 1024 * 1024  # 1 MiB of KEY=VALUE lines (about 10,000 variables)
MAX_YAML_NODES = 100_000  # nodes after alias expansion: bounds what one alias can multiply into
MAX_YAML_DEPTH = 64  # nesting of mappings and sequences (compose files use about 6)
MAX_INTERPOLATION_DEPTH = 16  # nested defaults such as ${A:-${B:-${C}}}


def describe_bytes(count: int) -> str:
    """``1048576`` -> ``1 MiB``: limits are stated in the unit a person would write them in."""
    if count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    if count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count} bytes"


def read_limited(path: Path, limit: int, what: str, error_type: type[AvopsError]) -> bytes:
    """The bytes of ``path``, or ``error_type`` naming the file and the limit when it is larger.

    Reads at most ``limit + 1`` bytes, so a huge (or endless, like /dev/zero) file costs nothing.
    ``FileNotFoundError`` and other ``OSError`` propagate for the caller's own message.
    """
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise error_type(
            f"{what} {path} is larger than the {describe_bytes(limit)} limit",
            hint="this is not a hand-written configuration file; check the path",
        )
    return data
