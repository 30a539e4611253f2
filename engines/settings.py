"""Engine settings: the only place in engines/ that reads environment variables.

Every variable, its type and default is declared on ``EngineSettings``. Invalid values
raise ``EngineConfigError`` with a one-line message naming the variable, so a worker
fails at startup instead of at the first job.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from engines.errors import EngineConfigError
from engines.flags import ACCEPTED_BOOLS, parse_bool  # the rule avops shares (re-exported)
from engines.precision import Fp16Setting, effective_setting

logger = logging.getLogger(__name__)

DeviceChoice = Literal["auto", "cuda", "cpu"]
KEEP_FOREVER = -1.0  # keep_alive: never leave the GPU for idleness
KEEP_ALIVE_RULE = "keep_alive must be -1 (forever), 0 (leave at once) or a number of seconds > 0"


def check_keep_alive(value: float) -> None:
    """The one rule for a keep_alive (settings, job requests): ValueError with the rule."""
    if value != KEEP_FOREVER and not (0 <= value < float("inf")):
        raise ValueError(KEEP_ALIVE_RULE)


class EngineSettings(BaseSettings):
    """Settings for the TTS runtime; field NAME is read from env var NAME upper-cased."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    low_vram: bool = False
    f5tts_device: DeviceChoice = "auto"
    xtts_device: DeviceChoice = "auto"
    # fp16 policy (engines.precision): FP16 for all engines, F5TTS_FP16 / XTTS_FP16 override it
    # (unset or empty: FP16).
    fp16: Fp16Setting = "auto"
    f5tts_fp16: Optional[Fp16Setting] = None
    xtts_fp16: Optional[Fp16Setting] = None
    device_fallback_to_cpu: bool = True
    vram_offload: Literal["cpu", "none"] = "cpu"
    vram_reserve_mb: int = Field(512, ge=0)
    # Bounded wait for the driver to report freed memory before the next load.
    vram_release_timeout_s: float = Field(5.0, ge=0)
    # Seconds an idle model stays on the GPU after its last job (ollama's keep_alive): 0 = leave
    # at once, -1 = forever; unset = 0 with LOW_VRAM, -1 without (the seed's two modes).
    model_keep_alive: Optional[float] = None
    # The longest keep_alive a job may ask for (-1: no bound).
    model_keep_alive_max: float = 3600.0
    models_dir: Path = Path("/app/models")
    f5tts_ckpt_file: Optional[Path] = None
    f5tts_vocab_file: Optional[Path] = None
    f5tts_model_config: Optional[Path] = None
    vocos_dir: Optional[Path] = None
    xtts_model_dir: Optional[Path] = None

    _raw: dict = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, data: Any, handler):
        # Keep what the environment said so startup can log "env=... parsed=...".
        settings = handler(data)
        if isinstance(data, dict):
            settings._raw = {str(k).lower(): v for k, v in data.items()}
        return settings

    @field_validator("low_vram", "device_fallback_to_cpu", mode="before")
    @classmethod
    def _strict_bool(cls, value: Any) -> bool:
        return parse_bool(value)

    @field_validator("model_keep_alive", mode="before")
    @classmethod
    def _empty_keep_alive(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("model_keep_alive", "model_keep_alive_max")
    @classmethod
    def _keep_alive_range(cls, value: Optional[float]) -> Optional[float]:
        if value is not None:
            check_keep_alive(value)
        return value

    @field_validator("f5tts_device", "xtts_device", "vram_offload", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator(
        "f5tts_ckpt_file",
        "f5tts_vocab_file",
        "f5tts_model_config",
        "vocos_dir",
        "xtts_model_dir",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("fp16", "f5tts_fp16", "xtts_fp16", mode="before")
    @classmethod
    def _fp16_choice(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            if not value:  # empty: an engine's own falls back to FP16, FP16 to its default
                return "auto" if info.field_name == "fp16" else None
        return value

    def fp16_setting(self, engine: str) -> str:
        """The fp16 setting of ``engine`` (``f5tts``, ``xtts``): its own, else ``FP16``."""
        return effective_setting(self.fp16, getattr(self, f"{engine}_fp16", None))

    def raw(self, name: str) -> str:
        """The raw environment value of a setting, or 'NOT_SET'."""
        value = self._raw.get(name.lower())
        return "NOT_SET" if value is None else str(value)

    @property
    def keep_alive_s(self) -> float:
        """MODEL_KEEP_ALIVE, or its default from LOW_VRAM (0 with it, -1 without)."""
        if self.model_keep_alive is not None:
            return self.model_keep_alive
        return 0.0 if self.low_vram else KEEP_FOREVER

    def bounded_keep_alive(self, requested: Optional[float]) -> float:
        """A job's own keep_alive, capped at MODEL_KEEP_ALIVE_MAX; None = the default."""
        if requested is None:
            return self.keep_alive_s
        check_keep_alive(requested)
        limit = self.model_keep_alive_max
        if limit == KEEP_FOREVER:
            return requested
        return limit if requested == KEEP_FOREVER else min(requested, limit)

    @property
    def xtts_dir(self) -> Path:
        """XTTS model directory: XTTS_MODEL_DIR, else MODELS_DIR/xtts."""
        return self.xtts_model_dir or self.models_dir / "xtts"


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    name = str(err["loc"][0]).upper() if err.get("loc") else "settings"
    msg = err["msg"].removeprefix("Value error, ")
    if "input" in err and repr(err["input"]) not in msg and not isinstance(err["input"], dict):
        msg += f" (got {err['input']!r})"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{name}: {msg}{more}"


def load_settings(**overrides: Any) -> EngineSettings:
    """Read settings from the environment (overrides win); raise EngineConfigError if invalid."""
    try:
        return EngineSettings(**overrides)
    except ValidationError as exc:
        raise EngineConfigError(_one_line(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> EngineSettings:
    """Process-wide settings, read and logged once. Tests call ``get_settings.cache_clear()``."""
    settings = load_settings()
    log_settings(settings)
    return settings


def log_settings(settings: EngineSettings) -> None:
    logger.info("LOW_VRAM env=%s parsed=%s", settings.raw("low_vram"), settings.low_vram)
    logger.info(
        "engine settings: F5TTS_DEVICE=%s XTTS_DEVICE=%s DEVICE_FALLBACK_TO_CPU=%s VRAM_OFFLOAD=%s "
        "VRAM_RESERVE_MB=%d MODEL_KEEP_ALIVE=%g MODELS_DIR=%s",
        settings.f5tts_device,
        settings.xtts_device,
        settings.device_fallback_to_cpu,
        settings.vram_offload,
        settings.vram_reserve_mb,
        settings.keep_alive_s,
        settings.models_dir,
    )
    logger.info(
        "precision settings: FP16=%s F5TTS_FP16=%s XTTS_FP16=%s (auto: fp16 where it helps, "
        "never on CPU)",
        settings.fp16,
        settings.fp16_setting("f5tts"),
        settings.fp16_setting("xtts"),
    )


__all__ = [
    "EngineSettings",
    "EngineConfigError",
    "get_settings",
    "load_settings",
    "parse_bool",
    "ACCEPTED_BOOLS",
]
