"""The engine protocol both TTS engines implement, and their shared result types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol, runtime_checkable

import numpy as np

from engines.errors import SynthesisError, VoiceMismatchError


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


# Called with each segment's audio the moment it exists: (index, count, samples, sample_rate).
# ``samples`` is the segment as it appears in the joined result (engines.audio.segment_piece),
# so the pieces of a stream concatenate to exactly the waveform ``synthesize`` returns. The
# callback may raise to stop synthesis after that segment (a cancelled request).
SegmentSink = Callable[[int, int, np.ndarray, int], None]


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

    def prepare_voice(
        self, ref_audio_path, ref_text: Optional[str] = None, language: Optional[str] = None
    ) -> VoiceConditioning:
        """Validate reference audio and compute the voice conditioning."""

    def synthesize(
        self,
        text: str,
        voice: VoiceConditioning,
        language: Optional[str] = None,
        profile: Optional[str] = None,
        speed: Optional[float] = None,
        on_segment: Optional[SegmentSink] = None,
    ) -> SynthesisResult:
        """Generate speech for ``text`` in ``voice``; ``profile`` names a quality profile,
        ``speed`` overrides its speaking rate, ``on_segment`` receives the audio segment by
        segment as it is synthesized."""

    def unload(self) -> None:
        """Free the model from GPU and host memory."""


class ManagedEngine:
    """What both engines share: settings, the VRAM manager, device selection (never hard-coded),
    and model residency through the manager. Subclasses give ``name`` (registered in
    engines/registry.py, which names their device setting), ``_load(device)`` and ``_size_mb()``."""

    name: str = ""  # its registration in engines/registry.py (device setting, profiles...)
    caches_conditioning = False
    synthesize: Callable[..., SynthesisResult]  # each engine's own, wrapped by __init_subclass__

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every engine's synthesize refuses another engine's voice, without each repeating it.
        super().__init_subclass__(**kwargs)
        if "synthesize" in cls.__dict__:
            cls.synthesize = _own_voices_only(cls.__dict__["synthesize"])

    def __init__(
        self, settings: Any = None, vram_manager: Any = None, device: Optional[str] = None
    ) -> None:
        import logging

        from engines.device import select_device
        from engines.registry import get_spec
        from engines.settings import get_settings
        from engines.vram import check_manager_settings, get_vram_manager

        self.spec = get_spec(self.name)
        self.settings = settings or get_settings()
        if vram_manager is None:
            vram_manager = get_vram_manager(self.settings)  # refuses a manager built otherwise
        else:
            check_manager_settings(vram_manager, self.settings)
        self.vram = vram_manager
        self.device = select_device(
            device or getattr(self.settings, self.spec.device_setting),
            self.settings.device_fallback_to_cpu,
        )
        # The seed's log line, grepped by operators: "F5TtsEngine initializing on device: cuda".
        logging.getLogger(type(self).__module__).info(
            "%s initializing on device: %s", type(self).__name__, self.device
        )

    def load(self, keep_alive: Optional[float] = None) -> None:
        """Warm the model now; it then stays by its keep-alive, as after a job: ``keep_alive``
        seconds when given (capped at MODEL_KEEP_ALIVE_MAX), else MODEL_KEEP_ALIVE. With a
        keep-alive of 0 it leaves the GPU at once (parked in host RAM with VRAM_OFFLOAD=cpu,
        which still spares the next job the checkpoint read)."""
        with self.vram.keep_alive(keep_alive):
            with self.vram.load_model(self.name, self._load, self.device, self._size_mb()):
                pass

    def unload(self) -> None:
        self.vram.unload(self.name)

    def check_voice(self, voice: VoiceConditioning) -> None:
        """A voice's conditioning is engine-specific: another engine's is a clear error, not a KeyError."""
        if voice.engine != self.name:
            raise VoiceMismatchError(
                f"voice: prepared by engine {voice.engine!r} (from {voice.ref_audio_path}); "
                f"{self.name} cannot use it: prepare it with {self.name}'s prepare_voice"
            )

    def _load(self, device: str) -> Any:
        raise NotImplementedError

    def _size_mb(self) -> Optional[float]:
        raise NotImplementedError


def _own_voices_only(synthesize: Callable[..., SynthesisResult]) -> Callable[..., SynthesisResult]:
    import functools

    @functools.wraps(synthesize)
    def checked(
        self: ManagedEngine, text: str, voice: VoiceConditioning, *args: Any, **kwargs: Any
    ) -> SynthesisResult:
        self.check_voice(voice)
        return synthesize(self, text, voice, *args, **kwargs)

    return checked


def with_speed(profile: Any, speed: Optional[float]) -> Any:
    """The profile with its speaking rate replaced (an OpenAI request's ``speed``)."""
    import dataclasses

    return profile if speed is None else dataclasses.replace(profile, speed=float(speed))


def emit_segments(
    waves: Any, sample_rate: int, count: int, on_segment: Optional[SegmentSink]
) -> np.ndarray:
    """Hand each finished segment to ``on_segment`` as it comes out of ``waves`` (a generator:
    the next segment is synthesized only after the sink returned), and return the joined audio."""
    from engines.audio import segment_piece

    pieces = []
    for index, wave in enumerate(waves):
        piece = finish_waveform(segment_piece(wave, sample_rate, index, count))
        pieces.append(piece)
        if on_segment is not None:
            on_segment(index, count, piece, sample_rate)
    return np.concatenate(pieces)


def finish_waveform(wave: Any) -> np.ndarray:
    """1-D float32, finite, clipped to [-1, 1]; raise if the model produced nothing usable."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if wave.size == 0 or not np.isfinite(wave).all():
        raise SynthesisError("model produced empty or non-finite audio")
    return np.clip(wave, -1.0, 1.0)
