"""The /v1/audio/speech encoders (service/encoders.py), checked by real decoders: FFmpeg's (PyAV)
for every format, libsndfile (soundfile) for the five it reads (it has no AAC).

* every format: a chirp fed in irregular, odd-sized chunks decodes to the right container,
  codec, rate and channel count, the input's duration (exact for pcm/wav/flac, within
  ``LOSSY_DURATION_TOLERANCE_S`` for mp3/aac, whose decoders add the encoder's priming), and a
  signal that matches the input (samples for the lossless, correlation for the lossy);
* incremental: before finish() the bytes out already decode to all but ``MAX_LAG_S`` of the
  audio fed, and finish() returns only that tail;
* any chunking (hypothesis: empty chunks, odd byte counts) gives the same bytes as one call;
* zero audio, a lone half sample, unknown formats, calls after finish().
"""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.encoders import CONTENT_TYPES, FORMATS, STREAM_SAMPLE_RATE, StreamEncoder

RATE = STREAM_SAMPLE_RATE
LOSSLESS = ("pcm", "wav", "flac")
LOSSY = ("mp3", "opus", "aac")
# mp3 (LAME) and AAC decode with the encoder's priming and padding in front/behind: measured
# +68 ms (mp3) and +57 ms (aac) on 3 s; Ogg Opus trims its pre-skip and comes out exact.
LOSSY_DURATION_TOLERANCE_S = 0.1
# How much of the audio fed may still sit in the encoder before finish(): one or two codec frames
# plus, for opus, the Ogg page being filled (100 ms). Measured: flac 24, aac 56, mp3 72, opus 107 ms.
MAX_LAG_S = 0.15
MIN_CORRELATION = 0.9

# What each format is in FFmpeg's terms: (demuxer, decoder, decoded sample rate). Opus always
# decodes at 48 kHz (RFC 7845); its header records the 24 kHz input rate, which libsndfile uses.
FFMPEG_VIEW = {
    "mp3": ("mp3", "mp3float", RATE),
    "opus": ("ogg", "opus", 48000),
    "aac": ("aac", "aac", RATE),
    "flac": ("flac", "flac", RATE),
    "wav": ("wav", "pcm_s16le", RATE),
    "pcm": ("s16le", "pcm_s16le", RATE),
}
SOUNDFILE_READS = ("mp3", "opus", "flac", "wav", "pcm")


def chirp(seconds: float, seed: int = 0) -> bytes:
    """A 200 Hz -> 3 kHz sweep with a little noise: int16 LE mono 24 kHz, the stream contract."""
    t = np.arange(int(seconds * RATE)) / RATE
    sweep = np.sin(2 * np.pi * (200 * t + (2800 / (2 * seconds)) * t * t))
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return ((0.5 * sweep + noise) * 32767).astype("<i2").tobytes()


def irregular_sizes(total: int, seed: int = 1) -> list[int]:
    """Chunk sizes from 0 to ~9000 bytes, many odd, covering `total` bytes."""
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(int(rng.choice([0, 1, 3, 7, 480, 1023, 4801, 9001])))
    return sizes


def encode(fmt: str, pcm: bytes, sizes: list[int] | None = None) -> bytes:
    encoder = StreamEncoder(fmt)
    out, pos = [], 0
    for size in sizes if sizes is not None else [len(pcm)]:
        out.append(encoder.feed(pcm[pos : pos + size]))
        pos += size
    out.append(encoder.feed(pcm[pos:]))
    out.append(encoder.finish())
    return b"".join(out)


def ffmpeg_decode(fmt: str, data: bytes) -> dict:
    """Decode with FFmpeg; the samples come back resampled to int16 mono 24 kHz for comparing."""
    demuxer = "s16le" if fmt == "pcm" else None  # headerless: FFmpeg must be told what it is
    options = {"sample_rate": str(RATE), "ch_layout": "mono"} if fmt == "pcm" else {}
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    with av.open(io.BytesIO(data), format=demuxer, options=options) as container:
        stream = container.streams.audio[0]
        decoded = 0
        chunks = []
        for frame in container.decode(stream):
            decoded += frame.samples
            chunks += [f.to_ndarray()[0] for f in resampler.resample(frame)]
        chunks += [f.to_ndarray()[0] for f in resampler.resample(None)]
        ctx = stream.codec_context
        return {
            "demuxer": container.format.name.split(",")[0],
            "decoder": ctx.name,
            "rate": ctx.sample_rate,
            "channels": ctx.layout.nb_channels,
            "seconds": decoded / ctx.sample_rate,
            "samples": np.concatenate(chunks) if chunks else np.zeros(0, np.int16),
        }


