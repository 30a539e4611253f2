"""Job and form checks the API does before queueing: every failure names its field.

Text rules (one place):
* every string must be encodable as UTF-8: a lone surrogate (``"\\ud800"`` as a JSON escape)
  is a 422, never a job that fails in the worker;
* one-line fields (voice_name) are stripped, must be non-empty after the strip, and may hold no
  control character (C0, DEL, C1: NUL, ESC, CR, LF, ...);
* speech (text, ref_text) is stripped and may hold line breaks and tabs (``\\n \\r \\t``, the
  whitespace of a pasted paragraph) but no other control character;
* a language is a tag: letters, then ``-`` subtags of letters and digits (``pt-BR``, ``zh-cn``),
  whose base must be in SUPPORTED_LANGUAGES.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from engines.errors import SynthesisError
from engines.profiles import PROFILES, profile_names
from engines.registry import ENGINE_NAMES, base_language, engines_for_voice, find_spec, get_spec
from engines.segmenter import check_text as speakable_text
from service.auth import Principal
from service.errors import Rejected
from service.schemas import JobCreate, RequestMode, VoiceStatus
from service.settings import ServiceSettings
from service.voices import VoiceStore

# Unicode category Cc: C0 controls, DEL and C1 controls.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
SPEECH_WHITESPACE = frozenset("\n\r\t")  # controls a pasted paragraph may hold
LANGUAGE_TAG_RE = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")
MAX_VOICE_NAME_CHARS = 100
MAX_REF_TEXT_CHARS = 1000


class RequestRejected(Rejected):
    """A job or form field is not acceptable."""


@dataclass(frozen=True)
class ResolvedJob:
    text: str
    language: str
    voice_id: str
    engine: str
    quality_profile: str


def check_encodable(field: str, value: str) -> str:
    """``value`` unchanged, or a 422 when it holds a lone surrogate (not encodable text)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RequestRejected(
            f"{field}: not valid Unicode text (unpaired surrogate "
            f"{value[exc.start]!r} at character {exc.start})"
        ) from None
    return value


def _check_controls(field: str, value: str, allowed: frozenset = frozenset()) -> str:
    for found in CONTROL_RE.finditer(value):
        if found.group() not in allowed:
            raise RequestRejected(
                f"{field}: control character {found.group()!r} at character "
                f"{found.start()} is not allowed"
            )
    return value


def check_name(field: str, value: str, max_chars: int) -> str:
    """A one-line name: stripped, non-empty, no control characters."""
    name = check_encodable(field, value or "").strip()
    if not name:
        raise RequestRejected(f"{field}: empty (only whitespace)")
    if len(name) > max_chars:
        raise RequestRejected(f"{field}: {len(name)} characters; at most {max_chars} allowed")
    return _check_controls(field, name)


def check_speech(field: str, value: str, max_chars: int, setting: str = "") -> str:
    """Text to speak or a transcript: stripped; line breaks and tabs allowed, other controls not.
    Empty after the strip is returned as '' (the caller decides whether that is an error)."""
    text = check_encodable(field, value or "").strip()
    if len(text) > max_chars:
        raise RequestRejected(
            f"{field}: {len(text)} characters; at most {max_chars} allowed"
            + (f" ({setting})" if setting else "")
        )
    return _check_controls(field, text, SPEECH_WHITESPACE)


def check_text(text: str, settings: ServiceSettings) -> str:
    text = check_speech("text", text, settings.max_text_chars, "MAX_TEXT_CHARS")
    try:  # the engines' own rule (empty, nothing to speak), refused before a job exists
        return speakable_text(text)
    except SynthesisError as exc:
        raise RequestRejected(str(exc)) from None


def check_ref_text(ref_text: Optional[str]) -> Optional[str]:
    return check_speech("ref_text", ref_text or "", MAX_REF_TEXT_CHARS) or None


def check_voice_name(voice_name: str) -> str:
    return check_name("voice_name", voice_name, MAX_VOICE_NAME_CHARS)


