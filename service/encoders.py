"""Incremental audio encoders for ``/v1/audio/speech``: the stream's PCM in, one of OpenAI's six
response formats out, bytes leaving while audio still arrives.

Input is the speech stream's contract: int16 little-endian mono at ``STREAM_SAMPLE_RATE`` in
chunks of any length (a chunk may end in the middle of a sample; that byte waits for the next
one). ``StreamEncoder.feed`` returns the encoded bytes that are ready now, ``finish`` the tail.
Memory stays bounded whatever the length: the encoders keep at most a codec frame, the Ogg
muxer at most one page (``_OGG_PAGE_US``), and encoded bytes are handed back on every call.

mp3, opus (in Ogg), aac (ADTS), flac and wav go through FFmpeg's libraries (PyAV wheels: no
``ffmpeg`` binary, no subprocess) writing to a write-only sink. The sink has no ``seek``, so
FFmpeg treats it as a pipe: it never seeks back, writes every packet as soon as it is muxed, and
leaves the lengths it cannot know unset (WAV's RIFF/data sizes stay 0xFFFFFFFF as in OpenAI's
streamed WAV; FLAC's STREAMINFO says "total samples unknown"). soundfile/libsndfile was not used:
it needs a seekable file to write any of these containers, and it has no AAC.
``fflags=+bitexact`` keeps library versions and random Ogg serial numbers out of the bytes, so
the output depends only on the audio, never on how it was chunked.

Not thread-safe: one encoder per response, its calls made one at a time (the API runs each call
in its thread pool and awaits it before the next).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import av
import numpy as np

from service.speechstream import STREAM_SAMPLE_RATE  # the stream contract: defined there

FORMATS: tuple[str, ...] = ("mp3", "opus", "aac", "flac", "wav", "pcm")

# What OpenAI's /v1/audio/speech answers with (sources in the README's format table: its OpenAPI
# file only says application/octet-stream; responses carry these types).
CONTENT_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}

_SAMPLE_BYTES = 2  # int16
_OGG_PAGE_US = 100_000  # Ogg page length: FFmpeg's default (1 s) would hold opus back that long


@dataclass(frozen=True)
class _Codec:
    """An FFmpeg muxer + encoder pair for one response format."""

    muxer: str
    encoder: str
    bit_rate: int | None = None  # bit/s; None: the encoder is lossless
    muxer_options: Mapping[str, str] = field(default_factory=dict)
    # Write the header before any audio, so that zero audio is still a valid (empty) file.
    header_first: bool = False


# Bit rates for mono speech: transparent enough for a voice, small enough to stream.
_CODECS: dict[str, _Codec] = {
    "mp3": _Codec("mp3", "libmp3lame", bit_rate=64_000),
    "opus": _Codec(
        "ogg", "libopus", bit_rate=32_000, muxer_options={"page_duration": str(_OGG_PAGE_US)}
    ),
    "aac": _Codec("adts", "aac", bit_rate=64_000),
    # No 8 KiB of padding after the header: it only serves retagging a file in place.
    "flac": _Codec("flac", "flac", muxer_options={"metadata_header_padding": "0"}),
    "wav": _Codec("wav", "pcm_s16le", header_first=True),
}


class _Sink:
    """Write-only file object for FFmpeg: no seek/tell, so the output is a pipe to it."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        """The bytes written since the last call."""
        out = b"".join(self._parts)
        self._parts.clear()
        return out


class _FFmpegEncoder:
    """One FFmpeg encoder + muxer writing into a ``_Sink``."""

    def __init__(self, codec: _Codec) -> None:
        self._sink = _Sink()
        self._has_audio = False
        self._container = av.open(
            self._sink,
            "w",
            format=codec.muxer,
            options={"fflags": "+bitexact", **codec.muxer_options},
        )
        stream = self._container.add_stream(codec.encoder, rate=STREAM_SAMPLE_RATE, layout="mono")
        if not isinstance(stream, av.audio.stream.AudioStream):  # every encoder here is audio
            raise TypeError(f"{codec.encoder} is not an audio encoder")
        self._stream = stream
        if codec.bit_rate is not None:
            self._stream.bit_rate = codec.bit_rate
        if codec.header_first:
            self._container.start_encoding()

    def encode(self, samples: bytes) -> bytes:
        if samples:
            frame = av.AudioFrame.from_ndarray(
                np.frombuffer(samples, dtype="<i2").reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = STREAM_SAMPLE_RATE
            # PyAV re-frames to the codec's frame size and sample format (s16p, fltp) itself.
            self._container.mux(self._stream.encode(frame))
            self._has_audio = True
        return self._sink.take()

    def finish(self) -> bytes:
        # Drain the encoder's delay. Without audio there is nothing to drain, and draining would
        # start some containers (FLAC) with a header that libsndfile cannot read.
        if self._has_audio:
            self._container.mux(self._stream.encode(None))
        self._container.close()  # the trailer; nothing is patched back: the sink cannot seek
        return self._sink.take()

    def close(self) -> None:
        self._container.close()


class StreamEncoder:
    """Encode the speech stream's PCM (int16 LE mono 24 kHz) incrementally into ``fmt``.

    ``pcm`` passes the samples through; the other formats are encoded by FFmpeg. With no audio
    at all, ``finish()`` returns a 44-byte header for ``wav`` (a valid file of zero samples) and
    nothing for the others (their containers start with the first sample).
    """

    def __init__(self, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown audio format {fmt!r}; accepted: {', '.join(FORMATS)}")
        self.format = fmt
        self.content_type = CONTENT_TYPES[fmt]
        self._pending = b""  # the first byte of a sample whose second byte has not come yet
        self._done = False
        codec = _CODECS.get(fmt)
        self._ffmpeg = _FFmpegEncoder(codec) if codec is not None else None

    def feed(self, pcm: bytes) -> bytes:
        """Take any number of PCM bytes; return the encoded bytes ready now (maybe none)."""
        if self._done:
            raise RuntimeError("feed() after finish()/close()")
        samples = self._whole_samples(pcm)
        return self._ffmpeg.encode(samples) if self._ffmpeg is not None else samples

    def finish(self) -> bytes:
        """Flush the encoder; return the rest of the output. A lone trailing byte (half a
        sample) is dropped: it is no audio."""
        if self._done:
            raise RuntimeError("finish() called twice, or after close()")
        self._done = True
        return self._ffmpeg.finish() if self._ffmpeg is not None else b""

    def close(self) -> None:
        """Release the encoder without output (a response that ends early). Idempotent."""
        if not self._done:
            self._done = True
            if self._ffmpeg is not None:
                self._ffmpeg.close()

    def _whole_samples(self, pcm: bytes) -> bytes:
        data = self._pending + bytes(pcm)
        whole = len(data) - len(data) % _SAMPLE_BYTES
        self._pending = data[whole:]
        return data[:whole]
