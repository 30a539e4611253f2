"""Service settings: the only module in service/ that reads environment variables.

Engine variables (LOW_VRAM, F5TTS_DEVICE, MODELS_DIR...) belong to ``engines.settings``;
this module only declares what the API and the worker themselves need. Invalid values
fail at startup with one line naming the variable.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engines.registry import ENGINE_NAMES, declared_languages, find_spec

# The languages the engines declare (engines/registry.py: XTTS v2's); the API accepts a tag
# when its base ("pt" of "pt-BR") is listed.
DEFAULT_LANGUAGES = ",".join(declared_languages())


MIN_KEY_CHARS = 16
SECRET_SETTINGS = ("API_KEYS", "ADMIN_API_KEYS", "METRICS_TOKEN")  # never echoed in error messages
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
            raise ValueError(
                f"a key is shorter than {MIN_KEY_CHARS} characters "
                '(make one: python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        else:
            digests.append(key_digest(entry))
    return tuple(digests)


def parse_voice_aliases(value: str) -> dict[str, str]:
    """``alloy=<voice id>,echo=<voice id>`` -> {"alloy": id, ...}; names are case-insensitive."""
    aliases: dict[str, str] = {}
    for item in (x.strip() for x in value.split(",")):
        if not item:
            continue
        name, sep, voice_id = (p.strip() for p in item.partition("="))
        if not sep or not name or not voice_id:
            raise ValueError(f"{item!r} is not name=<voice id> (e.g. alloy=<voice id>)")
        if name.lower() in aliases:
            raise ValueError(f"alias {name!r} is given twice")
        aliases[name.lower()] = voice_id
    return aliases


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

    default_engine: str = "f5tts"  # a name registered in engines/registry.py
    supported_languages: str = DEFAULT_LANGUAGES
    default_voice_id: str = ""  # voice used by mode=dubbing when the request names none
    # Normal mode (LOW_VRAM=false): engines warmed into VRAM when the worker child starts.
    preload_engines: str = ""

    max_upload_mb: float = Field(20.0, gt=0)
    min_reference_seconds: float = Field(1.0, ge=0)
    max_reference_seconds: float = Field(60.0, gt=0)
    max_text_chars: int = Field(5000, ge=1)

    job_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)  # job records expire from Redis after this
    # Audio travels to and from workers through Redis (service/blobs.py): a voice's reference
    # stays there this long after its last job (the data volume keeps the durable copy).
    reference_ttl_s: int = Field(7 * 24 * 3600, ge=60)
    # A worker's own cache of fetched audio and voice conditioning (not shared, not durable).
    worker_cache_dir: Path = Path(tempfile.gettempdir()) / "avops-worker-cache"
    worker_cache_mb: float = Field(128.0, gt=0)
    # A message whose worker died is redelivered after this many seconds: longer than any job.
    job_visibility_timeout_s: int = Field(3600, ge=1)
    # How often the workers look for such jobs: redelivery <= visibility timeout + this.
    redelivery_sweep_s: int = Field(5, ge=1)
    max_job_attempts: int = Field(2, ge=1)  # worker lost mid-job: re-run at most this often
    vram_heartbeat_s: float = Field(10.0, gt=0)
    worker_stale_s: float = Field(45.0, gt=0)  # /health: no heartbeat for this long = no worker
    # Bound of one job attempt: past it the worker stops the task and the API's reaper fails a
    # job whose worker never came back (checked every REAPER_INTERVAL_S). Longer than any job.
    job_deadline_s: float = Field(3600.0, gt=0)
    reaper_interval_s: float = Field(15.0, gt=0)
    # /v1/audio/speech. OpenAI's built-in voice names -> cloned voice ids ("alloy=<id>,echo=<id>").
    voice_aliases: str = ""
    # A speech request still queued after this gets 503 + Retry-After (and is cancelled).
    speech_queue_timeout_s: float = Field(30.0, gt=0)
    # No word from the worker (audio or its 2 s ticks) for this long: the stream ends with an error.
    speech_stall_s: float = Field(20.0, gt=0)
    # A request's Redis Stream expires this long after its last entry (a client that went away).
    speech_stream_ttl_s: int = Field(600, ge=10)
    # Backpressure: past this many jobs waiting in the queue, submissions get 503 + Retry-After
    # (0 = no limit). Why 256 and not ollama's 512: service/backpressure.py.
    max_queued_jobs: int = Field(256, ge=0)
    # GET /metrics (Prometheus): off = no HTTP instrumentation and /metrics answers 404.
    metrics_enabled: bool = True
    # Bearer token(s) for /metrics besides the admin keys (comma-separated, or sha256:<hex>).
    metrics_token: str = Field("", repr=False)

    @field_validator("default_engine", mode="before")
    @classmethod
    def _registered_engine(cls, value):
        spec = find_spec(value) if isinstance(value, str) else None
        if spec is None:
            raise ValueError(f"unknown engine; accepted: {', '.join(ENGINE_NAMES)}")
        return spec.name

    @field_validator("voice_aliases")
    @classmethod
    def _aliases(cls, value: str):
        parse_voice_aliases(value)  # load_service_settings names the variable
        return value

    @field_validator("api_keys", "admin_api_keys", "metrics_token")
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
    def metrics_token_digests(self) -> tuple[bytes, ...]:
        return parse_key_list(self.metrics_token)

    @property
    def voice_alias_map(self) -> dict[str, str]:
        return parse_voice_aliases(self.voice_aliases)

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
