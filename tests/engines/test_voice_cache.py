"""Voice conditioning cached per voice on disk: computed once, reused, invalidated when stale."""

from __future__ import annotations

import shutil

import pytest
import torch

from engines import get_engine
from engines.testing import write_test_wav
from engines.voice_cache import prepare_voice_cached
from engines.vram import VramManager


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


@pytest.fixture
def full_volume(tmp_path):
    """A 1 MB tmpfs filled to the last byte: every write there fails with ENOSPC (root only)."""
    import errno
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mountpoint = tmp_path / "full"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)], check=True)
    try:
        with open(mountpoint / ".filler", "wb") as out:
            try:
                out.write(b"\0" * 2**20)
                out.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        yield mountpoint
    finally:
        subprocess.run(["umount", "--lazy", str(mountpoint)], check=False)


def test_cache_write_failure_only_skips_the_cache(xtts, ref_wav, full_volume, caplog):
    """A full disk while saving the conditioning: the job goes on with what was computed, a
    warning is logged, and no temp file or partial cache is left."""
    engine = CountingEngine(xtts)
    cache = full_volume / "conditioning-xtts.pt"
    with caplog.at_level("WARNING", logger="engines.voice_cache"):
        voice = prepare_voice_cached(engine, ref_wav, cache, language="en")
    assert engine.calls == 1 and voice.engine == "xtts"
    assert sorted(p.name for p in full_volume.iterdir()) == [".filler"]
    assert any("not written" in r.getMessage() for r in caplog.records), caplog.text
    assert xtts.synthesize("still speaks", voice, language="en", profile="xtts_fast").duration_s > 0
