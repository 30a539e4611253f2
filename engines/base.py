"""The engine protocol both TTS engines implement, and their shared result types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, runtime_checkable

import numpy as np

from engines.errors import SynthesisError


@dataclass(frozen=True)
class VoiceConditioning:
    """What an engine needs from a reference clip; produced by ``prepare_voice``.

    ``data`` is engine-specific and CPU-resident (F5: reference samples + text;
    XTTS: GPT conditioning latents + speaker embedding), so it can be cached per voice.
    """

    engine: str
    data: dict[str, Any]
    ref_audio_path: str
    ref_text: Optional[str] = None
    language: Optional[str] = None
    ref_duration_s: float = 0.0


@dataclass
class SynthesisResult:
    waveform: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    device: str  # where inference actually ran (after any CPU fallback)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return len(self.waveform) / self.sample_rate


@runtime_checkable
class TtsEngine(Protocol):
    name: str
    device: str
    caches_conditioning: bool  # prepare_voice is costly enough to cache per voice (voice_cache)

    def load(self) -> None:
        """Check model files; in normal mode also warm the model into the cache."""

    def prepare_voice(self, ref_audio_path, ref_text: Optional[str] = None,
                      language: Optional[str] = None) -> VoiceConditioning:
        """Validate reference audio and compute the voice conditioning."""

    def synthesize(self, text: str, voice: VoiceConditioning, language: Optional[str] = None,
                   profile: Optional[str] = None) -> SynthesisResult:
        """Generate speech for ``text`` in ``voice``; ``profile`` names a quality profile."""

    def unload(self) -> None:
        """Free the model from GPU and host memory."""


class ManagedEngine:
    """What both engines share: settings, the VRAM manager, device selection (never hard-coded),
    and model residency through the manager. Subclasses give ``name``, ``device_setting`` (the
    settings field naming their device), ``_load(device)`` and ``_size_mb()``."""

    name: str = ""
    device_setting: str = ""
    caches_conditioning = False

    def __init__(self, settings: Any = None, vram_manager: Any = None, device: Optional[str] = None) -> None:
        import logging

        from engines.device import select_device
        from engines.settings import get_settings

        self.settings = settings or get_settings()
        if vram_manager is None:
            from engines.vram import get_vram_manager

            vram_manager = get_vram_manager(self.settings)
        self.vram = vram_manager
        self.device = select_device(device or getattr(self.settings, self.device_setting),
                                    self.settings.device_fallback_to_cpu)
        # The seed's log line, grepped by operators: "F5TtsEngine initializing on device: cuda".
        logging.getLogger(type(self).__module__).info("%s initializing on device: %s",
                                                      type(self).__name__, self.device)

    def load(self) -> None:
        """Normal mode: warm the model into the cache now. LOW_VRAM: loaded per job."""
        if not self.settings.low_vram:
            with self.vram.load_model(self.name, self._load, self.device, self._size_mb()):
                pass

    def unload(self) -> None:
        self.vram.unload(self.name)

    def _load(self, device: str) -> Any:
        raise NotImplementedError

    def _size_mb(self) -> Optional[float]:
        raise NotImplementedError


def finish_waveform(wave: Any) -> np.ndarray:
    """1-D float32, finite, clipped to [-1, 1]; raise if the model produced nothing usable."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if wave.size == 0 or not np.isfinite(wave).all():
        raise SynthesisError("model produced empty or non-finite audio")
    return np.clip(wave, -1.0, 1.0)
