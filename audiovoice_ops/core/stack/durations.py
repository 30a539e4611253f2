"""Compose durations (``1m30s``, ``500ms``, ``10s``) in seconds."""

from __future__ import annotations

import re

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")


def parse_duration(value: object) -> float:
    """Seconds in a Compose duration; a bare number means seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"invalid duration {value!r}")
    text = value.strip()
    total, pos = 0.0, 0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"invalid duration {value!r} (expected e.g. 30s, 1m30s, 500ms)")
    return total
