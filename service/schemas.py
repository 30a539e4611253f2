"""Request and response models: the API's contract and its OpenAPI schema."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# /health and /admin/vram answer the contracts avops and the worker share (defined once there).
from engines.contracts import HealthCheck, HealthResponse, VramResponse  # noqa: F401 (re-exported)
from engines.settings import KEEP_ALIVE_RULE, check_keep_alive


def _keep_alive(value: Optional[float]) -> Optional[float]:
    if value is not None:
        check_keep_alive(value)
    return value


# A job's own keep-alive (ollama's `keep_alive`), for POST /jobs and /v1/audio/speech alike.
KeepAlive = Annotated[
    Optional[float],
    Field(
        None,
        description=f"Seconds the model stays on the GPU after this job ({KEEP_ALIVE_RULE}); "
        "capped at the worker's MODEL_KEEP_ALIVE_MAX; default MODEL_KEEP_ALIVE.",
    ),
    AfterValidator(_keep_alive),
]


class JobStatus(str, Enum):
    queued = "queued"
    processing = "processing"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"  # the client of a speech request went away, or it waited too long


class JobMode(str, Enum):
    dubbing = "dubbing"  # a stored voice (voice_id or DEFAULT_VOICE_ID)
    dubbing_with_clone = "dubbing_with_clone"  # a voice cloned through /voices/clone
    clone = "clone"  # internal: the job created by POST /voices/clone
    speech = "speech"  # internal: a streamed /v1/audio/speech request


class RequestMode(str, Enum):
    dubbing = "dubbing"
    dubbing_with_clone = "dubbing_with_clone"


class VoiceStatus(str, Enum):
    pending = "pending"  # uploaded, the worker has not validated it yet
    ready = "ready"
    failed = "failed"


class ErrorResponse(BaseModel):
    detail: str = Field(..., description="What was wrong, naming the field or resource.")


class JobCreate(BaseModel):
    # Unknown fields are an error (422), not silently ignored.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "mode": "dubbing_with_clone",
                "text": "Este é um teste.",
                "language": "pt-BR",
                "voice_id": "82f8f815-ac80-4415-8091-7ebf833912ca",
                "quality_profile": "f5tts_balanced",
            }
        },
    )

    mode: RequestMode = Field(
        RequestMode.dubbing_with_clone,
        description="dubbing: a stored voice (voice_id or DEFAULT_VOICE_ID); "
        "dubbing_with_clone: a voice cloned through /voices/clone.",
    )
    text: str = Field(..., description="Text to speak (at most MAX_TEXT_CHARS characters).")
    language: str = Field(
        ..., max_length=35, description="Language tag, e.g. pt-BR; its base must be supported."
    )
    voice_id: Optional[str] = Field(
        None,
        max_length=64,
        description="A voice from /voices; required for dubbing_with_clone, else DEFAULT_VOICE_ID.",
    )
    quality_profile: Optional[str] = Field(
        None,
        max_length=64,
        description="e.g. f5tts_balanced, xtts_fast; default: the engine's balanced profile.",
    )
    engine: Optional[str] = Field(
        None,
        max_length=32,
        description="f5tts | xtts; default: the profile's engine, else DEFAULT_ENGINE.",
    )
    keep_alive: KeepAlive = None


class JobTimings(BaseModel):
    queue_wait_s: Optional[float] = Field(None, description="Created until a worker took it.")
    voice_prep_s: Optional[float] = Field(None, description="Reference decode / conditioning.")
    load_s: Optional[float] = Field(None, description="Model load or swap onto the device.")
    inference_s: Optional[float] = None
    first_audio_s: Optional[float] = Field(
        None, description="Speech requests: synthesis start until the first segment was sent."
    )
    write_s: Optional[float] = Field(None, description="Encoding and writing the WAV.")
    total_s: Optional[float] = Field(None, description="Worker start to finish.")


class JobAccepted(BaseModel):
    job_id: str
    status: JobStatus = JobStatus.queued
    status_url: str


class JobInfo(BaseModel):
    job_id: str
    status: JobStatus
    mode: JobMode
    language: Optional[str] = None
    voice_id: Optional[str] = None
    quality_profile: Optional[str] = None
    engine: Optional[str] = None
    device: Optional[str] = Field(None, description="Where inference actually ran (cuda|cpu).")
    error: Optional[str] = None
    text_chars: Optional[int] = None
    attempts: int = 0
    created_at: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    timings: JobTimings = Field(default_factory=JobTimings)
    audio_url: Optional[str] = None
    audio_duration_s: Optional[float] = None


class VoiceInfo(BaseModel):
    voice_id: str
    name: str
    language: str
    status: VoiceStatus
    ref_text: Optional[str] = None
    duration_s: Optional[float] = None
    sample_rate: Optional[int] = None
    error: Optional[str] = None
    created_at: str
    job_id: Optional[str] = Field(None, description="The clone job that validates this voice.")
    owner: Optional[str] = Field(
        None,
        description=(
            "Key id (first 16 hex digits of the SHA-256 of the API key) of the key that cloned it; "
            "null: made before owners were recorded, or on an open API (admin keys only see those)."
        ),
    )


class VoiceCloneAccepted(BaseModel):
    voice_id: str
    job_id: str
    status: VoiceStatus = VoiceStatus.pending
    status_url: str


class VoiceList(BaseModel):
    voices: list[VoiceInfo]
