"""The OpenAI-compatible API (issue 12) through the official ``openai`` SDK, unmodified, on real
processes: redis-server, uvicorn API, Celery worker with the tiny models.

``POST /v1/audio/speech`` in all six formats (decoded by libsndfile / FFmpeg, duration checked
against the same text through ``POST /jobs``), streaming (the first chunk arrives while the
worker's Redis Stream still lacks its ``done`` entry: an order of events, no wall clock), SSE,
both engines on paragraph-length text in two languages, the typed errors the SDK raises, and
``GET /v1/models`` / ``GET /v1/audio/voices`` per key. Faults (disconnect, SIGKILL, queue
timeout, rate limit) are in test_openai_faults.py.
"""

from __future__ import annotations

import io
import secrets

import httpx
import openai
import pytest
import soundfile as sf

from tests.service.helpers import ready_voice, wait_job
from tests.service.procs import stop_pid, wait_for
from tests.service.speech_client import (
    CODEC_SLACK_S,
    CONTENT_TYPES,
    FORMATS,
    JOB_ID_HEADER,
    MODELS,
    decode,
    expected_rates,
    final_job,
    job_record,
    openai_client,
    paragraph,
    segments_of,
    sentences,
    sse_audio,
    sse_events,
    stream_entries,
    types_of,
)

pytestmark = pytest.mark.slow

KEY_A, KEY_B = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
SHORT = "Hello there. This is a short test of the speech route."
SHARED_NAME = "narrator"  # A and B each own a voice of this name: ambiguous for the admin


@pytest.fixture(scope="module")
def stack(make_stack):
    return make_stack(LOW_VRAM="false", API_KEYS=f"{KEY_A},{KEY_B}")


@pytest.fixture(scope="module")
def voices(stack):
    """A: an English and a Portuguese voice with transcripts (both engines); B: a German voice
    without one (XTTS only), named like A's English voice."""
    with stack.client(KEY_A) as a, stack.client(KEY_B) as b:
        return {
            "a_en": ready_voice(a, language="en", name=SHARED_NAME),
            "a_pt": ready_voice(a, language="pt-BR", name="falante"),
            "b_de": ready_voice(b, language="de", name=SHARED_NAME, ref_text=None),
        }


@pytest.fixture(scope="module")
def a(stack):
    return openai_client(stack, KEY_A)


@pytest.fixture(scope="module")
def b(stack):
    return openai_client(stack, KEY_B)


@pytest.fixture(scope="module")
def reference_s(stack, voices):
    """SHORT through today's path (POST /jobs -> poll -> WAV), F5-TTS: its duration depends only
    on the text and the reference, so the speech route must give the same length."""
    with stack.client(KEY_A) as c:
        r = c.post(
            "/jobs",
            json={"text": SHORT, "language": "en", "voice_id": voices["a_en"], "engine": "f5tts"},
        )
        assert r.status_code == 202, r.text
        info = wait_job(c, r.json()["job_id"])
        assert info["status"] == "completed", info
        data, rate = sf.read(io.BytesIO(c.get(info["audio_url"]).content))
    assert rate == 24000
    return len(data) / rate


# --------------------------------------------------------------------------- formats
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_decodes_at_the_engines_length(a, voices, reference_s, stack, fmt):
    raw = a.audio.speech.with_raw_response.create(
        model="f5tts", voice=voices["a_en"], input=SHORT, response_format=fmt
    )
    assert raw.headers["content-type"].split(";")[0] == CONTENT_TYPES[fmt]
    # Streamed, not buffered: chunked transfer, no length known up front.
    assert raw.headers.get("transfer-encoding") == "chunked" and "content-length" not in raw.headers
    audio = decode(fmt, raw.content)
    assert audio.sample_rate in expected_rates(fmt), (fmt, audio.sample_rate)
    slack = CODEC_SLACK_S[fmt] + 0.02 * reference_s
    assert abs(audio.duration_s - reference_s) <= slack, (fmt, audio.duration_s, reference_s)
    assert abs(audio.samples).max() > 0.001, f"{fmt}: silence"
    job = final_job(stack, raw.headers[JOB_ID_HEADER])
    assert job["status"] == "completed" and job["mode"] == "speech", job
    assert abs(audio.duration_s - job["audio_duration_s"]) <= slack, (audio.duration_s, job)