def check_language(language: str, settings: ServiceSettings) -> str:
    tag = check_encodable("language", language or "").strip()
    if not LANGUAGE_TAG_RE.match(tag) or base_language(tag) not in settings.languages:
        raise RequestRejected(
            f"language: {language!r} is not supported; accepted: "
            f"{', '.join(settings.languages)} (region tags like pt-BR allowed)"
        )
    return tag


def resolve_engine(
    engine: Optional[str], profile: Optional[str], settings: ServiceSettings
) -> tuple[str, str]:
    """(engine, profile): an explicit engine wins, else the profile's, else DEFAULT_ENGINE."""
    if engine is not None:
        spec = find_spec(engine)
        if spec is None:
            raise RequestRejected(
                f"engine: unknown engine {engine!r}; accepted: {', '.join(ENGINE_NAMES)}"
            )
        engine = spec.name
    if profile is not None:
        prof = PROFILES.get(profile)
        if prof is None:
            raise RequestRejected(
                f"quality_profile: unknown profile {profile!r}; accepted: "
                f"{', '.join(profile_names())}"
            )
        if engine is not None and prof.engine != engine:
            raise RequestRejected(
                f"quality_profile: {profile!r} is a {prof.engine} profile but "
                f"engine={engine}; accepted: {', '.join(profile_names(engine))}"
            )
        return prof.engine, profile
    engine = engine or settings.default_engine
    return engine, get_spec(engine).default_profile


def check_engine_language(language: str, engine: str) -> str:
    """A language the engine declares (XTTS's list), beyond SUPPORTED_LANGUAGES' check."""
    spec = get_spec(engine)
    if not spec.supports(language):
        raise RequestRejected(
            f"language: {language!r} is not supported by engine {engine}; "
            f"accepted: {', '.join(spec.languages or ())}"
        )
    return language


def may_use_voice(meta: dict, principal: Principal, settings: ServiceSettings) -> bool:
    """The owner and admin keys may use a voice; DEFAULT_VOICE_ID is the operator's voice,
    shared with every key for synthesis (not for reading or deleting)."""
    return principal.may_see(meta.get("owner")) or meta["voice_id"] == settings.default_voice_id


def check_voice(
    req: JobCreate, engine: str, settings: ServiceSettings, voices: VoiceStore, principal: Principal
) -> str:
    plain = req.mode == RequestMode.dubbing
    voice_id = req.voice_id or (settings.default_voice_id if plain else None)
    if not voice_id:
        hint = " (or set DEFAULT_VOICE_ID)" if plain else "; clone one with POST /voices/clone"
        raise RequestRejected(f"voice_id: required for mode={req.mode.value}{hint}")
    meta = voices.get(voice_id)
    if meta is None or not may_use_voice(meta, principal, settings):
        raise RequestRejected(f"voice_id: no voice {voice_id!r}", 404)  # another key's: the same
    if meta["status"] == VoiceStatus.failed.value:
        raise RequestRejected(
            f"voice_id: voice {voice_id} failed validation: {meta.get('error')}", 409
        )
    spec = get_spec(engine)
    if spec.needs_ref_text and not (meta.get("ref_text") or "").strip():
        others = engines_for_voice(has_ref_text=False)
        raise RequestRejected(
            f"voice_id: voice {voice_id} has no ref_text; {spec.label} needs the "
            "transcript of the reference audio (clone it with ref_text)"
            + (f" or use engine={'/'.join(others)}" if others else "")
        )
    return voice_id


def resolve_job(
    req: JobCreate, settings: ServiceSettings, voices: VoiceStore, principal: Principal
) -> ResolvedJob:
    text = check_text(req.text, settings)
    language = check_language(req.language, settings)
    engine, profile = resolve_engine(req.engine, req.quality_profile, settings)
    check_engine_language(language, engine)
    voice_id = check_voice(req, engine, settings, voices, principal)
    return ResolvedJob(text, language, voice_id, engine, profile)
