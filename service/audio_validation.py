"""Upload checks in the API process: soundfile only (libsndfile), never torch.

The API rejects what is clearly not usable (not audio, empty, too long, too large)
before anything is queued; the worker then does the full decode (silence, NaN, resample)
with ``engines.audio.load_reference``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import soundfile as sf

from service.errors import Rejected

# libsndfile format name -> the extension we store the upload under
FORMAT_EXT = {
    "WAV": "wav",
    "WAVEX": "wav",
    "FLAC": "flac",
    "OGG": "ogg",
    "AIFF": "aiff",
    "MPEG": "mp3",
}


class AudioRejected(Rejected):
    """The upload is not acceptable audio."""


@dataclass(frozen=True)
class AudioInfo:
    ext: str
    duration_s: float
    sample_rate: int
    channels: int


def sniff(data: Union[bytes, Path], min_seconds: float, max_seconds: float) -> AudioInfo:
    """Identify the container by its content (not the filename) and check its length.

    ``data``: the upload's bytes, or the path of the file it was streamed to."""
    empty = (data.stat().st_size == 0) if isinstance(data, Path) else not data
    if empty:
        raise AudioRejected("audio: the uploaded file is empty")
    try:
        info = sf.info(str(data) if isinstance(data, Path) else io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioRejected(
            f"audio: not a decodable audio file (WAV, FLAC or OGG expected): "
            f"{_decoder_reason(exc)}",
            415,
        ) from None
    ext = FORMAT_EXT.get(info.format)
    if ext is None:
        raise AudioRejected(
            f"audio: unsupported format {info.format}; WAV, FLAC or OGG expected", 415
        )
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioRejected("audio: the file holds no audio samples")
    duration = info.frames / info.samplerate
    if duration < min_seconds:
        raise AudioRejected(
            f"audio: {duration:.2f} s is too short; at least {min_seconds:.1f} s "
            "of speech is needed (MIN_REFERENCE_SECONDS)"
        )
    if duration > max_seconds:
        raise AudioRejected(
            f"audio: {duration:.1f} s is too long; at most {max_seconds:.0f} s "
            "(MAX_REFERENCE_SECONDS)"
        )
    return AudioInfo(ext, round(duration, 3), int(info.samplerate), int(info.channels))


def _decoder_reason(exc: BaseException) -> str:
    """What libsndfile found wrong with the audio, without the rest of its message: that names
    the file it opened, which is a path on the server's data volume."""
    reason = getattr(exc, "error_string", None)  # sf.LibsndfileError: libsndfile's own text
    if not reason:
        return "unrecognised content"
    return reason.strip().splitlines()[0][:200].rstrip(".")
