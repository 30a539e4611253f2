"""Faults of ``POST /v1/audio/speech`` on real processes, the official ``openai`` SDK as client:
a client that goes away mid-stream (the job ends ``cancelled``, the worker stops early, LOW_VRAM
leaves nothing resident), a worker child SIGKILLed mid-stream (the client's stream ends with an
error within SPEECH_STALL_S, never hangs; the next request works), a request still queued after
SPEECH_QUEUE_TIMEOUT_S (503 + Retry-After, and the worker never runs it later), and the rate
limit (RateLimitError).
"""

from __future__ import annotations

import os
import signal
import time

import openai
import pytest

from tests.service.helpers import ready_voice, wait_job
from tests.service.procs import children, stop_pid, wait_for
from tests.service.speech_client import (
    FINAL_STATUSES,
    JOB_ID_HEADER,
    TRANSPORT_ERRORS,
    decode,
    final_job,
    job_record,
    openai_client,
    redis_of,
    segments_of,
    sentences,
    speech_job_ids,
    sse_events,
    stream_entries,
    types_of,
)

pytestmark = pytest.mark.slow

# SPEECH_STALL_S of the fault stack: the worker ticks every 2 s; 10 s leaves room for a loaded
# 2-core CI machine (a tick thread can wait seconds for the GIL while the child imports a model).
STALL_S = 10
LONG = sentences(16, "en")  # many segments: the request is still running when we act on it
SHORT = "One more sentence after the fault."


@pytest.fixture(scope="module")
def stack(make_stack):
    # No queue bound in the way: a fault test may start while the last one's job still ends.
    return make_stack(LOW_VRAM="true", SPEECH_STALL_S=str(STALL_S), SPEECH_QUEUE_TIMEOUT_S="600")


@pytest.fixture(scope="module")
def voice_id(stack):
    with stack.client("client") as c:
        voice = ready_voice(c, language="en", name="faults")
    _next_request_works(openai_client(stack, stack.api_key), voice)  # engine libraries imported
    return voice


@pytest.fixture(autouse=True)
def idle_worker(request):
    """Each fault starts on an idle worker: the previous test's job has ended."""
    if "stack" in request.fixturenames:
        stack = request.getfixturevalue("stack")
        wait_for(
            lambda: all(
                job_record(stack, j)["status"] in FINAL_STATUSES for j in speech_job_ids(stack)
            ),
            180,
            "the worker to be idle",
        )


@pytest.fixture(scope="module")
def client(stack):
    return openai_client(stack, stack.api_key)


def _job_status(stack, job_id: str, timeout: float = 60) -> dict:
    with stack.client("client") as c:
        return wait_job(c, job_id, timeout=timeout, until=FINAL_STATUSES)


def _nothing_resident(stack) -> bool:
    """LOW_VRAM: after a job no model holds the device (parked in host RAM at most)."""
    with stack.client("admin") as c:
        vram = c.get("/admin/vram").json()["vram"]
    return vram["low_vram_mode"] and all(
        m["parked"] and m["in_use"] == 0 for m in vram["resident_models"]
    )


def _next_request_works(client, voice_id: str) -> None:
    data = client.audio.speech.create(
        model="f5tts", voice=voice_id, input=SHORT, response_format="pcm"
    ).read()
    assert decode("pcm", data).duration_s > 0.1


def _new_child(stack, old: int) -> None:
    wait_for(
        lambda: children(stack.worker.pid) and children(stack.worker.pid) != [old],
        60,
        "a new pool child",
    )
    with stack.client("admin") as c:  # the new child announced itself (startup publish)
        wait_for(
            lambda: (
                f"pid={children(stack.worker.pid)[0]}"
                in (c.get("/admin/vram").json().get("worker") or "")
            ),
            120,
            "the new child's heartbeat",
        )


# --------------------------------------------------------------------------- disconnect
@pytest.mark.timeout(180)
def test_client_disconnect_cancels_the_job(stack, voice_id, client):
    with client.audio.speech.with_streaming_response.create(
        model="f5tts", voice=voice_id, input=LONG, response_format="mp3"
    ) as resp:
        job_id = resp.headers[JOB_ID_HEADER]
        assert next(resp.iter_bytes())
        at_first = stream_entries(stack, job_id)
    # Leaving the block closed the connection after the first chunk, segments still to come.
    assert segments_of(at_first) >= 2 and "done" not in types_of(at_first), at_first
    info = _job_status(stack, job_id)
    # `cancelled` is recorded only when the worker stopped between segments (a request that
    # ran to its end is `completed`): it did not synthesize the rest for nobody.
    assert info["status"] == "cancelled", info
    assert "done" not in types_of(stream_entries(stack, job_id))
    wait_for(lambda: _nothing_resident(stack), 30, "LOW_VRAM: no model resident after cancel")
    _next_request_works(client, voice_id)
    wait_for(lambda: _nothing_resident(stack), 30, "LOW_VRAM: no model resident after a job")


