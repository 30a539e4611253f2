"""Client-side steps for the /v1 (OpenAI-compatible) tests and bench/bench_streaming.py.

The client is the official ``openai`` SDK, unmodified; what it cannot show (the job id header,
the worker's Redis Stream, the job record) is read here. Decoding uses real decoders: libsndfile
(soundfile) for wav, FFmpeg's libraries (PyAV) for mp3, aac, Ogg/Opus and flac.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np
import redis

from tests.service.procs import ServiceStack


def _transport_errors() -> tuple[type[Exception], ...]:
    """What a cut HTTP body raises in the SDK's transport: openai 1.x and 2.x run on httpx,
    3.x on httpx2, its fork. Both, so the tests hold whichever SDK is installed."""
    import importlib

    import httpx

    errors: list[type[Exception]] = [httpx.HTTPError]
    try:
        errors.append(importlib.import_module("httpx2").HTTPError)
    except ImportError:
        pass
    return tuple(errors)


TRANSPORT_ERRORS = _transport_errors()

PCM_RATE = 24000  # OpenAI's pcm: int16 little-endian mono at 24 kHz
FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
# What OpenAI answers with (service/encoders.py CONTENT_TYPES is the server's copy of the fact).
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
MODELS = ("f5tts", "xtts", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
JOB_ID_HEADER = "x-job-id"

SENTENCES = {
    "en": [
        "The quick brown fox jumps over the lazy dog near the river bank.",
        "A gentle breeze moved through the tall grass at the edge of the field.",
        "Every morning the baker opened his shop before the sun came up.",
        "Children laughed and played in the park until the lights came on.",
        "The old clock in the hall struck nine as the guests arrived.",
        "She wrote a long letter to her brother who lived across the sea.",
        "Rain fell softly on the roof while the family ate dinner together.",
        "The train left the station on time and crossed the valley at noon.",
    ],
    "pt": [
        "O rapido cachorro marrom pulou sobre a cerca perto do rio.",
        "Uma brisa suave passou pela grama alta na beira do campo.",
        "Todas as manhas o padeiro abria a loja antes do sol nascer.",
        "As criancas brincaram no parque ate as luzes se acenderem.",
        "O velho relogio da sala bateu nove horas quando os convidados chegaram.",
        "Ela escreveu uma longa carta para o irmao que morava do outro lado do mar.",
        "A chuva caia devagar no telhado enquanto a familia jantava junta.",
        "O trem saiu da estacao na hora certa e atravessou o vale ao meio dia.",
    ],
    "de": [
        "Der schnelle braune Fuchs springt ueber den faulen Hund am Fluss.",
        "Ein sanfter Wind wehte durch das hohe Gras am Rand des Feldes.",
        "Jeden Morgen oeffnete der Baecker seinen Laden vor Sonnenaufgang.",
        "Die Kinder spielten im Park, bis die Lichter angingen.",
        "Die alte Uhr im Flur schlug neun, als die Gaeste ankamen.",
        "Sie schrieb einen langen Brief an ihren Bruder jenseits des Meeres.",
        "Der Regen fiel leise auf das Dach, waehrend die Familie zusammen ass.",
        "Der Zug verliess den Bahnhof puenktlich und durchquerte das Tal am Mittag.",
    ],
}


def sentences(n: int, language: str = "en") -> str:
    """``n`` sentences (cycling through the language's list): a text of n segments at most."""
    pool = SENTENCES[language]
    return " ".join(pool[i % len(pool)] for i in range(n))


def paragraph(language: str, min_chars: int = 1000) -> str:
    n = 1
    while len(sentences(n, language)) < min_chars:
        n += 1
    return sentences(n, language)


def openai_client(stack: ServiceStack, key: str, **kw):
    """The official SDK against the stack: no retries (a retry would hide the first answer)."""
    import openai

    return openai.OpenAI(
        base_url=stack.base_url + "/v1",
        api_key=key,
        max_retries=kw.pop("max_retries", 0),
        timeout=kw.pop("timeout", 300),
        **kw,
    )


# --------------------------------------------------------------------------- decoding
@dataclass
class Decoded:
    samples: np.ndarray  # float, mono
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def decode(fmt: str, data: bytes) -> Decoded:
    assert data, f"{fmt}: empty body"
    if fmt == "pcm":
        assert len(data) % 2 == 0, f"pcm: odd byte count {len(data)}"
        return Decoded(np.frombuffer(data, "<i2").astype(np.float32) / 32768.0, PCM_RATE)
    if fmt == "wav":
        import soundfile as sf

        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        assert samples.shape[1] == 1, f"{fmt}: {samples.shape[1]} channels, want mono"
        return Decoded(samples[:, 0], rate)
    # FLAC by FFmpeg too: a streamed FLAC cannot know its length (STREAMINFO "total samples
    # unknown"), and libsndfile then reports 2**63-1 frames, so soundfile.read cannot size its
    # buffer (and its block reads fail to seek). FFmpeg reads such a stream to EOF.
    return _decode_ffmpeg(fmt, data)


def _decode_ffmpeg(fmt: str, data: bytes) -> Decoded:
    import av

    container = {"mp3": "mp3", "aac": "aac", "opus": "ogg", "flac": "flac"}[fmt]
    with av.open(io.BytesIO(data), format=container) as box:
        (stream,) = box.streams.audio
        assert (
            stream.codec_context.name
            in {
                "mp3": ("mp3", "mp3float"),
                "aac": ("aac",),
                "opus": ("opus", "libopus"),
                "flac": ("flac",),
            }[fmt]
        ), (fmt, stream.codec_context.name)
        frames = [f.to_ndarray() for f in box.decode(stream)]
        rate = stream.codec_context.sample_rate
        channels = stream.codec_context.channels
    assert channels == 1, f"{fmt}: {channels} channels, want mono"
    samples = np.concatenate([f.reshape(-1) for f in frames]) if frames else np.zeros(0)
    return Decoded(samples.astype(np.float32), rate)


def expected_rates(fmt: str) -> tuple[int, ...]:
    # Opus decoders output 48 kHz whatever the input rate (RFC 6716: the rate is not coded).
    return (PCM_RATE, 48000) if fmt == "opus" else (PCM_RATE,)


# Codec framing: mp3 (1152-sample frames + encoder delay), aac (1024 priming + last frame),
# opus (20 ms frames, pre-skip) may add up to a few frames of silence at the ends.
CODEC_SLACK_S = {"mp3": 0.15, "aac": 0.15, "opus": 0.1, "flac": 0.001, "wav": 0.001, "pcm": 0.001}


# --------------------------------------------------------------------------- SSE
def sse_events(lines: Iterable[str]) -> list[dict]:
    """OpenAI's SSE: ``data: {json}`` lines; an ``event: <name>`` line names the next event."""
    events, name = [], None
    for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            payload = line.split(":", 1)[1].strip()
            if payload == "[DONE]":
                events.append({"type": "[DONE]"})
                continue
            event = json.loads(payload)
            if name and "type" not in event:
                event["type"] = name
            events.append(event)
            name = None
    return events


def sse_audio(events: list[dict]) -> bytes:
    return b"".join(
        base64.b64decode(e["audio"]) for e in events if e.get("type") == "speech.audio.delta"
    )


# --------------------------------------------------------------------------- server state
def redis_of(stack: ServiceStack) -> redis.Redis:
    return redis.Redis.from_url(stack.redis_url)


def job_record(stack: ServiceStack, job_id: str) -> Optional[dict]:
    raw = redis_of(stack).hgetall(f"avops:job:{job_id}")
    return {k.decode(): json.loads(v) for k, v in raw.items()} if raw else None


def stream_entries(stack: ServiceStack, job_id: str) -> list[dict]:
    """The worker's Redis Stream of a speech request, as dicts (``pcm`` stays bytes)."""
    out = []
    for entry_id, fields in redis_of(stack).xrange(f"avops:speech:{job_id}"):
        entry = {"id": entry_id.decode()}
        for k, v in fields.items():
            key = k.decode()
            entry[key] = v if key == "pcm" else v.decode("utf-8", "replace")
        out.append(entry)
    return out


def types_of(entries: list[dict]) -> list[str]:
    return [e["type"] for e in entries]


def speech_job_ids(stack: ServiceStack) -> set[str]:
    """Ids of the speech jobs in the stack's job store (mode 'speech')."""
    ids = set()
    r = redis_of(stack)
    for key in r.scan_iter("avops:job:*"):
        mode = r.hget(key, "mode")
        if mode is not None and json.loads(mode) == "speech":
            ids.add(key.decode().removeprefix("avops:job:"))
    return ids


FINAL_STATUSES = ("completed", "failed", "cancelled")


def final_job(stack: ServiceStack, job_id: str, timeout: float = 60) -> dict:
    """The job record once it is final (the worker records the end just after its last event)."""
    from tests.service.procs import wait_for

    return wait_for(
        lambda: (job := job_record(stack, job_id)) and job["status"] in FINAL_STATUSES and job,
        timeout,
        f"job {job_id} to end",
    )


def segments_of(entries: list[dict]) -> int:
    """How many segments the worker announced (each audio entry carries the count)."""
    counts = {int(e["segments"]) for e in entries if e["type"] == "audio"}
    assert len(counts) == 1, entries
    return counts.pop()
