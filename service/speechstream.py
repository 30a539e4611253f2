"""One Redis Stream per speech request: the worker writes each segment's audio the moment it
exists, the API reads and relays it. The events are typed here once and used by both sides.

Key ``avops:speech:<job_id>``, bounded (MAXLEN ~ STREAM_MAXLEN) and expiring SPEECH_STREAM_TTL_S
after its last entry, so a stream nobody reads cannot pile up. Audio is always int16
little-endian mono at STREAM_SAMPLE_RATE (OpenAI's ``pcm`` contract); the API encodes it.

Why a Stream and not pub/sub: entries stay until read, so an API that subscribes a moment after
the worker started (or reconnects after a blip) misses nothing, and ``XREAD BLOCK`` gives the
API a bounded wait to detect a worker that died (no ``tick`` for SPEECH_STALL_S).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Optional, cast

import redis
from redis.typing import EncodableT, FieldT

KEY_PREFIX = "avops:speech:"
STREAM_SAMPLE_RATE = 24000  # Hz; int16 LE mono; OpenAI's pcm format
STREAM_MAXLEN = 512  # entries; a segment is one entry, ticks come every TICK_INTERVAL_S
TICK_INTERVAL_S = 2.0  # the worker child says it is alive this often while a request runs


class EventType(str, enum.Enum):
    start = "start"  # a worker took the request: segments = how many will come
    audio = "audio"  # one segment's audio: seq, pcm
    tick = "tick"  # the worker child is alive (a long segment is not a dead worker)
    done = "done"  # all audio sent: duration_s
    error = "error"  # the request failed: message, status (HTTP status if nothing was sent)
    cancelled = "cancelled"  # stopped after the current segment: the request was cancelled


@dataclass(frozen=True)
class SpeechEvent:
    type: EventType
    seq: int = 0
    pcm: bytes = b""
    segments: int = 0
    duration_s: float = 0.0
    message: str = ""
    status: int = 0
    worker: str = ""
    entry_id: str = field(default="", compare=False)

    def to_fields(self) -> dict[FieldT, EncodableT]:
        fields: dict[FieldT, EncodableT] = {"type": self.type.value}
        for name in ("seq", "segments", "duration_s", "status"):
            if getattr(self, name):
                fields[name] = getattr(self, name)
        for name in ("pcm", "message", "worker"):
            if getattr(self, name):
                fields[name] = getattr(self, name)
        return fields

    @classmethod
    def from_fields(cls, entry_id: bytes | str, fields: dict) -> "SpeechEvent":
        def text(name: str) -> str:
            value = fields.get(name.encode(), b"")
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

        return cls(
            type=EventType(text("type")),
            seq=int(text("seq") or 0),
            pcm=fields.get(b"pcm", b""),
            segments=int(text("segments") or 0),
            duration_s=float(text("duration_s") or 0.0),
            message=text("message"),
            status=int(text("status") or 0),
            worker=text("worker"),
            entry_id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        )


def stream_key(job_id: str) -> str:
    return KEY_PREFIX + job_id


class StreamWriter:
    """The worker side: append events to the request's stream (each refreshes its TTL)."""

    def __init__(self, client: redis.Redis, job_id: str, ttl_s: int) -> None:
        self.r = client
        self.key = stream_key(job_id)
        self.ttl_s = ttl_s

    def write(self, event: SpeechEvent) -> None:
        pipe = self.r.pipeline()
        pipe.xadd(self.key, event.to_fields(), maxlen=STREAM_MAXLEN, approximate=True)
        pipe.expire(self.key, self.ttl_s)
        pipe.execute()


class StreamReader:
    """The API side: read events after the last one seen, waiting at most ``block_s``."""

    def __init__(self, client: redis.Redis, job_id: str) -> None:
        self.r = client
        self.key = stream_key(job_id)
        self.last_id = "0-0"

    def read(self, block_s: float) -> list[SpeechEvent]:
        # XREAD's reply: [[key, [(entry id, {field: value}), ...]]] (redis-py types it loosely).
        reply = cast(
            list[Any],
            self.r.xread({self.key: self.last_id}, count=64, block=max(1, int(block_s * 1000))),
        )
        events = []
        for _key, entries in reply or ():
            for entry_id, fields in entries:
                event = SpeechEvent.from_fields(entry_id, fields)
                self.last_id = event.entry_id
                events.append(event)
        return events

    def delete_quietly(self) -> None:
        """Drop the stream once relayed (it would expire anyway: SPEECH_STREAM_TTL_S)."""
        try:
            self.r.delete(self.key)
        except redis.exceptions.RedisError:
            pass


def pcm16(samples, sample_rate: int) -> bytes:
    """float32 samples at ``sample_rate`` -> the stream's int16 LE mono at STREAM_SAMPLE_RATE."""
    import numpy as np

    wave = np.asarray(samples, dtype=np.float32)
    if sample_rate != STREAM_SAMPLE_RATE:
        from engines.audio import resample

        wave = resample(wave, sample_rate, STREAM_SAMPLE_RATE)
    return (np.clip(wave, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()


def event_for_failure(message: str, status: Optional[int]) -> SpeechEvent:
    return SpeechEvent(
        EventType.error,
        message=message.splitlines()[0][:500] if message else "synthesis failed",
        status=status or 500,
    )