# --------------------------------------------------------------------------- worker killed
@pytest.mark.timeout(240)
def test_worker_killed_mid_stream_ends_the_audio_stream_with_an_error(stack, voice_id, client):
    with client.audio.speech.with_streaming_response.create(
        model="f5tts", voice=voice_id, input=LONG, response_format="pcm"
    ) as resp:
        job_id = resp.headers[JOB_ID_HEADER]
        chunks = resp.iter_bytes()
        first = next(chunks)
        (child,) = children(stack.worker.pid)
        os.kill(child, signal.SIGKILL)
        killed_at = time.monotonic()
        received, error = len(first), None
        try:  # the body must end without its final chunk: httpx sees an incomplete body
            for chunk in chunks:
                received += len(chunk)
        except TRANSPORT_ERRORS as exc:
            error = exc
        ended_after = time.monotonic() - killed_at
    if error is None:
        job = final_job(stack, job_id, timeout=300)
        pytest.fail(
            f"the stream ended complete {ended_after:.0f} s after the worker was killed: "
            f"{received / 48000:.2f} s of audio received, the job ({job['status']}, "
            f"attempt {job.get('attempts')}) says {job.get('audio_duration_s')} s: a "
            "redelivered attempt went on writing to the stream the client was reading"
        )
    assert ended_after < STALL_S + 10, ended_after  # the stated bound, with the poll slack
    _after_kill(stack, client, voice_id, job_id, child)


@pytest.mark.timeout(240)
def test_worker_killed_mid_stream_ends_the_sse_stream_with_an_error_event(stack, voice_id, client):
    with client.audio.speech.with_streaming_response.create(
        model="f5tts", voice=voice_id, input=LONG, response_format="pcm", stream_format="sse"
    ) as resp:
        job_id = resp.headers[JOB_ID_HEADER]
        lines = resp.iter_lines()
        assert next(line for line in lines if line.startswith("data:"))  # the first delta
        (child,) = children(stack.worker.pid)
        os.kill(child, signal.SIGKILL)
        killed_at = time.monotonic()
        events = sse_events(lines)
        ended_after = time.monotonic() - killed_at
    kinds = [e["type"] for e in events]
    assert "speech.audio.done" not in kinds, (
        f"the SSE stream ended complete {ended_after:.0f} s after the worker was killed "
        f"({kinds.count('speech.audio.delta')} more deltas): a redelivered attempt went on "
        "writing to the stream the client was reading"
    )
    assert kinds and kinds[-1] == "error", kinds
    assert ended_after < STALL_S + 10, ended_after
    assert events[-1]["error"]["message"], events[-1]
    _after_kill(stack, client, voice_id, job_id, child)


def _after_kill(stack, client, voice_id: str, job_id: str, child: int) -> None:
    """The request is over for good: its job ends failed or cancelled (not re-run for a client
    that is gone), a new child serves the next request, LOW_VRAM holds nothing."""
    _new_child(stack, child)
    info = _job_status(stack, job_id, timeout=120)
    assert info["status"] in ("failed", "cancelled"), info
    _next_request_works(client, voice_id)
    assert _job_status(stack, job_id)["status"] == info["status"]  # no late re-run
    wait_for(lambda: _nothing_resident(stack), 30, "LOW_VRAM: no model resident")


# --------------------------------------------------------------------------- queue + rate
@pytest.fixture(scope="module")
def limited(make_stack):
    """A client key with a bucket of 2 and a 3 s queue bound."""
    # 0.1 a minute: no token comes back while the test runs, however slow the machine.
    s = make_stack(RATE_LIMIT_PER_MINUTE="0.1", RATE_LIMIT_BURST="2", SPEECH_QUEUE_TIMEOUT_S="3")
    with s.client("client") as c:
        s.voice_id = ready_voice(c, language="en", name="limited")  # token 1 of 2
    return s


def test_over_the_rate_is_rate_limit_error(limited):
    client = openai_client(limited, limited.api_key)
    data = client.audio.speech.create(
        model="f5tts", voice=limited.voice_id, input=SHORT, response_format="pcm"
    ).read()  # token 2 of 2
    assert decode("pcm", data).duration_s > 0
    with pytest.raises(openai.RateLimitError) as exc:
        client.audio.speech.create(model="f5tts", voice=limited.voice_id, input=SHORT)
    assert 1 <= int(exc.value.response.headers["retry-after"]) <= 600
    error = exc.value.response.json()["error"]
    assert error["type"] == "rate_limit_exceeded" and "rate limit" in error["message"], error
    # Reads are not limited.
    assert [m.id for m in client.models.list().data]


@pytest.mark.timeout(240)
def test_request_still_queued_after_the_bound_is_503_and_never_runs(limited):
    admin = openai_client(limited, limited.admin_key)  # its own bucket
    stop_pid(limited.worker)  # nobody takes the request
    before = speech_job_ids(limited)
    with pytest.raises(openai.APIStatusError) as exc:
        admin.audio.speech.create(model="f5tts", voice=limited.voice_id, input=SHORT)
    assert exc.value.status_code == 503, exc.value
    assert int(exc.value.response.headers["retry-after"]) >= 1
    error = exc.value.response.json()["error"]
    assert error["type"] == "server_error" and error["message"], error
    (job_id,) = speech_job_ids(limited) - before
    assert job_record(limited, job_id)["status"] == "cancelled"
    # A worker that comes back later takes the message and drops it: no audio for nobody.
    limited.start_worker()
    limited.wait_ready()
    r = redis_of(limited)
    wait_for(
        lambda: r.llen("audio-voice") == 0 and not r.hlen("unacked"),
        60,
        "the queued message to be taken",
    )
    data = admin.audio.speech.create(
        model="f5tts", voice=limited.voice_id, input=SHORT, response_format="pcm"
    ).read()
    assert decode("pcm", data).duration_s > 0  # the worker took (and dropped) the old one first
    assert job_record(limited, job_id)["status"] == "cancelled"
    assert "audio" not in types_of(stream_entries(limited, job_id))
