"""Service settings: the only module in service/ that reads environment variables.

Engine variables (LOW_VRAM, F5TTS_DEVICE, MODELS_DIR...) belong to ``engines.settings``;
this module only declares what the API and the worker themselves need. Invalid values
fail at startup with one line naming the variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EngineName = Literal["f5tts", "xtts"]

# XTTS v2's languages; the API accepts a tag when its base ("pt" of "pt-BR") is listed.
DEFAULT_LANGUAGES = "en,es,fr,de,it,pt,pl,tr,ru,nl,cs,ar,zh-cn,ja,hu,ko,hi"


class ServiceSettingsError(ValueError):
    """A service setting is invalid; the message names the variable."""


class ServiceSettings(BaseSettings):
    """Field NAME is read from env var NAME upper-cased (see .env.example)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    redis_url: str = "redis://redis:6379/0"
    data_dir: Path = Path("/data")
    api_host: str = "0.0.0.0"
    api_port: int = Field(8005, ge=1, le=65535)
    log_level: str = "INFO"

    default_engine: EngineName = "f5tts"
    supported_languages: str = DEFAULT_LANGUAGES
    default_voice_id: str = ""  # voice used by mode=dubbing when the request names none
    # Normal mode (LOW_VRAM=false): engines warmed into VRAM when the worker child starts.
    preload_engines: str = ""

    max_upload_mb: float = Field(20.0, gt=0)
    min_reference_seconds: float = Field(1.0, ge=0)
    max_reference_seconds: float = Field(60.0, gt=0)
    max_text_chars: int = Field(5000, ge=1)

    job_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)  # job records expire from Redis after this
    # A message whose worker died is redelivered after this many seconds: longer than any job.
    job_visibility_timeout_s: int = Field(3600, ge=1)
    max_job_attempts: int = Field(2, ge=1)  # worker lost mid-job: re-run at most this often
    vram_heartbeat_s: float = Field(10.0, gt=0)
    worker_stale_s: float = Field(45.0, gt=0)  # /health: no heartbeat for this long = no worker

    @field_validator("default_engine", mode="before")
    @classmethod
    def _lower(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def languages(self) -> list[str]:
        return [x.strip().lower() for x in self.supported_languages.split(",") if x.strip()]

    @property
    def voices_dir(self) -> Path:
        return self.data_dir / "voices"

    @property
    def outputs_dir(self) -> Path:
        return self.data_dir / "outputs"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)


def load_service_settings(**overrides) -> ServiceSettings:
    try:
        return ServiceSettings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err.get("loc") else "settings"
        raise ServiceSettingsError(f"{name}: {err['msg']} (got {err.get('input')!r})") from None


@lru_cache(maxsize=1)
def get_service_settings() -> ServiceSettings:
    return load_service_settings()
