"""Service settings: the only module in service/ that reads environment variables.

Engine variables (LOW_VRAM, F5TTS_DEVICE, MODELS_DIR...) belong to ``engines.settings``;
this module only declares what the API and the worker themselves need. Invalid values
fail at startup with one line naming the variable.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EngineName = Literal["f5tts", "xtts"]

# XTTS v2's languages; the API accepts a tag when its base ("pt" of "pt-BR") is listed.
DEFAULT_LANGUAGES = "en,es,fr,de,it,pt,pl,tr,ru,nl,cs,ar,zh-cn,ja,hu,ko,hi"


MIN_KEY_CHARS = 16
SECRET_SETTINGS = ("API_KEYS", "ADMIN_API_KEYS")  # never echoed in error messages
_DIGEST_RE = re.compile(r"^sha256:([0-9a-fA-F]{64})$")


def key_digest(key: str) -> bytes:
    """SHA-256 of an API key: the only form keys are held in memory."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def parse_key_list(value: str) -> tuple[bytes, ...]:
    """Comma-separated keys (or ``sha256:<hex>`` digests of keys) -> their SHA-256 digests."""
    digests = []
    for entry in (x.strip() for x in (value or "").split(",")):
        if not entry:
            continue
        if entry.lower().startswith("sha256:"):
            m = _DIGEST_RE.match(entry)
            if m is None:
                raise ValueError("a sha256: entry must be 64 hex digits")
            digests.append(bytes.fromhex(m.group(1)))
        elif len(entry) < MIN_KEY_CHARS:
            raise ValueError(f"a key is shorter than {MIN_KEY_CHARS} characters "
                             "(make one: python -c \"import secrets; print(secrets.token_urlsafe(32))\")")
        else:
            digests.append(key_digest(entry))
    return tuple(digests)


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

    # Authentication: comma-separated keys, or sha256:<hex> digests of keys. Admin keys also
    # act as client keys. No key at all: the API refuses to start unless ALLOW_UNAUTHENTICATED.
    api_keys: str = Field("", repr=False)
    admin_api_keys: str = Field("", repr=False)
    allow_unauthenticated: bool = False
    # Per-key token bucket on POST /jobs and POST /voices/clone (0 = no limit).
    rate_limit_per_minute: float = Field(30.0, ge=0)
    rate_limit_burst: int = Field(10, ge=1)
    # Cap on JSON request bodies (POST /jobs); uploads are capped by MAX_UPLOAD_MB.
    max_json_body_kb: int = Field(64, ge=1)

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
    # Bound of one job attempt: past it the worker stops the task and the API's reaper fails a
    # job whose worker never came back (checked every REAPER_INTERVAL_S). Longer than any job.
    job_deadline_s: float = Field(3600.0, gt=0)
    reaper_interval_s: float = Field(15.0, gt=0)

    @field_validator("default_engine", mode="before")
    @classmethod
    def _lower(cls, value):
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("api_keys", "admin_api_keys")
    @classmethod
    def _keys(cls, value: str):
        parse_key_list(value)  # load_service_settings names the variable
        return value

    @property
    def client_key_digests(self) -> tuple[bytes, ...]:
        return parse_key_list(self.api_keys)

    @property
    def admin_key_digests(self) -> tuple[bytes, ...]:
        return parse_key_list(self.admin_api_keys)

    @property
    def max_json_body_bytes(self) -> int:
        return self.max_json_body_kb * 1024

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
        got = "" if name in SECRET_SETTINGS else f" (got {err.get('input')!r})"
        # pydantic prefixes a validator's own message with "Value error, ": not the user's news.
        message = err["msg"].removeprefix("Value error, ")
        raise ServiceSettingsError(f"{name}: {message}{got}") from None


@lru_cache(maxsize=1)
def get_service_settings() -> ServiceSettings:
    return load_service_settings()