def soundfile_decode(fmt: str, data: bytes) -> tuple[int, int, np.ndarray]:
    """Decode with libsndfile: (rate, channels, int16 samples).

    A streamed FLAC cannot state its length (STREAMINFO's total is 0, "unknown", as in OpenAI's
    streamed FLAC). libsndfile 1.2.2 then reports 2**63-1 frames and soundfile's read() fails
    (it sizes its buffer by that, and seeks after each read, which libsndfile refuses without a
    length), so the frames are pulled with libsndfile's own sf_readf_short until it returns 0.
    """
    raw = (
        {
            "format": "RAW",
            "subtype": "PCM_16",
            "endian": "LITTLE",
            "samplerate": RATE,
            "channels": 1,
        }
        if fmt == "pcm"
        else {}
    )
    with sf.SoundFile(io.BytesIO(data), **raw) as f:
        parts = []
        while True:
            buf = np.empty(8192, dtype=np.int16)
            got = sf._snd.sf_readf_short(
                f._file, sf._ffi.cast("short *", buf.ctypes.data), buf.size
            )
            if got <= 0:
                break
            parts.append(buf[:got])
        samples = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        return f.samplerate, f.channels, samples


def best_correlation(reference: np.ndarray, decoded: np.ndarray, max_lag: int = 4000) -> float:
    """Pearson correlation of `decoded` with `reference` at the codec delay that fits best."""
    ref = reference.astype(np.float64)
    dec = decoded.astype(np.float64)
    size = 1 << int(np.ceil(np.log2(ref.size + dec.size)))
    cross = np.fft.irfft(np.fft.rfft(dec, size) * np.conj(np.fft.rfft(ref, size)), size)
    lag = int(np.argmax(cross[:max_lag]))
    overlap = min(ref.size, dec.size - lag)
    return float(np.corrcoef(ref[:overlap], dec[lag : lag + overlap])[0, 1])


def pcm_samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")


def assert_duration(fmt: str, seconds: float, expected: float) -> None:
    if fmt in LOSSY:
        assert expected <= seconds + 0.001 and seconds - expected <= LOSSY_DURATION_TOLERANCE_S, (
            f"{fmt}: decoded {seconds:.3f} s for {expected:.3f} s of input"
        )
    else:
        assert seconds == expected


def assert_matches(fmt: str, reference: np.ndarray, decoded: np.ndarray) -> None:
    if fmt in LOSSLESS:
        assert np.array_equal(decoded, reference)
    else:
        assert best_correlation(reference, decoded) >= MIN_CORRELATION


SIGNAL = chirp(3.0)
SIGNAL_SECONDS = 3.0
# An odd byte count: the last half sample must be dropped, never decoded as noise.
ODD_SIGNAL = SIGNAL + b"\x7f"


@pytest.fixture(scope="module")
def encoded() -> dict[str, bytes]:
    return {fmt: encode(fmt, ODD_SIGNAL, irregular_sizes(len(ODD_SIGNAL))) for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
def test_ffmpeg_decodes_each_format_to_the_input(fmt, encoded):
    decoded = ffmpeg_decode(fmt, encoded[fmt])
    demuxer, decoder, rate = FFMPEG_VIEW[fmt]
    assert (decoded["demuxer"], decoded["decoder"], decoded["rate"], decoded["channels"]) == (
        demuxer,
        decoder,
        rate,
        1,
    )
    assert_duration(fmt, decoded["seconds"], SIGNAL_SECONDS)
    assert_matches(fmt, pcm_samples(SIGNAL), decoded["samples"])


@pytest.mark.parametrize("fmt", SOUNDFILE_READS)
def test_libsndfile_decodes_each_format_it_knows(fmt, encoded):
    rate, channels, samples = soundfile_decode(fmt, encoded[fmt])
    assert (rate, channels) == (RATE, 1)
    assert_duration(fmt, samples.size / RATE, SIGNAL_SECONDS)
    assert_matches(fmt, pcm_samples(SIGNAL), samples)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "pcm"])
