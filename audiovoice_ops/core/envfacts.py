"""The stack's ``.env`` read as facts avops acts on; LOW_VRAM is the one that matters today.

One reading for every command: ``rebuild`` refuses to start without a valid LOW_VRAM, ``check-gpu``
compares it with the GPU's size and ``doctor`` with the worker container and the worker's mode.
The value is the ``.env`` file's, read with Compose's rules (the shell fills bare ``KEY`` lines and
``${VAR}``); the spelling rule is the worker's own (``engines.flags`` through ``parse_bool``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from audiovoice_ops.core.envfile import parse_bool, read_env_file
from audiovoice_ops.core.errors import AvopsError, ConfigError

LOW_VRAM = "LOW_VRAM"


def low_vram_hint() -> str:
    from engines.cuda_check import SMALL_GPU_GB

    return f"add LOW_VRAM=true (GPUs with less than {SMALL_GPU_GB:g} GB) or LOW_VRAM=false"


@dataclass(frozen=True)
class EnvFacts:
    path: Path
    values: Mapping[str, str] = field(default_factory=dict)
    error: AvopsError | None = None  # why the file could not be read (missing, malformed)

    @classmethod
    def read(cls, path: Path, environ: Mapping[str, str]) -> EnvFacts:
        try:
            return cls(path, read_env_file(path, environ))
        except AvopsError as exc:
            return cls(path, {}, exc)

    @property
    def low_vram_raw(self) -> str | None:
        """LOW_VRAM as written (None: not set, or no readable .env)."""
        return self.values.get(LOW_VRAM)

    @property
    def low_vram(self) -> bool | None:
        """LOW_VRAM parsed; None when not set. A bad spelling raises ``ConfigError``."""
        raw = self.low_vram_raw
        return None if raw is None else parse_bool(LOW_VRAM, raw)

    def require_low_vram(self) -> bool:
        """LOW_VRAM, which must be set and valid (the old rebuild script's precondition)."""
        if self.error is not None:
            raise self.error
        if self.low_vram_raw is None:
            raise ConfigError(f"LOW_VRAM is not set in {self.path}", hint=low_vram_hint())
        return parse_bool(LOW_VRAM, self.low_vram_raw)


def low_vram_or_none(value: object) -> bool | None:
    """A LOW_VRAM reading from anywhere (``.env``, a container's env, the worker's JSON), parsed
    with the same rule; None for unset or unparsable, so readings can be compared."""
    if value is None:
        return None
    try:
        return parse_bool(LOW_VRAM, value)
    except ConfigError:
        return None
