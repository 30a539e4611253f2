"""Job request checks the API does before queueing: every failure names its field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from engines import ENGINE_NAMES
from engines.profiles import DEFAULT_PROFILE, PROFILES, profile_names
from service.errors import Rejected
from service.schemas import JobCreate, RequestMode, VoiceStatus
from service.settings import ServiceSettings
from service.voices import VoiceStore


class RequestRejected(Rejected):
    """A job or form field is not acceptable."""


@dataclass(frozen=True)
class ResolvedJob:
    text: str
    language: str
    voice_id: str
    engine: str
    quality_profile: str


def check_text(text: str, settings: ServiceSettings) -> str:
    text = (text or "").strip()
    if not text:
        raise RequestRejected("text: nothing to synthesize (empty text)")
    if len(text) > settings.max_text_chars:
        raise RequestRejected(f"text: {len(text)} characters; at most {settings.max_text_chars} "
                              "allowed (MAX_TEXT_CHARS)")
    return text


def check_language(language: str, settings: ServiceSettings) -> str:
    tag = (language or "").strip()
    base = tag.lower() if tag.lower() == "zh-cn" else tag.lower().split("-")[0]
    if not base or base not in settings.languages:
        raise RequestRejected(f"language: {language!r} is not supported; accepted: "
                              f"{', '.join(settings.languages)} (region tags like pt-BR allowed)")
    return tag


def resolve_engine(engine: Optional[str], profile: Optional[str],
                   settings: ServiceSettings) -> tuple[str, str]:
    """(engine, profile): an explicit engine wins, else the profile's, else DEFAULT_ENGINE."""
    if engine is not None:
        engine = engine.strip().lower().replace("-", "").replace("_", "")
        if engine not in ENGINE_NAMES:
            raise RequestRejected(f"engine: unknown engine {engine!r}; accepted: "
                                  f"{', '.join(ENGINE_NAMES)}")
    if profile is not None:
        prof = PROFILES.get(profile)
        if prof is None:
            raise RequestRejected(f"quality_profile: unknown profile {profile!r}; accepted: "
                                  f"{', '.join(profile_names())}")
        if engine is not None and prof.engine != engine:
            raise RequestRejected(f"quality_profile: {profile!r} is a {prof.engine} profile but "
                                  f"engine={engine}; accepted: {', '.join(profile_names(engine))}")
        return prof.engine, profile
    engine = engine or settings.default_engine
    return engine, DEFAULT_PROFILE[engine]


def check_voice(req: JobCreate, engine: str, settings: ServiceSettings,
                voices: VoiceStore) -> str:
    plain = req.mode == RequestMode.dubbing
    voice_id = req.voice_id or (settings.default_voice_id if plain else None)
    if not voice_id:
        hint = " (or set DEFAULT_VOICE_ID)" if plain else "; clone one with POST /voices/clone"
        raise RequestRejected(f"voice_id: required for mode={req.mode.value}{hint}")
    meta = voices.get(voice_id)
    if meta is None:
        raise RequestRejected(f"voice_id: no voice {voice_id!r}", 404)
    if meta["status"] == VoiceStatus.failed.value:
        raise RequestRejected(f"voice_id: voice {voice_id} failed validation: {meta.get('error')}",
                              409)
    if engine == "f5tts" and not (meta.get("ref_text") or "").strip():
        raise RequestRejected(f"voice_id: voice {voice_id} has no ref_text; F5-TTS needs the "
                              "transcript of the reference audio (clone it with ref_text) or "
                              "use engine=xtts")
    return voice_id


def resolve_job(req: JobCreate, settings: ServiceSettings, voices: VoiceStore) -> ResolvedJob:
    text = check_text(req.text, settings)
    language = check_language(req.language, settings)
    engine, profile = resolve_engine(req.engine, req.quality_profile, settings)
    voice_id = check_voice(req, engine, settings, voices)
    return ResolvedJob(text, language, voice_id, engine, profile)