def test_default_format_is_mp3(a, voices):
    raw = a.audio.speech.with_raw_response.create(model="f5tts", voice=voices["a_en"], input=SHORT)
    assert raw.headers["content-type"].split(";")[0] == "audio/mpeg"
    assert decode("mp3", raw.content).duration_s > 0


def test_streamed_wav_has_an_unknown_length_header_and_decodes(a, voices, reference_s):
    """OpenAI's streamed WAV: RIFF and data sizes unknown (0xFFFFFFFF); decoders read to EOF."""
    data = a.audio.speech.create(
        model="f5tts", voice=voices["a_en"], input=SHORT, response_format="wav"
    ).read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert int.from_bytes(data[4:8], "little") in (0xFFFFFFFF, 0), data[:44]
    assert abs(decode("wav", data).duration_s - reference_s) <= 0.05


def test_speed_changes_the_length(a, voices, reference_s):
    fast = a.audio.speech.create(
        model="f5tts", voice=voices["a_en"], input=SHORT, response_format="pcm", speed=2.0
    ).read()
    ratio = decode("pcm", fast).duration_s / reference_s
    assert 0.35 < ratio < 0.65, ratio


def test_instructions_are_accepted(a, voices):
    data = a.audio.speech.create(
        model="f5tts",
        voice=voices["a_en"],
        input=SHORT,
        response_format="pcm",
        instructions="Speak softly.",
    ).read()
    assert decode("pcm", data).duration_s > 0


@pytest.mark.parametrize(
    "model,engine,profile",
    [
        ("tts-1", "f5tts", "f5tts_fast"),
        ("tts-1-hd", "f5tts", "f5tts_quality"),
        ("gpt-4o-mini-tts", "f5tts", "f5tts_balanced"),
        ("xtts", "xtts", "xtts_balanced"),
    ],
)
def test_model_aliases_pick_engine_and_profile(a, voices, stack, model, engine, profile):
    raw = a.audio.speech.with_raw_response.create(
        model=model, voice=voices["a_en"], input=SHORT, response_format="pcm"
    )
    assert decode("pcm", raw.content).duration_s > 0
    job = job_record(stack, raw.headers[JOB_ID_HEADER])
    assert (job["engine"], job["quality_profile"]) == (engine, profile), job


# --------------------------------------------------------------------------- streaming
@pytest.mark.parametrize("engine", ["f5tts", "xtts"])
def test_first_chunk_arrives_before_the_worker_finishes(a, voices, stack, engine):
    """Order of events, not timing: when the first chunk is in the client's hands, the worker's
    stream has no ``done`` entry and fewer audio entries than segments. The client gets the
    worker's whole audio (pcm passes through the API unchanged)."""
    text = sentences(6, "en")
    with a.audio.speech.with_streaming_response.create(
        model=engine, voice=voices["a_en"], input=text, response_format="pcm"
    ) as resp:
        job_id = resp.headers[JOB_ID_HEADER]
        chunks = resp.iter_bytes()
        first = next(chunks)
        at_first = stream_entries(stack, job_id)  # the worker's progress at that moment
        received = first + b"".join(chunks)
    assert first
    kinds = types_of(at_first)
    assert kinds[0] == "start" and "audio" in kinds, kinds
    segments = segments_of(at_first)
    assert segments >= 2, f"{len(text)} characters in {segments} segment(s): nothing to stream"
    assert "done" not in kinds and kinds.count("audio") < segments, (kinds, segments)
    job = final_job(stack, job_id)
    assert job["status"] == "completed", job
    assert abs(len(received) / 2 / 24000 - job["audio_duration_s"]) < 0.01, (len(received), job)
    assert job["timings"]["first_audio_s"] < job["timings"]["inference_s"], job["timings"]


