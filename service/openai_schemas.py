"""The OpenAI-compatible API's request and response models (``/v1``), after OpenAI's audio API
reference: ``POST /v1/audio/speech``, ``GET /v1/models``; ``GET /v1/audio/voices`` lists the
caller's cloned voices."""

from __future__ import annotations

from enum import Enum
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from engines.registry import ENGINE_NAMES
from service.schemas import KeepAlive

# model -> (engine or None for DEFAULT_ENGINE, profile tier or None for the engine's default).
# Every engine is a model; OpenAI's names map to speed/quality tiers of whichever engine the
# operator runs by default.
MODELS: dict[str, tuple[Optional[str], Optional[str]]] = {
    **{name: (name, None) for name in ENGINE_NAMES},
    "tts-1": (None, "fast"),
    "tts-1-hd": (None, "quality"),
    "gpt-4o-mini-tts": (None, "balanced"),
}
# OpenAI's built-in voice names: usable only through VOICE_ALIASES.
OPENAI_VOICES = frozenset(
    {
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "nova",
        "onyx",
        "sage",
        "shimmer",
        "verse",
        "marin",
        "cedar",
    }
)


class SpeechFormat(str, Enum):
    mp3 = "mp3"
    opus = "opus"
    aac = "aac"
    flac = "flac"
    wav = "wav"
    pcm = "pcm"


class StreamFormat(str, Enum):
    audio = "audio"
    sse = "sse"


class VoiceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(..., max_length=100)


class SpeechRequest(BaseModel):
    # Unknown fields are a 400, as on OpenAI ("Unrecognized request argument").
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "model": "tts-1",
                "input": "Olá! Este é um teste.",
                "voice": "minha-voz",
                "response_format": "mp3",
            }
        },
    )

    model: str = Field(..., max_length=64, description=f"One of {', '.join(MODELS)}.")
    input: str = Field(..., description="Text to speak (at most MAX_TEXT_CHARS characters).")
    voice: Union[str, VoiceRef] = Field(
        ...,
        description=(
            "A cloned voice's id or name (GET /v1/audio/voices), or an OpenAI voice name mapped by "
            "the operator in VOICE_ALIASES."
        ),
    )
    response_format: SpeechFormat = SpeechFormat.mp3
    speed: float = Field(1.0, ge=0.25, le=4.0, description="Speaking rate, 1.0 = normal.")
    instructions: Optional[str] = Field(
        None,
        max_length=4096,
        description=(
            "Accepted for compatibility; neither F5-TTS nor XTTS takes style instructions, so it "
            "is ignored."
        ),
    )
    stream_format: StreamFormat = Field(
        StreamFormat.audio,
        description=("audio: the encoded audio as a chunked body; sse: speech.audio.delta events."),
    )
    language: Optional[str] = Field(
        None,
        max_length=35,
        description=("Extension: language of the input (default: the voice's language)."),
    )
    quality_profile: Optional[str] = Field(
        None,
        max_length=64,
        description=(
            "Extension: an engine profile (e.g. xtts_quality); overrides the model's tier."
        ),
    )
    keep_alive: KeepAlive = None  # extension, as in ollama's API


class OpenAIError(BaseModel):
    message: str
    type: str = Field(
        ...,
        description="invalid_request_error, authentication_error, "
        "permission_error, rate_limit_exceeded or server_error.",
    )
    param: Optional[str] = Field(None, description="The request field at fault, if one is.")
    code: Optional[str] = None


class OpenAIErrorResponse(BaseModel):
    """Every error under /v1 (OpenAI's shape, so the OpenAI SDKs raise their typed errors)."""

    error: OpenAIError


class VoiceEntry(BaseModel):
    id: str
    name: str
    language: str
    status: str
    engines: list[str] = Field(..., description="Engines this voice can be used with now.")


class VoiceListResponse(BaseModel):
    voices: list[VoiceEntry]


class ModelEntry(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "audio-voice"


class ModelListResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelEntry]
