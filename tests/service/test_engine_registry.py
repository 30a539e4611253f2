"""The API's engine rules come from engines/registry.py: names, default profile, what a voice
needs, languages. service/validation.py called directly on a real VoiceStore (no server)."""

from __future__ import annotations

import dataclasses

import pytest

from engines import registry
from service import validation as v
from service.auth import Principal
from service.schemas import JobCreate
from service.settings import DEFAULT_LANGUAGES, ServiceSettingsError, load_service_settings

OWNER = Principal("a" * 16, False)


@pytest.fixture
def settings(tmp_path):
    # "th": a language the operator allows that XTTS does not declare
    return load_service_settings(data_dir=tmp_path, api_keys="", supported_languages="en,pt,th")


@pytest.fixture
def store(tmp_path):
    return v.VoiceStore(tmp_path / "voices")


def voice(store, ref_text) -> str:
    meta = store.create("n", "pt", ref_text, b"RIFF....", "wav", "job", {}, owner=OWNER.owner)
    store.update(meta["voice_id"], status="ready")
    return meta["voice_id"]


def rejected(call, *args) -> str:
    with pytest.raises(v.RequestRejected) as info:
        call(*args)
    assert info.value.status == 422
    return str(info.value)


def test_settings_read_engine_names_and_languages_from_the_registry(tmp_path):
    assert load_service_settings(default_engine=" XTTS ", api_keys="").default_engine == "xtts"
    with pytest.raises(ServiceSettingsError) as info:
        load_service_settings(default_engine="bark", api_keys="")
    assert str(info.value) == "DEFAULT_ENGINE: unknown engine; accepted: f5tts, xtts (got 'bark')"
    assert DEFAULT_LANGUAGES.split(",") == list(registry.XTTS_LANGUAGES)


def test_engine_and_default_profile_resolve_through_the_registry(settings):
    assert v.resolve_engine("X-TTS", None, settings) == ("xtts", "xtts_balanced")
    assert v.resolve_engine(None, None, settings) == (
        "f5tts",
        registry.get_spec("f5tts").default_profile,
    )
    assert (
        rejected(v.resolve_engine, "bark", None, settings)
        == "engine: unknown engine 'bark'; accepted: f5tts, xtts"
    )


def test_the_ref_text_need_is_the_engines_declaration(settings, store, monkeypatch):
    untranscribed = voice(store, ref_text=None)
    job = JobCreate(text="Ola", language="pt", voice_id=untranscribed)
    assert rejected(v.check_voice, job, "f5tts", settings, store, OWNER) == (
        f"voice_id: voice {untranscribed} has no ref_text; F5-TTS needs the transcript of the "
        "reference audio (clone it with ref_text) or use engine=xtts"
    )
    assert v.check_voice(job, "xtts", settings, store, OWNER) == untranscribed
    # Declared by the registration, not by the name: flip it and the rule follows.
    flipped = tuple(
        dataclasses.replace(s, needs_ref_text=not s.needs_ref_text) for s in registry.ENGINES
    )
    monkeypatch.setattr(registry, "ENGINES", flipped)
    monkeypatch.setattr(registry, "_BY_NAME", {s.name: s for s in flipped})
    assert v.check_voice(job, "f5tts", settings, store, OWNER) == untranscribed
    assert rejected(v.check_voice, job, "xtts", settings, store, OWNER).endswith(
        "XTTS needs the transcript of the reference audio (clone it with ref_text) or use engine=f5tts"
    )


def test_engines_for_a_voice():
    assert registry.engines_for_voice(has_ref_text=True) == ["f5tts", "xtts"]
    assert registry.engines_for_voice(has_ref_text=False) == ["xtts"]


def test_a_language_the_engine_does_not_declare_is_refused_at_submission(settings, store):
    voice_id = voice(store, ref_text="a transcript")
    job = JobCreate(text="Ola", language="th-TH", voice_id=voice_id, engine="xtts")
    message = rejected(v.resolve_job, job, settings, store, OWNER)
    assert message.startswith(
        "language: 'th-TH' is not supported by engine xtts; accepted: en, es,"
    )
    f5 = v.resolve_job(job.model_copy(update={"engine": "f5tts"}), settings, store, OWNER)
    assert (f5.engine, f5.language) == ("f5tts", "th-TH")  # F5-TTS declares no list of its own
    pt = v.resolve_job(job.model_copy(update={"language": "pt-BR"}), settings, store, OWNER)
    assert (pt.engine, pt.language) == ("xtts", "pt-BR")