def test_bytes_come_out_while_audio_goes_in(fmt):
    """Fed 2 s in 20 ms chunks (as a slow engine would), the bytes out before finish() decode to
    all but MAX_LAG_S of it; finish() adds only that tail, not the stream."""
    fed = chirp(2.0)
    encoder = StreamEncoder(fmt)
    before_finish = b"".join(encoder.feed(fed[i : i + 960]) for i in range(0, len(fed), 960))
    tail = encoder.finish()
    ready = ffmpeg_decode(fmt, before_finish)["seconds"]
    assert ready >= 2.0 - MAX_LAG_S, f"{fmt}: only {ready:.3f} s of 2 s out before finish()"
    assert len(tail) <= (len(before_finish) + len(tail)) * MAX_LAG_S / 2.0


def test_wav_starts_with_a_header_for_unknown_length():
    """As OpenAI streams WAV: RIFF and data sizes 0xFFFFFFFF, then the samples as they come."""
    encoder = StreamEncoder("wav")
    first = encoder.feed(SIGNAL[:4801])
    riff, riff_size, wave = struct.unpack_from("<4sI4s", first)
    fmt_id, fmt_size, codec, channels, rate, byte_rate, align, bits = struct.unpack_from(
        "<4sIHHIIHH", first, 12
    )
    data_id, data_size = struct.unpack_from("<4sI", first, 36)
    assert (riff, riff_size, wave, fmt_id, fmt_size) == (b"RIFF", 0xFFFFFFFF, b"WAVE", b"fmt ", 16)
    assert (codec, channels, rate, byte_rate, align, bits) == (1, 1, RATE, RATE * 2, 2, 16)
    assert (data_id, data_size) == (b"data", 0xFFFFFFFF)
    assert first[44:] == SIGNAL[:4800]
    assert encoder.feed(SIGNAL[4801:9601]) == SIGNAL[4800:9600]


@pytest.mark.parametrize("fmt", FORMATS)
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    pcm=st.binary(max_size=12001),
    sizes=st.lists(st.integers(min_value=0, max_value=2001), max_size=24),
)
def test_any_chunking_gives_the_bytes_of_one_call(fmt, pcm, sizes):
    """Chunk boundaries anywhere (empty chunks, half samples) change nothing in the output."""
    chunked = encode(fmt, pcm, sizes)
    assert chunked == encode(fmt, pcm)
    if fmt in LOSSLESS and len(pcm) >= 2:
        assert np.array_equal(ffmpeg_decode(fmt, chunked)["samples"], pcm_samples(pcm))


@pytest.mark.parametrize("feeds", [[], [b""], [b"\x01"]], ids=["nothing", "empty", "half-sample"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_zero_audio_gives_an_empty_body_or_an_empty_wav(fmt, feeds):
    encoder = StreamEncoder(fmt)
    out = b"".join(encoder.feed(chunk) for chunk in feeds) + encoder.finish()
    if fmt != "wav":
        assert out == b""
        return
    assert len(out) == 44  # the header alone: a valid file of zero samples
    rate, channels, samples = soundfile_decode(fmt, out)
    assert (rate, channels, samples.size) == (RATE, 1, 0)
    decoded = ffmpeg_decode(fmt, out)
    assert (decoded["rate"], decoded["channels"], decoded["seconds"]) == (RATE, 1, 0)


@pytest.mark.parametrize("fmt", ["ogg", "MP3", "", "wave", "pcm16"])
def test_unknown_format_is_refused_naming_the_accepted_ones(fmt):
    with pytest.raises(ValueError) as raised:
        StreamEncoder(fmt)
    message = str(raised.value)
    assert repr(fmt) in message
    assert all(name in message for name in FORMATS)


def test_each_format_has_its_own_audio_type():
    """No two formats share a label (a client trusting Content-Type must not take FLAC for MP3)."""
    assert set(CONTENT_TYPES) == set(FORMATS)
    assert len(set(CONTENT_TYPES.values())) == len(FORMATS)
    assert all(StreamEncoder(fmt).content_type == CONTENT_TYPES[fmt] for fmt in FORMATS)
    assert all(media_type.startswith("audio/") for media_type in CONTENT_TYPES.values())


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_calls_after_finish_and_close_is_idempotent(fmt):
    encoder = StreamEncoder(fmt)
    encoder.feed(SIGNAL[:4800])
    encoder.finish()
    with pytest.raises(RuntimeError):
        encoder.feed(SIGNAL[:4800])
    with pytest.raises(RuntimeError):
        encoder.finish()
    encoder.close()
    abandoned = StreamEncoder(fmt)  # a client that went away mid-stream
    abandoned.feed(SIGNAL[:4801])
    abandoned.close()
    abandoned.close()
    with pytest.raises(RuntimeError):
        abandoned.feed(b"")
