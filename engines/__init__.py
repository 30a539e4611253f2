"""avops TTS runtime: device selection, CUDA check, VRAM manager, F5-TTS and XTTS engines.

Importing ``engines`` (or ``engines.settings`` / ``engines.profiles``) does not import
torch: the API process validates settings and profile names without the ML stack.
Everything heavy is imported lazily by the module that needs it.

Worker usage::

    from engines import get_engine, get_vram_manager, check_cuda

    check_cuda()                                   # logs the GPU report once at startup
    engine = get_engine("f5tts")                   # or "xtts"; settings from the environment
    engine.load()                                  # warm it now; it stays by its keep-alive
    voice = engine.prepare_voice("ref.wav", ref_text="...", language="pt")
    result = engine.synthesize("Olá mundo", voice, language="pt", profile="f5tts_balanced")
    result.waveform, result.sample_rate, result.device, result.timings
    get_vram_manager().stats()                     # memory figures, resident models, counters

Public API (all lazily imported):

* ``get_engine(name, settings=None, vram_manager=None, device=None) -> TtsEngine``; the engines
  are declared in ``engines.registry`` (``ENGINE_NAMES``, ``get_spec(name)``: device setting,
  profiles, whether ``prepare_voice`` needs ``ref_text``, languages), importable without torch
* ``get_vram_manager(settings=None) -> VramManager``; ``reset_vram_manager()``
* ``VramManager.load_model(key, load_fn, device="cuda", size_mb=None)`` (context manager),
  ``.run(key, load_fn, job_fn, device, size_mb)``, ``.unload(key)``, ``.clear()``, ``.stats()``
* ``select_device(requested, fallback_to_cpu=True) -> "cuda" | "cpu"``
* ``check_cuda(log=True) -> CudaReport`` (``python -m engines.cuda_check --json``)
* ``get_settings() -> EngineSettings``, ``load_settings(**overrides)``
* ``PROFILES``, ``get_profile(name, engine)``, ``profile_names(engine)``
* types: ``TtsEngine``, ``VoiceConditioning``, ``SynthesisResult``
* errors: ``EngineError``, ``EngineConfigError``, ``DeviceUnavailableError``, ``VramError``,
  ``ReferenceAudioError``, ``SynthesisError``, ``VoiceMismatchError`` (another engine's voice)
* ``engines.contracts``: the typed ``VramStats`` / ``VramResponse`` / ``HealthResponse`` the
  worker, the API and avops share
* ``prepare_voice_cached(engine, ref_audio_path, cache_path, ref_text, language)``: conditioning
  computed once per voice and kept on disk (XTTS); a pass-through for F5-TTS
* ``engines.testing.build_tiny_models(dest_dir) -> dict`` of env vars (tests only)
"""

from __future__ import annotations

import importlib
from typing import Any

from engines.errors import (  # light, always available; re-exported through __all__
    DeviceUnavailableError,
    EngineConfigError,
    EngineError,
    ReferenceAudioError,
    SynthesisError,
    VoiceMismatchError,
    VramError,
)

_LAZY = {
    "ENGINE_NAMES": "engines.registry",
    "EngineSpec": "engines.registry",
    "get_spec": "engines.registry",
    "EngineSettings": "engines.settings",
    "get_settings": "engines.settings",
    "load_settings": "engines.settings",
    "select_device": "engines.device",
    "check_cuda": "engines.cuda_check",
    "CudaReport": "engines.cuda_check",
    "VramManager": "engines.vram",
    "get_vram_manager": "engines.vram",
    "reset_vram_manager": "engines.vram",
    "PROFILES": "engines.profiles",
    "get_profile": "engines.profiles",
    "prepare_voice_cached": "engines.voice_cache",
    "profile_names": "engines.profiles",
    "TtsEngine": "engines.base",
    "VoiceConditioning": "engines.base",
    "SynthesisResult": "engines.base",
    "F5TtsEngine": "engines.f5tts",
    "XttsEngine": "engines.xtts",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engines' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def get_engine(name: str, settings: Any = None, vram_manager: Any = None, device: Any = None):
    """Build the registered engine ``name`` (engines/registry.py) on the process-wide VRAM
    manager, or on ``vram_manager``; either must agree with ``settings`` (EngineConfigError)."""
    from engines.registry import get_spec

    cls = get_spec(name).load_class()
    return cls(settings=settings, vram_manager=vram_manager, device=device)


__all__ = [
    "get_engine",
    *_LAZY,
    "EngineError",
    "EngineConfigError",
    "DeviceUnavailableError",
    "VramError",
    "ReferenceAudioError",
    "SynthesisError",
    "VoiceMismatchError",
]