@pytest.mark.parametrize("fmt", ["mp3", "pcm"])
def test_sse_deltas_then_done(a, voices, stack, fmt):
    with a.audio.speech.with_streaming_response.create(
        model="f5tts",
        voice=voices["a_en"],
        input=sentences(3, "en"),
        response_format=fmt,
        stream_format="sse",
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        job_id = resp.headers[JOB_ID_HEADER]
        events = sse_events(resp.iter_lines())
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "speech.audio.done" and kinds.count("speech.audio.done") == 1, kinds
    assert set(kinds[:-1]) == {"speech.audio.delta"}, kinds
    usage = events[-1]["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0, usage
    audio = decode(fmt, sse_audio(events))
    job = final_job(stack, job_id)
    assert job["status"] == "completed", job
    assert abs(audio.duration_s - job["audio_duration_s"]) <= CODEC_SLACK_S[fmt] + 0.01


def test_api_process_streams_without_torch(a, voices, stack):
    """Encoders run in the API (FFmpeg's libraries), models only in the worker child."""
    for fmt in ("mp3", "aac"):
        assert a.audio.speech.create(
            model="f5tts", voice=voices["a_en"], input=SHORT, response_format=fmt
        ).content
    maps = open(f"/proc/{stack.api.pid}/maps").read()
    assert "libtorch" not in maps, "torch was loaded into the API process"
    assert "libavcodec" in maps  # the encoders did run here


@pytest.mark.parametrize(
    "engine,language,voice,key",
    [
        ("f5tts", "en", "a_en", KEY_A),
        ("f5tts", "pt", "a_pt", KEY_A),
        ("xtts", "en", "a_en", KEY_A),
        ("xtts", "de", "b_de", KEY_B),
    ],
)
def test_paragraph_in_two_languages_both_engines(stack, voices, engine, language, voice, key):
    text = paragraph(language)
    assert len(text) >= 1000
    client = openai_client(stack, key)
    with client.audio.speech.with_streaming_response.create(
        model=engine,
        voice=voices[voice],
        input=text,
        response_format="flac",
        extra_body={"language": language, "quality_profile": f"{engine}_fast"},
    ) as resp:
        job_id = resp.headers[JOB_ID_HEADER]
        chunks = resp.iter_bytes()
        first = next(chunks)
        segments = segments_of(stream_entries(stack, job_id))
        audio = decode("flac", first + b"".join(chunks))
    assert segments >= 2, segments
    assert audio.sample_rate == 24000
    job = final_job(stack, job_id)
    assert job["status"] == "completed", job
    assert abs(audio.duration_s - job["audio_duration_s"]) < 0.01, (audio.duration_s, job)
    assert job["engine"] == engine and job["language"].startswith(language), job


def test_voice_by_name(a, voices, stack):
    raw = a.audio.speech.with_raw_response.create(
        model="f5tts", voice=SHARED_NAME, input=SHORT, response_format="pcm"
    )
    assert decode("pcm", raw.content).duration_s > 0
    assert job_record(stack, raw.headers[JOB_ID_HEADER])["voice_id"] == voices["a_en"]


def test_voice_as_object(a, voices, stack):
    """The SDK's custom-voice form: ``voice={"id": ...}``."""
    raw = a.audio.speech.with_raw_response.create(
        model="f5tts", voice={"id": voices["a_en"]}, input=SHORT, response_format="pcm"
    )
    assert decode("pcm", raw.content).duration_s > 0
    assert job_record(stack, raw.headers[JOB_ID_HEADER])["voice_id"] == voices["a_en"]


def test_jobs_api_still_works_alongside(stack, voices):
    with stack.client(KEY_A) as c:
        r = c.post("/jobs", json={"text": SHORT, "language": "en", "voice_id": voices["a_en"]})
        assert r.status_code == 202, r.text
        assert wait_job(c, r.json()["job_id"])["status"] == "completed"


# --------------------------------------------------------------------------- errors
def _openai_shape(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def test_wrong_key_is_authentication_error(stack, voices):
    bad = openai_client(stack, secrets.token_urlsafe(32))
    with pytest.raises(openai.AuthenticationError) as exc:
        bad.audio.speech.create(model="f5tts", voice=voices["a_en"], input=SHORT)
    assert exc.value.status_code == 401
    error = _openai_shape(exc.value.response)
    assert error["type"] == "authentication_error" and error["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_unknown_voice_is_not_found_with_our_message(a):
    with pytest.raises(openai.NotFoundError) as exc:
        a.audio.speech.create(model="f5tts", voice="no-such-voice", input=SHORT)
    error = _openai_shape(exc.value.response)
    assert error["param"] == "voice" and "no-such-voice" in error["message"], error
    assert error["type"] == "invalid_request_error"


def test_another_keys_voice_is_indistinguishable_from_unknown(b, voices):
    with pytest.raises(openai.NotFoundError) as exc:
        b.audio.speech.create(model="f5tts", voice=voices["a_en"], input=SHORT)
    error = _openai_shape(exc.value.response)
    assert error["param"] == "voice" and voices["a_en"] in error["message"], error


def test_bad_model_names_the_accepted_values(a, voices):
    with pytest.raises(openai.BadRequestError) as exc:
        a.audio.speech.create(model="whisper-9", voice=voices["a_en"], input=SHORT)
    error = _openai_shape(exc.value.response)
    assert error["param"] == "model", error
    assert all(name in error["message"] for name in MODELS), error["message"]


@pytest.mark.parametrize(
    "field,value",
    [
        ("response_format", "ogg"),
        ("speed", 4.5),
        ("speed", 0.1),
        ("stream_format", "chunks"),
        ("input", ""),
    ],
)
def test_bad_field_is_400_naming_it(stack, voices, field, value):
    body = {"model": "f5tts", "voice": voices["a_en"], "input": SHORT, field: value}
    with stack.client(KEY_A) as c:
        r = c.post("/v1/audio/speech", json=body)
    assert r.status_code == 400, r.text
    error = _openai_shape(r)
    assert error["param"] == field and error["type"] == "invalid_request_error", error


def test_name_shared_by_two_owners_is_ambiguous_for_the_admin(stack, voices):
    admin = openai_client(stack, stack.admin_key)
    with pytest.raises(openai.BadRequestError) as exc:
        admin.audio.speech.create(model="xtts", voice=SHARED_NAME, input=SHORT)
    error = _openai_shape(exc.value.response)
    assert voices["a_en"] in error["message"] and voices["b_de"] in error["message"], error


def test_builtin_voice_needs_an_alias_then_works(stack, voices, a):
    with pytest.raises(openai.BadRequestError) as exc:
        a.audio.speech.create(model="f5tts", voice="alloy", input=SHORT)
    error = _openai_shape(exc.value.response)
    assert "VOICE_ALIASES" in error["message"] and error["param"] == "voice", error
    # The operator maps the built-in name to a cloned voice: restart the API with the alias.
    stop_pid(stack.api)
    stack.env_extra["VOICE_ALIASES"] = f"alloy={voices['a_en']}"
    stack.start_api()
    with stack.client() as c:
        wait_for(lambda: c.get("/health").status_code == 200, 60, "the API with VOICE_ALIASES")
    raw = a.audio.speech.with_raw_response.create(
        model="f5tts", voice="alloy", input=SHORT, response_format="pcm"
    )
    assert decode("pcm", raw.content).duration_s > 0
    assert job_record(stack, raw.headers[JOB_ID_HEADER])["voice_id"] == voices["a_en"]


# --------------------------------------------------------------------------- listings
def test_models_list(a):
    models = a.models.list()
    ids = [m.id for m in models.data]
    assert set(MODELS) <= set(ids), ids
    for m in models.data:
        assert m.object == "model" and m.owned_by and isinstance(m.created, int)


def test_voices_lists_only_the_callers(stack, voices):
    def listed(key):
        with stack.client(key) as c:
            r = c.get("/v1/audio/voices")
        assert r.status_code == 200, r.text
        return {v["id"]: v for v in r.json()["voices"]}

    mine, theirs = listed(KEY_A), listed(KEY_B)
    assert set(mine) == {voices["a_en"], voices["a_pt"]}, mine
    assert set(theirs) == {voices["b_de"]}, theirs
    en = mine[voices["a_en"]]
    assert en["name"] == SHARED_NAME and en["language"] == "en" and en["status"] == "ready"
    assert set(en["engines"]) == {"f5tts", "xtts"}, en  # it has a transcript: F5 can use it
    assert theirs[voices["b_de"]]["engines"] == ["xtts"], theirs  # no transcript: XTTS only
    with stack.client(secrets.token_urlsafe(32)) as c:
        r = c.get("/v1/audio/voices")
    assert r.status_code == 401 and _openai_shape(r)["type"] == "authentication_error"
