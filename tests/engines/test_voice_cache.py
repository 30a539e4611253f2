"""Voice conditioning cached per voice on disk: computed once, reused, invalidated when stale."""

from __future__ import annotations

import shutil

import pytest
import torch

from engines import get_engine
from engines.testing import write_test_wav
from engines.vram import VramManager
from engines.voice_cache import prepare_voice_cached


@pytest.fixture
def xtts(make_settings):
    settings = make_settings(low_vram=True)
    return get_engine("xtts", settings=settings, vram_manager=VramManager(settings))


class CountingEngine:
    """Wraps a real engine to count its prepare_voice calls (the real work still runs)."""

    def __init__(self, engine):
        self.engine, self.calls = engine, 0
        self.name, self.caches_conditioning = engine.name, engine.caches_conditioning

    def prepare_voice(self, *args, **kwargs):
        self.calls += 1
        return self.engine.prepare_voice(*args, **kwargs)


def test_xtts_conditioning_is_computed_once_and_reused(xtts, ref_wav, tmp_path):
    engine = CountingEngine(xtts)
    ref = tmp_path / "reference.wav"
    shutil.copy(ref_wav, ref)
    cache = tmp_path / "conditioning-xtts.pt"
    first = prepare_voice_cached(engine, ref, cache, language="en")
    second = prepare_voice_cached(engine, ref, cache, language="pt")
    assert engine.calls == 1 and cache.is_file()
    assert torch.equal(first.data["gpt_cond_latent"], second.data["gpt_cond_latent"])
    assert torch.equal(first.data["speaker_embedding"], second.data["speaker_embedding"])
    assert second.language == "pt" and second.ref_audio_path == str(ref)
    result = xtts.synthesize("hello from the cache", second, language="en", profile="xtts_fast")
    assert result.duration_s > 0


def test_replaced_reference_or_damaged_cache_recomputes(xtts, ref_wav, tmp_path):
    engine = CountingEngine(xtts)
    ref = tmp_path / "reference.wav"
    shutil.copy(ref_wav, ref)
    cache = tmp_path / "conditioning-xtts.pt"
    prepare_voice_cached(engine, ref, cache)
    write_test_wav(ref, seconds=1.5, sample_rate=22050, freq=330.0)  # a new reference clip
    prepare_voice_cached(engine, ref, cache)
    assert engine.calls == 2
    cache.write_bytes(b"not a torch file")
    prepare_voice_cached(engine, ref, cache)
    assert engine.calls == 3
    prepare_voice_cached(engine, ref, cache)
    assert engine.calls == 3  # rewritten by the previous call


def test_engines_without_costly_conditioning_pass_through(make_settings, ref_wav, tmp_path):
    settings = make_settings()
    f5 = get_engine("f5tts", settings=settings, vram_manager=VramManager(settings))
    cache = tmp_path / "conditioning-f5tts.pt"
    voice = prepare_voice_cached(f5, ref_wav, cache, ref_text="the reference.", language="en")
    assert voice.engine == "f5tts" and not cache.exists()
