"""The engine registry (engines/registry.py): declarations that hold on the real engines.

Real F5-TTS / XTTS code on the tiny models of engines.testing (tests/engines/conftest.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engines import get_engine
from engines.errors import EngineConfigError, EngineError, ReferenceAudioError, VoiceMismatchError
from engines.profiles import PROFILES
from engines.registry import ENGINE_NAMES, ENGINES, get_spec
from engines.settings import EngineSettings
from engines.vram import VramManager, get_vram_manager

REPO = Path(__file__).resolve().parents[2]
REF_TEXT = "this is the reference clip."


@pytest.fixture(scope="module")
def engines(tiny_models, ref_wav):
    """One engine of each registered kind on its own manager, with a voice it prepared."""
    from engines.settings import load_settings

    settings = load_settings(**{k.lower(): v for k, v in tiny_models.items()})
    built = {}
    for spec in ENGINES:
        engine = get_engine(spec.name, settings=settings, vram_manager=VramManager(settings))
        built[spec.name] = (engine, engine.prepare_voice(ref_wav, ref_text=REF_TEXT, language="en"))
    yield built
    for engine, _ in built.values():
        engine.unload()


def test_the_registry_imports_without_torch():
    """The API reads engine names, profiles and needs from it without the ML stack."""
    code = (
        "import sys, engines.registry, service.settings, service.validation; "
        "print([m for m in ('torch', 'numpy', 'f5_tts', 'TTS', 'engines.f5tts', 'engines.xtts') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("spec", ENGINES, ids=lambda s: s.name)
def test_each_registration_is_consistent(spec):
    cls = spec.load_class()
    assert cls.name == spec.name  # the VRAM key and the voice's engine are the registered name
    assert spec.device_setting in EngineSettings.model_fields
    assert spec.profiles and spec.default_profile in spec.profile_names
    # each profile is the engine's own, and the lookup finds the very object registered
    assert all(p.engine == spec.name and PROFILES[p.name] is p for p in spec.profiles)


def test_names_come_from_the_registry():
    import engines

    assert engines.ENGINE_NAMES == ENGINE_NAMES == tuple(spec.name for spec in ENGINES)
    assert get_spec(" F5-TTS ").name == "f5tts" and get_spec("x_tts").name == "xtts"
    with pytest.raises(EngineConfigError, match="unknown engine 'bark'; accepted: f5tts, xtts"):
        get_spec("bark")


@pytest.mark.parametrize("spec", ENGINES, ids=lambda s: s.name)
def test_the_declared_ref_text_need_is_what_prepare_voice_does(engines, ref_wav, spec):
    engine, _ = engines[spec.name]
    if spec.needs_ref_text:
        with pytest.raises(ReferenceAudioError, match="ref_text"):
            engine.prepare_voice(ref_wav, ref_text=None, language="en")
    else:
        assert engine.prepare_voice(ref_wav, ref_text=None, language="en").engine == spec.name


@pytest.mark.parametrize("spec", ENGINES, ids=lambda s: s.name)
def test_the_device_comes_from_the_registered_setting(make_settings, spec):
    settings = make_settings(**{spec.device_setting: "cpu"})
    engine = get_engine(spec.name, settings=settings, vram_manager=VramManager(settings))
    assert engine.device == "cpu" and engine.spec is spec


@pytest.mark.parametrize("owner, user", [("f5tts", "xtts"), ("xtts", "f5tts")])
def test_another_engines_voice_is_a_typed_error(engines, owner, user):
    _, voice = engines[owner]
    engine, _ = engines[user]
    with pytest.raises(VoiceMismatchError) as info:
        engine.synthesize("Hello world.", voice, language="en")
    assert isinstance(info.value, EngineError) and not isinstance(info.value, KeyError)
    assert str(info.value).startswith(f"voice: prepared by engine {owner!r}")
    assert f"{user} cannot use it" in str(info.value)
    with pytest.raises(VoiceMismatchError):  # keyword arguments too
        engine.synthesize(text="Hello world.", voice=voice, language="en")


def test_an_engines_own_voice_still_synthesizes(engines):
    engine, voice = engines["xtts"]
    assert (
        engine.synthesize("Hello world.", voice, language="en", profile="xtts_fast").duration_s > 0
    )


def test_get_engine_refuses_settings_the_process_manager_was_not_built_with(make_settings):
    normal, low = make_settings(low_vram="false"), make_settings(low_vram="true")
    manager = get_vram_manager(normal)
    assert get_engine("xtts", settings=normal).vram is manager  # same settings: shared
    assert (
        get_engine("xtts", settings=make_settings(low_vram="false")).vram is manager
    )  # equal ones too
    with pytest.raises(
        EngineConfigError, match="LOW_VRAM=False but the engine's settings say LOW_VRAM=True"
    ):
        get_engine("xtts", settings=low)
    assert get_vram_manager() is manager  # the refusal changed nothing


def test_get_engine_refuses_a_given_manager_built_otherwise(make_settings):
    low = make_settings(low_vram="true", vram_offload="none")
    with pytest.raises(EngineConfigError, match="VRAM_OFFLOAD=cpu but .* VRAM_OFFLOAD=none"):
        get_engine("f5tts", settings=low, vram_manager=VramManager(make_settings(low_vram="true")))
