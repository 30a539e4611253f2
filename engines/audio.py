"""Audio in and out through soundfile (WAV/FLAC/OGG); never ``torchaudio.load``.

torchaudio.load goes through torchcodec, which cannot load beside the CPU torch
used in dev/CI; soundfile (libsndfile) decodes the formats we accept everywhere.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines.errors import ReferenceAudioError

logger = logging.getLogger(__name__)

MIN_REFERENCE_S = 1.0  # shorter clips give the models too little voice to condition on
SILENCE_PEAK = 1e-4


@dataclass(frozen=True)
class ReferenceAudio:
    samples: np.ndarray  # float32 mono, at sample_rate
    sample_rate: int
    original_duration_s: float
    trimmed: bool

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def resample(samples: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling with torchaudio's pure-Python functional.resample."""
    if orig_sr == target_sr:
        return samples
    import torch

    from engines._torchaudio import import_torchaudio

    torchaudio = import_torchaudio()
    out = torchaudio.functional.resample(torch.from_numpy(samples)[None], orig_sr, target_sr)
    return out[0].numpy().astype(np.float32, copy=False)


def load_reference(
    path, target_sr: int, max_seconds: float, min_seconds: float = MIN_REFERENCE_S
) -> ReferenceAudio:
    """Decode, mono-mix, resample and bound a reference clip; ReferenceAudioError if unusable."""
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise ReferenceAudioError(f"reference audio not found: {path}")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ReferenceAudioError(
            f"reference audio {path.name} is not decodable audio (WAV/FLAC/OGG accepted): {exc}"
        ) from None
    if data.size == 0:
        raise ReferenceAudioError(f"reference audio {path.name} is empty")
    mono = data.mean(axis=1)  # mono-mix: both models condition on one channel
    if not np.isfinite(mono).all():
        raise ReferenceAudioError(f"reference audio {path.name} contains NaN/inf samples")
    duration = len(mono) / sr
    if duration < min_seconds:
        raise ReferenceAudioError(
            f"reference audio {path.name} is {duration:.2f} s; "
            f"at least {min_seconds:.1f} s required"
        )
    if float(np.abs(mono).max()) < SILENCE_PEAK:
        raise ReferenceAudioError(f"reference audio {path.name} is silent")
    trimmed = duration > max_seconds
    if trimmed:  # trim before resampling: cheaper, same result
        mono = mono[: int(max_seconds * sr)]
        logger.info(
            "reference audio %s trimmed from %.2f s to %.1f s", path.name, duration, max_seconds
        )
    samples = resample(np.ascontiguousarray(mono), sr, target_sr)
    return ReferenceAudio(samples, target_sr, duration, trimmed)


def write_audio(path, waveform: np.ndarray, sample_rate: int) -> Path:
    """Write audio; the format follows the extension (.wav/.flac/.ogg)."""
    import soundfile as sf

    path = Path(path)
    sf.write(str(path), np.asarray(waveform, dtype=np.float32), sample_rate)
    return path


def to_wav_bytes(waveform: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(
        buf, np.asarray(waveform, dtype=np.float32), sample_rate, format="WAV", subtype=subtype
    )
    return buf.getvalue()


# Joining segments: each segment gets a short raised-cosine fade in and out (a model rarely
# starts or stops at a zero crossing, and a step there is a click), then a short pause between
# segments. A pause rather than a crossfade: segments end at sentence or clause breaks where a
# pause is natural, and a crossfade would overlap the last and first phonemes.
JOIN_FADE_S = 0.01
JOIN_PAUSE_S = 0.1


def join_segments(waves: list[np.ndarray], sample_rate: int) -> np.ndarray:
    """One waveform from per-segment waveforms: faded edges, JOIN_PAUSE_S of silence between.
    The concatenation of ``segment_piece`` for each segment: what a stream sends, in order."""
    return np.concatenate(
        [segment_piece(wave, sample_rate, index, len(waves)) for index, wave in enumerate(waves)]
    )


def segment_piece(wave: np.ndarray, sample_rate: int, index: int, count: int) -> np.ndarray:
    """Segment ``index`` of ``count`` as it appears in the joined audio: a lone segment as is,
    otherwise with faded edges and, after the first, the pause that precedes it."""
    wave = np.asarray(wave, dtype=np.float32)
    if count == 1:
        return wave
    faded = _fade_edges(wave, int(JOIN_FADE_S * sample_rate))
    if index == 0:
        return faded
    pause = np.zeros(int(JOIN_PAUSE_S * sample_rate), dtype=np.float32)
    return np.concatenate([pause, faded])


def _fade_edges(wave: np.ndarray, fade_len: int) -> np.ndarray:
    fade_len = min(fade_len, len(wave) // 2)
    if fade_len == 0:
        return wave
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, fade_len))).astype(np.float32)
    wave = wave.copy()
    wave[:fade_len] *= ramp
    wave[-fade_len:] *= ramp[::-1]
    return wave
