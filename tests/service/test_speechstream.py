"""The speech stream contract between worker and API (service/speechstream.py), the job store's
cancel rule and the VOICE_ALIASES parser, against a real redis-server."""

import json

import numpy as np
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from service import jobs as jobstore
from service.settings import ServiceSettingsError, load_service_settings, parse_voice_aliases
from service.speechstream import (
    STREAM_MAXLEN,
    STREAM_SAMPLE_RATE,
    EventType,
    SpeechEvent,
    StreamReader,
    StreamWriter,
    pcm16,
    stream_key,
)


@pytest.fixture
def raw(redis_server):
    client = redis.Redis.from_url(redis_server.url(1000), decode_responses=False)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def store(redis_server):
    client = redis.Redis.from_url(redis_server.url(1000), decode_responses=True)
    return jobstore.JobStore(client, 3600)


events = st.builds(
    SpeechEvent,
    type=st.sampled_from(EventType),
    seq=st.integers(0, 10**6),
    pcm=st.binary(max_size=4096),
    segments=st.integers(0, 10**4),
    duration_s=st.floats(0, 1e5, allow_nan=False),
    message=st.text(max_size=200),
    status=st.sampled_from([0, 400, 404, 409, 500]),
    worker=st.text(max_size=50),
)


@given(event=events)
@settings(max_examples=60, deadline=None)
def test_every_event_round_trips_through_redis(redis_server, event):
    client = redis.Redis.from_url(redis_server.url(1001), decode_responses=False)
    client.delete(stream_key("rt"))
    StreamWriter(client, "rt", 60).write(event)
    (got,) = StreamReader(client, "rt").read(0.1)
    assert got == event  # the entry id is not part of equality
    assert got.entry_id


def test_reader_resumes_after_the_last_entry_and_waits_bounded(raw):
    writer, reader = StreamWriter(raw, "j", 60), StreamReader(raw, "j")
    writer.write(SpeechEvent(EventType.start))
    writer.write(SpeechEvent(EventType.audio, seq=0, pcm=b"\x01\x00"))
    assert [e.type for e in reader.read(0.1)] == [EventType.start, EventType.audio]
    assert reader.read(0.2) == []  # nothing new: returns after the block, not never
    writer.write(SpeechEvent(EventType.done, duration_s=1.5))
    assert [e.type for e in reader.read(0.1)] == [EventType.done]


def test_stream_is_bounded_and_expires(raw):
    writer = StreamWriter(raw, "b", 60)
    for i in range(STREAM_MAXLEN * 3):
        writer.write(SpeechEvent(EventType.tick, seq=i))
    assert raw.xlen(stream_key("b")) < STREAM_MAXLEN * 2  # MAXLEN ~ trims in whole nodes
    assert 0 < raw.ttl(stream_key("b")) <= 60


def test_pcm16_is_the_stream_contract():
    wave = np.array([0.0, 0.5, -0.5, 1.5, -2.0], dtype=np.float32)
    out = np.frombuffer(pcm16(wave, STREAM_SAMPLE_RATE), dtype="<i2")
    assert out.tolist() == [0, 16384, -16384, 32767, -32767]  # clipped, little-endian int16
    # another rate is resampled to 24 kHz: 1 s in, 1 s out
    assert len(pcm16(np.zeros(22050, np.float32), 22050)) == 2 * STREAM_SAMPLE_RATE


# --------------------------------------------------------------------------- cancel
def test_cancel_a_queued_job_ends_it(store):
    store.create("q1", mode="speech")
    assert store.cancel("q1", "too long in the queue") == "cancelled"
    record = store.get("q1")
    assert record["status"] == "cancelled" and record["error"] == "too long in the queue"
    assert record["finished_at"]


def test_cancel_a_processing_job_asks_the_worker(store):
    store.create("p1", mode="speech")
    store.mark_processing("p1", 1e12)
    assert not store.cancel_requested("p1")
    assert store.cancel("p1", "client went away") == "requested"
    assert store.cancel_requested("p1")
    assert store.get("p1")["status"] == "processing"  # the worker ends it after its segment


@pytest.mark.parametrize("final", ["completed", "failed", "cancelled"])
def test_cancel_leaves_a_final_job_alone(store, final):
    store.create("f1", mode="speech")
    store.update("f1", status=final)
    assert store.cancel("f1", "late") == final
    assert store.get("f1")["status"] == final and not store.cancel_requested("f1")


def test_cancel_unknown_job(store):
    assert store.cancel("nope", "x") == "missing"
    assert store.get("nope") is None  # cancel creates nothing


# --------------------------------------------------------------------------- VOICE_ALIASES
def test_voice_aliases_parse():
    assert parse_voice_aliases("") == {}
    assert parse_voice_aliases(" Alloy = a1 , echo=e2,") == {"alloy": "a1", "echo": "e2"}


@pytest.mark.parametrize("value", ["alloy", "alloy=", "=id", "alloy=a,ALLOY=b"])
def test_bad_voice_aliases_are_one_line_errors(value):
    with pytest.raises(ServiceSettingsError) as err:
        load_service_settings(voice_aliases=value)
    assert str(err.value).startswith("VOICE_ALIASES: ") and "\n" not in str(err.value)


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_voice_aliases_any_input_parses_or_fails_clearly(value):
    try:
        aliases = parse_voice_aliases(value)
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert all(k and v and k == k.lower() for k, v in aliases.items())
        json.dumps(aliases)
