"""Both engines on tiny models saved to disk, loaded through the engines' real loading code."""

import gc

import numpy as np
import pytest
import soundfile as sf

from engines import get_engine
from engines.errors import EngineConfigError, ReferenceAudioError, SynthesisError
from engines.vram import VramManager

TEXT = "Hello world, this is a short test."


@pytest.fixture
def engine_for(make_settings):
    def make(name, **overrides):
        settings = make_settings(**overrides)
        return get_engine(name, settings=settings, vram_manager=VramManager(settings))

    return make


@pytest.mark.parametrize("name,profile", [("f5tts", "f5tts_fast"), ("xtts", "xtts_fast")])
@pytest.mark.parametrize("low_vram", [False, True])
def test_engine_produces_finite_audio(engine_for, ref_wav, caplog, name, profile, low_vram):
    engine = engine_for(name, low_vram=low_vram)
    engine.load()
    voice = engine.prepare_voice(ref_wav, ref_text="this is the reference clip.", language="en")
    with caplog.at_level("INFO"):
        result = engine.synthesize(TEXT, voice, language="en", profile=profile)
    assert result.waveform.dtype == np.float32 and result.waveform.ndim == 1
    assert np.isfinite(result.waveform).all() and np.abs(result.waveform).max() <= 1.0
    assert result.sample_rate == 24000 and result.device == engine.device
    assert 0.2 < result.duration_s < 30  # plausible length for one sentence
    assert {"load_s", "infer_s", "total_s"} <= set(result.timings)
    assert f"synthesis complete: duration={result.duration_s:.2f}s" in caplog.text
    assert f"low_vram={low_vram}" in caplog.text
    stats = engine.vram.stats()
    assert stats["loads"] == 1 and stats["resident_models"][0]["key"] == name
    engine.unload()
    assert engine.vram.resident() == []


def test_f5_device_log_and_profiles_change_steps(engine_for, ref_wav, caplog, monkeypatch):
    with caplog.at_level("INFO"):
        engine = engine_for("f5tts", f5tts_device="cpu")
    assert "F5TtsEngine initializing on device: cpu" in caplog.text
    import f5_tts.infer.utils_infer as ui

    seen = []
    real = ui.infer_batch_process

    def spy(*args, **kwargs):
        seen.append(kwargs["nfe_step"])
        return real(*args, **kwargs)

    monkeypatch.setattr(ui, "infer_batch_process", spy)
    voice = engine.prepare_voice(ref_wav, ref_text="reference.")
    for profile in ("f5tts_fast", "f5tts_balanced"):
        engine.synthesize("Hi there, friend.", voice, profile=profile)
    assert seen == [16, 32]


def test_f5_low_vram_offload_none_frees_model(engine_for, ref_wav):
    engine = engine_for("f5tts", low_vram=True, vram_offload="none")
    voice = engine.prepare_voice(ref_wav, ref_text="reference.")
    engine.synthesize("One more test.", voice)
    gc.collect()
    assert engine.vram.resident() == [] and engine.vram.stats()["unloads"] == 1


def test_f5_needs_ref_text(engine_for, ref_wav):
    engine = engine_for("f5tts")
    with pytest.raises(ReferenceAudioError, match="ref_text"):
        engine.prepare_voice(ref_wav)


def test_xtts_rejects_unknown_language(engine_for, ref_wav):
    engine = engine_for("xtts")
    voice = engine.prepare_voice(ref_wav, language="en")
    with pytest.raises(SynthesisError, match="language"):
        engine.synthesize(TEXT, voice, language="tlh")


def test_empty_text_and_wrong_profile(engine_for, ref_wav):
    engine = engine_for("xtts")
    voice = engine.prepare_voice(ref_wav)
    with pytest.raises(SynthesisError, match="empty text"):
        engine.synthesize("   ", voice)
    with pytest.raises(SynthesisError, match="profile"):
        engine.synthesize(TEXT, voice, profile="f5tts_fast")


@pytest.mark.parametrize("name", ["f5tts", "xtts"])
def test_bad_reference_audio(engine_for, tmp_path, name):
    engine = engine_for(name)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF....WAVEnot really audio" * 10)
    short = tmp_path / "short.wav"
    sf.write(short, np.full(2205, 0.1, dtype=np.float32), 22050)
    silent = tmp_path / "silent.flac"
    sf.write(silent, np.zeros(44100, dtype=np.float32), 22050)
    cases = {
        garbage: "not decodable",
        short: "at least",
        silent: "silent",
        tmp_path / "missing.wav": "not found",
    }
    for path, fragment in cases.items():
        with pytest.raises(ReferenceAudioError, match=fragment):
            engine.prepare_voice(path, ref_text="reference.")


def test_reference_is_mono_mixed_resampled_and_trimmed(tmp_path):
    from engines.audio import load_reference
    from engines.testing import write_test_wav

    path = write_test_wav(tmp_path / "long.ogg", seconds=15.0, sample_rate=44100, channels=2)
    ref = load_reference(path, target_sr=24000, max_seconds=12.0)
    assert ref.samples.ndim == 1 and ref.sample_rate == 24000 and ref.trimmed
    assert abs(ref.duration_s - 12.0) < 0.01 and abs(ref.original_duration_s - 15.0) < 0.01


def test_missing_model_files_are_config_errors(make_settings, tmp_path):
    settings = make_settings(xtts_model_dir=str(tmp_path))
    with pytest.raises(EngineConfigError, match="XTTS_MODEL_DIR"):
        get_engine("xtts", settings=settings, vram_manager=VramManager(settings))
    settings = make_settings(f5tts_ckpt_file=str(tmp_path / "nope.safetensors"))
    with pytest.raises(EngineConfigError, match="F5TTS_CKPT_FILE: file not found"):
        get_engine("f5tts", settings=settings, vram_manager=VramManager(settings))
    with pytest.raises(EngineConfigError, match="unknown engine"):
        get_engine("bark", settings=settings)


def test_engines_follow_the_protocol(engine_for):
    from engines.base import TtsEngine

    for name in ("f5tts", "xtts"):
        assert isinstance(engine_for(name), TtsEngine)


def test_build_tiny_models_env(tiny_models):
    from pathlib import Path

    assert set(tiny_models) == {
        "F5TTS_CKPT_FILE",
        "F5TTS_VOCAB_FILE",
        "F5TTS_MODEL_CONFIG",
        "VOCOS_DIR",
        "XTTS_MODEL_DIR",
        "MODELS_DIR",
    }
    assert all(Path(p).exists() for p in tiny_models.values())
