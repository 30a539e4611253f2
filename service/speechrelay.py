"""The API side of a speech request: wait for the worker's first audio, then relay the request's
Redis Stream to the HTTP response, encoding as it goes (``service.encoders``).

The HTTP status is decided before the first byte: a request still queued after
SPEECH_QUEUE_TIMEOUT_S is a 503 (and is cancelled), a worker that fails before any audio gives
its error's status. After the first byte, a failure can only end the body: SSE sends an
``error`` event, raw audio closes the connection without the final chunk, so no client mistakes
a cut stream for a whole one. A client that goes away cancels the request; the worker stops
after the segment it is on.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Send

from service import jobs as jobstore
from service.encoders import StreamEncoder
from service.errors import Rejected
from service.redis_conn import get_raw_redis
from service.schemas import JobStatus
from service.settings import ServiceSettings
from service.speechstream import EventType, SpeechEvent, StreamReader

logger = logging.getLogger("service.api")

POLL_S = 1.0  # one blocking read at most this long, then the clocks are checked
CANCEL_REASON = "cancelled: the client went away or the request timed out"


class StreamAborted(Exception):
    """The stream cannot go on (worker lost or failed after audio was sent)."""


class SpeechRelay:
    def __init__(
        self,
        store: jobstore.JobStore,
        job_id: str,
        settings: ServiceSettings,
        encoder: StreamEncoder,
        sse: bool,
        input_chars: int,
    ) -> None:
        self.store, self.job_id, self.settings = store, job_id, settings
        self.encoder, self.sse, self.input_chars = encoder, sse, input_chars
        self.reader = StreamReader(get_raw_redis(), job_id)
        self.created = self.last_word = time.monotonic()
        self.started = False
        self.audio_sent = False
        self.finished = False  # done (or failed) as far as the worker is concerned

    # ------------------------------------------------------------------ before the first byte
    async def first_audio(self) -> list[SpeechEvent]:
        """Events up to and including the first audio (or the end); raises Rejected when the
        request fails before any audio: the route answers with its status."""
        while True:
            for index, event in enumerate(events := await self._read()):
                if event.type == EventType.start:
                    self.started = True
                elif event.type in (EventType.audio, EventType.done):
                    return events[index:]
                elif event.type == EventType.error:
                    self.finished = True
                    raise Rejected(event.message, event.status or 500)
                elif event.type == EventType.cancelled:
                    self.finished = True
                    raise Rejected(
                        "the request was cancelled before any audio",
                        503,
                        headers={"Retry-After": "1"},
                    )
            self._check_clocks_before_audio()

    def _check_clocks_before_audio(self) -> None:
        waited = time.monotonic() - self.created
        if not self.started and waited > self.settings.speech_queue_timeout_s:
            outcome = self.store.cancel(self.job_id, "still queued after SPEECH_QUEUE_TIMEOUT_S")
            if outcome != "requested":  # cancelled while queued (or already gone): nothing ran
                self.finished = True
                raise Rejected(
                    f"no worker took the request within {waited:.0f} s "
                    "(SPEECH_QUEUE_TIMEOUT_S): the queue is busy or no worker is "
                    "running; retry later",
                    503,
                    headers={"Retry-After": "5"},
                )
            self.started = True  # a worker took it at that moment: keep waiting for audio
        self._check_stall()
        if not self.started:
            self._check_job_not_final()

    def _check_job_not_final(self) -> None:
        # A job failed without a stream (a worker lost too often, the reaper): say so now.
        record = self.store.get(self.job_id) or {}
        if record.get("status") in (JobStatus.failed.value, JobStatus.cancelled.value):
            self.finished = True
            raise Rejected(
                f"synthesis {record['status']}: {record.get('error') or 'no reason'}",
                503,
                headers={"Retry-After": "5"},
            )

    def _check_stall(self) -> None:
        silent = time.monotonic() - self.last_word
        if self.started and silent > self.settings.speech_stall_s:
            self.store.cancel(self.job_id, "the worker stopped responding (SPEECH_STALL_S)")
            self.finished = True
            raise Rejected(
                f"the worker stopped responding (nothing for {silent:.0f} s, "
                "SPEECH_STALL_S); retry",
                503,
                headers={"Retry-After": "5"},
            )

    # ------------------------------------------------------------------ the body
    async def body(self, pending: list[SpeechEvent]) -> AsyncIterator[bytes]:
        try:
            events = pending
            while True:
                for event in events:
                    async for chunk in self._relay(event):
                        yield chunk
                    if self.finished:
                        return
                try:
                    self._check_stall()
                except Rejected as exc:
                    async for chunk in self._abort(str(exc)):
                        yield chunk
                    return
                events = await self._read()
        finally:
            if not self.finished:  # the client went away: stop the worker after this segment
                self._cancel_quietly()
            self.encoder.close()
            self.reader.delete_quietly()

    async def _relay(self, event: SpeechEvent) -> AsyncIterator[bytes]:
        if event.type == EventType.start and self.audio_sent:
            # The worker was lost and the job redelivered: a new attempt starts from the first
            # segment, which cannot be spliced onto what the client already has. End the
            # stream as failed and stop the new attempt (it checks before its first segment).
            self.store.cancel(self.job_id, "the worker was lost mid-stream")
            async for chunk in self._abort("the worker was lost mid-stream; retry the request"):
                yield chunk
        elif event.type == EventType.audio:
            self.audio_sent = True
            encoded = await run_in_threadpool(self.encoder.feed, event.pcm)
            if encoded:
                yield self._frame(encoded)
        elif event.type == EventType.done:
            self.finished = True
            tail = await run_in_threadpool(self.encoder.finish)
            if tail:
                yield self._frame(tail)
            if self.sse:
                yield _sse(
                    {
                        "type": "speech.audio.done",
                        "usage": {
                            "input_tokens": self.input_chars,
                            "output_tokens": event.segments,
                            "total_tokens": self.input_chars + event.segments,
                        },
                    }
                )
        elif event.type in (EventType.error, EventType.cancelled):
            async for chunk in self._abort(event.message or "synthesis was cancelled"):
                yield chunk

    async def _abort(self, message: str) -> AsyncIterator[bytes]:
        self.finished = True
        logger.warning("speech %s: stream ended early: %s", self.job_id, message)
        if self.sse:
            yield _sse(
                {
                    "type": "error",
                    "error": {
                        "message": message,
                        "type": "server_error",
                        "param": None,
                        "code": "stream_interrupted",
                    },
                }
            )
            return
        raise StreamAborted(message)

    def _frame(self, encoded: bytes) -> bytes:
        if not self.sse:
            return encoded
        return _sse({"type": "speech.audio.delta", "audio": base64.b64encode(encoded).decode()})

    # ------------------------------------------------------------------ plumbing
    async def _read(self) -> list[SpeechEvent]:
        events = await run_in_threadpool(self.reader.read, POLL_S)
        if events:
            self.last_word = time.monotonic()
            self.started = True  # only a worker that took the request writes (ticks included)
        return [e for e in events if e.type != EventType.tick]

    def _cancel_quietly(self) -> None:
        try:
            self.store.cancel(self.job_id, CANCEL_REASON)
            logger.info("speech %s: client went away, cancelled", self.job_id)
        except Exception as exc:  # noqa: BLE001  (Redis down: the job's deadline still bounds it)
            logger.warning("speech %s: could not cancel: %s", self.job_id, exc)

    def cancel_unstarted(self) -> None:
        """The route failed before the body ran (a Rejected): leave no work behind."""
        if not self.finished:
            self._cancel_quietly()
        self.encoder.close()
        self.reader.delete_quietly()


def _sse(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


class RelayResponse(StreamingResponse):
    """A StreamingResponse that, when the stream is aborted, returns without the final chunk:
    the server closes the connection and the client sees an incomplete body, not a short file."""

    async def stream_response(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        try:
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except StreamAborted:
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})
