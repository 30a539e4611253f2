"""Odd input on a real uvicorn + redis-server (no worker): never a 500, never a job the worker
cannot run, never a token of the rate limit spent on a rejected request.

* JSON the standard forbids (NaN, Infinity, -Infinity, 1e999, 5,000-digit integers) and text
  that is not valid Unicode (a lone surrogate escape) anywhere in the body: 422 naming why;
* the 422 handler never fails to encode, whatever the input (form fields sent as files too);
* voice_name, ref_text, language and text: stripped, then checked (empty, control characters);
* rejected submissions give their rate-limit token back.
"""

from __future__ import annotations

import json

import pytest
import redis

from service import validation as v
from service.auth import Principal
from service.schemas import JobCreate, VoiceStatus
from service.settings import load_service_settings
from tests.service.helpers import clone, wav_bytes
from tests.service.procs import wait_for

ZERO = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def stack(make_stack):
    s = make_stack(
        start_worker=False, MAX_UPLOAD_MB="0.1", MAX_REFERENCE_SECONDS="3", MAX_TEXT_CHARS="100"
    )
    with s.client() as c:
        wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
    return s


@pytest.fixture(scope="module")
def api(stack):
    with stack.client("client") as c:
        yield c


@pytest.fixture(scope="module")
def voice_id(api):
    r = clone(api, data=wav_bytes(2.0, 8000))
    assert r.status_code == 202, r.text
    return r.json()["voice_id"]


def job_keys(stack) -> set:
    return set(redis.Redis.from_url(stack.redis_url).scan_iter("avops:job:*"))


def voice_dirs(stack) -> set:
    return {p.name for p in (stack.data_dir / "voices").iterdir() if not p.name.startswith(".")}


def post_raw(api, body: str):
    return api.post(
        "/jobs",
        content=body.encode("utf-8", "surrogatepass"),
        headers={"Content-Type": "application/json"},
    )


def assert_no_traceback(stack):
    log = (stack.log_dir / "api.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


@pytest.mark.parametrize("text", ["🙂🙂🙂", "?!...", "…"])
def test_text_with_nothing_to_speak_is_422_and_queues_nothing(stack, api, voice_id, text):
    before = job_keys(stack)
    r = api.post(
        "/jobs", json={"text": text, "language": "pt", "voice_id": voice_id, "engine": "xtts"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("text: nothing to speak"), r.text
    assert job_keys(stack) == before


# --------------------------------------------------------------------------- JSON numbers
NOT_JSON_NUMBERS = {
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "1e999": "out of range",
    "-1e999": "out of range",
    "1" * 5000: "too long",
}
PLACES = [  # {x}: the value; {v}: a real voice, so only the value can make it fail
    '{{"text": {x}, "language": "pt", "voice_id": "{v}"}}',
    '{{"text": "ola", "language": {x}, "voice_id": "{v}"}}',
    '{{"text": "ola", "language": "pt", "voice_id": "{v}", "extra": {x}}}',
    '{{"text": "ola", "language": "pt", "voice_id": "{v}", "engine": [1, {{"deep": [{x}]}}]}}',
    '{{"text": "ola", "language": "pt", "voice_id": "{v}", "quality_profile": {{"a": {x}}}}}',
    "[{x}]",
    "{x}",
]


@pytest.mark.parametrize("number", NOT_JSON_NUMBERS, ids=lambda n: n[:12])
@pytest.mark.parametrize("place", PLACES)
def test_non_finite_numbers_anywhere_are_422(stack, api, voice_id, number, place):
    before = job_keys(stack)
    r = post_raw(api, place.format(x=number, v=voice_id))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("body: not valid JSON: ") and NOT_JSON_NUMBERS[number] in detail
    assert job_keys(stack) == before
    assert_no_traceback(stack)


SURROGATE = '"\\ud800abc"'  # a JSON escape decoding to a lone surrogate: not encodable text
SURROGATE_PLACES = [
    '{{"text": {s}, "language": "pt", "voice_id": "{v}"}}',
    '{{"text": "ola", "language": {s}, "voice_id": "{v}"}}',
    '{{"text": "ola", "language": "pt", "voice_id": {s}}}',
    '{{"text": "ola", "language": "pt", "voice_id": "{v}", "engine": {s}}}',
    '{{"text": "ola", "language": "pt", "voice_id": "{v}", "quality_profile": {s}}}',
    '{{"text": "ola", "language": "pt", "voice_id": "{v}", "mode": {s}}}',
    '{{"text": "ola", "language": "pt", "voice_id": "{v}", {s}: 1}}',
    '{{"text": "ola", "language": "pt", "voice_id": "{v}", "x": [{{"y": {s}}}]}}',
]


@pytest.mark.parametrize("escape", [SURROGATE, '"\\udfff"', '"ok \\udc80\\ud800 end"'])
@pytest.mark.parametrize("place", SURROGATE_PLACES)
def test_unencodable_text_anywhere_is_422_and_nothing_queued(stack, api, voice_id, escape, place):
    before = job_keys(stack)
    r = post_raw(api, place.format(s=escape, v=voice_id))
    assert r.status_code == 422, r.text
    assert "unpaired surrogate" in r.json()["detail"]
    assert job_keys(stack) == before
    assert_no_traceback(stack)


def test_raw_surrogate_bytes_and_bad_utf8_are_422(stack, api, voice_id):
    for raw in (
        b'{"text": "\xed\xa0\x80", "language": "pt", "voice_id": "%s"}',
        b'{"text": "\xff\xfe", "language": "pt", "voice_id": "%s"}',
    ):
        r = api.post(
            "/jobs", content=raw % voice_id.encode(), headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422 and "not valid JSON" in r.json()["detail"], r.text
    assert_no_traceback(stack)


def test_deep_nesting_is_422(stack, api):
    r = post_raw(api, "[" * 30000 + "]" * 30000)
    assert r.status_code in (413, 422), r.text  # 60 KB: under or over MAX_JSON_BODY_KB
    r = post_raw(api, "[" * 5000 + "]" * 5000)
    assert r.status_code == 422, r.text
    assert_no_traceback(stack)


def test_plain_json_errors_still_name_the_field(api, voice_id):
    r = post_raw(api, '{"text": 1.5, "language": "pt", "voice_id": "%s"}' % voice_id)
    assert r.status_code == 422 and r.json()["detail"] == "text: Input should be a valid string"
    assert r.json()["errors"] == [
        {
            "loc": ["text"],
            "field": "text",
            "type": "string_type",
            "msg": "Input should be a valid string",
        }
    ]
    r = post_raw(api, '{"text": "ola",')
    assert r.status_code == 422 and r.json()["detail"].startswith("body: not valid JSON: ")


@pytest.mark.parametrize("ident", ["%ED%A0%80", "%ff%fe", "%00", "a%0d%0ab", "\u00e9"])
def test_odd_ids_in_paths_are_404(stack, api, ident):
    for method, path in (
        ("GET", f"/voices/{ident}"),
        ("DELETE", f"/voices/{ident}"),
        ("GET", f"/jobs/{ident}"),
        ("GET", f"/jobs/{ident}/audio"),
    ):
        r = api.request(method, path)
        assert r.status_code == 404 and r.json()["detail"], (method, path, r.text)
    assert_no_traceback(stack)


# --------------------------------------------------------------------------- the clone form
def test_form_fields_sent_as_files_are_422_not_500(stack, api):
    before = voice_dirs(stack)
    for field in ("voice_name", "language", "ref_text"):
        data = {"language": "pt", "voice_name": "x", "ref_text": "a b"}
        data.pop(field)
        r = api.post(
            "/voices/clone",
            data=data,
            files={
                "audio": ("a.wav", wav_bytes(2.0, 8000), "audio/wav"),
                field: ("x.bin", b"\xff\xfe\x00NaN", "application/octet-stream"),
            },
        )
        assert r.status_code == 422, (field, r.text)
        assert field in r.json()["detail"]
    r = api.post("/voices/clone", data={"language": "pt", "voice_name": "x", "audio": "NaN"})
    assert r.status_code == 422 and "audio" in r.json()["detail"], r.text
    assert voice_dirs(stack) == before
    assert_no_traceback(stack)


def multipart(fields: dict[str, bytes]) -> tuple[bytes, dict]:
    """A multipart body with raw bytes in the text fields (httpx would encode them as UTF-8)."""
    parts = [
        b'--b\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (k.encode(), v)
        for k, v in fields.items()
    ]
    parts.append(
        b'--b\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\n" + wav_bytes(2.0, 8000) + b"\r\n--b--\r\n"
    )
    return b"".join(parts), {"Content-Type": "multipart/form-data; boundary=b"}


@pytest.mark.parametrize("field", ["voice_name", "ref_text", "language"])
@pytest.mark.parametrize("raw", [b"\xed\xa0\x80abc", b"ab\xffc"])
def test_undecodable_form_text_never_stores_unencodable_text(stack, api, field, raw):
    """Bytes that are not UTF-8 in a form field: a 4xx, or (the form decoder substitutes U+FFFD)
    a voice whose stored text is valid Unicode; never a 500, never a surrogate on disk."""
    before = voice_dirs(stack)
    body, headers = multipart(
        {"language": b"pt", "voice_name": b"x", "ref_text": b"a b", field: raw}
    )
    r = api.post("/voices/clone", content=body, headers=headers)
    assert r.status_code < 500, r.text
    if r.status_code == 202:
        meta = (stack.data_dir / "voices" / r.json()["voice_id"] / "voice.json").read_bytes()
        meta.decode("utf-8")  # strict: no surrogate escapes
        assert "\\ud8" not in meta.decode() and "\\udc" not in meta.decode()
    else:
        assert 400 <= r.status_code < 500 and voice_dirs(stack) == before
    assert_no_traceback(stack)


# --------------------------------------------------------------------------- text fields
@pytest.mark.parametrize(
    "name,words",
    [
        ("   ", "voice_name: empty"),
        ("\t \n", "voice_name: empty"),
        ("a\x00b", "control character '\\x00'"),
        ("a\x1b[31mred", "control character '\\x1b'"),
        ("two\r\nlines", "control character '\\r'"),
        ("one\nline", "control character '\\n'"),
        ("del\x7f", "control character '\\x7f'"),
        ("c1\x85c1", "control character '\\x85'"),
    ],
)
def test_bad_voice_names_are_422_and_nothing_stored(stack, api, name, words):
    before = voice_dirs(stack)
    r = clone(api, data=wav_bytes(2.0, 8000), name=name)
    assert r.status_code == 422, r.text
    assert words in r.json()["detail"]
    assert voice_dirs(stack) == before


def test_voice_name_and_ref_text_are_stored_stripped(stack, api):
    r = clone(
        api, data=wav_bytes(2.0, 8000), name="  Ana Clara \t", ref_text="  line one\nline two\t "
    )
    assert r.status_code == 202, r.text
    voice_id = r.json()["voice_id"]
    info = api.get(f"/voices/{voice_id}").json()
    assert info["name"] == "Ana Clara" and info["ref_text"] == "line one\nline two"
    stored = json.loads((stack.data_dir / "voices" / voice_id / "voice.json").read_text())
    assert (stored["name"], stored["ref_text"]) == ("Ana Clara", "line one\nline two")
    r = clone(api, data=wav_bytes(2.0, 8000), ref_text="   ")  # blank transcript: none
    assert r.status_code == 202
    assert api.get(f"/voices/{r.json()['voice_id']}").json()["ref_text"] is None


@pytest.mark.parametrize(
    "form,words",
    [
        ({"ref_text": "a\x00b"}, "ref_text: control character '\\x00'"),
        ({"ref_text": "bell\x07"}, "ref_text: control character '\\x07'"),
        ({"language": "pt-\x00"}, "language"),
        ({"language": "pt-BR\n"}, None),  # stripped: accepted
        ({"language": "pt BR"}, "language"),
        ({"language": " "}, "language"),
    ],
)
def test_clone_ref_text_and_language(stack, api, form, words):
    before = voice_dirs(stack)
    r = clone(api, data=wav_bytes(2.0, 8000), **form)
    if words is None:
        assert r.status_code == 202, r.text
        return
    assert r.status_code == 422, r.text
    assert words in r.json()["detail"]
    assert voice_dirs(stack) == before


@pytest.mark.parametrize(
    "text,words",
    [
        ("   ", "empty text"),
        (" \n\t\r ", "empty text"),
        ("ola\x00", "text: control character '\\x00'"),
        ("ola\x1b", "text: control character '\\x1b'"),
        ("\x07ola", "text: control character '\\x07'"),
        ("ola\x9b", "text: control character '\\x9b'"),
    ],
)
def test_bad_job_text_is_422(stack, api, voice_id, text, words):
    before = job_keys(stack)
    r = api.post("/jobs", json={"text": text, "language": "pt", "voice_id": voice_id})
    assert r.status_code == 422, r.text
    assert words in r.json()["detail"]
    assert job_keys(stack) == before


def test_job_text_is_stored_stripped_with_its_line_breaks(stack, api, voice_id):
    r = api.post(
        "/jobs",
        json={"text": "  Ola.\nTudo bem?\tSim.\r\n ", "language": " pt-BR ", "voice_id": voice_id},
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    raw = redis.Redis.from_url(stack.redis_url).hgetall(f"avops:job:{job_id}")
    assert json.loads(raw[b"text"]) == "Ola.\nTudo bem?\tSim."
    assert json.loads(raw[b"language"]) == "pt-BR"
    info = api.get(f"/jobs/{job_id}").json()
    assert info["text_chars"] == len("Ola.\nTudo bem?\tSim.")
    # the accepted job's resolved engine and profile: the defaults (DEFAULT_ENGINE=f5tts)
    assert (info["engine"], info["quality_profile"]) == ("f5tts", "f5tts_balanced")


# --------------------------------------------------------------------------- rate limit
def test_rejected_submissions_do_not_spend_tokens(make_stack):
    """Burst 3, refill 1 per 10 minutes: a clone and 8 (= burst + 5) rejected submissions of every
    kind, then two jobs are still accepted; the next one is limited."""
    s = make_stack(
        start_worker=False, RATE_LIMIT_PER_MINUTE="0.1", RATE_LIMIT_BURST="3", MAX_UPLOAD_MB="0.1"
    )
    with s.client("client") as c:
        wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
        voice = clone(c, data=wav_bytes(2.0, 8000))
        assert voice.status_code == 202, voice.text  # token 1 of 3
        voice_id = voice.json()["voice_id"]
        job = {"text": "ola", "language": "pt", "voice_id": voice_id}
        rejected = [
            post_raw(c, '{"text": NaN, "language": "pt"}'),
            post_raw(c, '{"text": "\\ud800", "language": "pt", "voice_id": "%s"}' % voice_id),
            c.post("/jobs", json={**job, "voice_id": ZERO}),
            c.post("/jobs", json={**job, "language": "klingon"}),
            c.post("/jobs", json={**job, "text": "   "}),
            c.post("/jobs", json={**job, "unknown": 1}),
            clone(c, data=b"not audio at all" * 20),
            clone(c, data=wav_bytes(2.0, 8000), name="   "),
        ]
        assert [r.status_code for r in rejected] == [422, 422, 404, 422, 422, 422, 415, 422], [
            r.text for r in rejected
        ]
        assert c.post("/jobs", json=job).status_code == 202  # token 2
        assert c.post("/jobs", json=job).status_code == 202  # token 3
        r = c.post("/jobs", json=job)
        assert r.status_code == 429, r.text
        assert "retry-after" in r.headers


# --------------------------------------------------------------------------- the rules, in process
# service/validation.py called directly (no server), on a real VoiceStore in tmp_path: every rule,
# its boundaries and its exact message, so a changed rule cannot pass unnoticed.

OWNER = Principal("a" * 16, False)
OTHER = Principal("b" * 16, False)
ADMIN = Principal("c" * 16, True)


def rejected(call, *args, status: int = 422) -> str:
    with pytest.raises(v.RequestRejected) as info:
        call(*args)
    assert info.value.status == status
    return str(info.value)


@pytest.fixture
def rules_settings(tmp_path):
    return load_service_settings(
        data_dir=tmp_path,
        max_text_chars=10,
        default_engine="f5tts",
        supported_languages="en,pt,zh-cn",
        api_keys="",
    )


@pytest.fixture
def store(tmp_path):
    return v.VoiceStore(tmp_path / "voices")


def stored_voice(store, owner=OWNER.owner, ref_text="a transcript", status="ready") -> str:
    meta = store.create("n", "pt", ref_text, b"RIFF....", "wav", "job", {}, owner=owner)
    store.update(meta["voice_id"], status=status, error="bad audio" if status == "failed" else None)
    return meta["voice_id"]


def test_rule_unicode():
    assert v.check_encodable("f", "é ok 😀") == "é ok 😀"
    assert rejected(v.check_encodable, "f", "ab\ud800c") == (
        "f: not valid Unicode text (unpaired surrogate '\\ud800' at character 2)"
    )
    for call, field in ((v.check_voice_name, "voice_name"), (v.check_ref_text, "ref_text")):
        assert rejected(call, "\udc80") == (
            f"{field}: not valid Unicode text (unpaired surrogate '\\udc80' at character 0)"
        )
    settings = load_service_settings(api_keys="")
    assert rejected(v.check_text, "\udc80", settings).startswith("text: not valid Unicode text")
    assert rejected(v.check_language, "pt-\udc80", settings).startswith(
        "language: not valid Unicode text"
    )


def test_rule_controls_of_names_and_speech():
    assert v.CONTROL_RE.findall("".join(map(chr, range(0x00, 0xA1)))) == [
        chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))
    ]
    assert rejected(v.check_voice_name, "a\tb") == (
        "voice_name: control character '\\t' at character 1 is not allowed"
    )
    assert v.check_speech("text", " a\tb\nc\rd ", 10) == "a\tb\nc\rd"
    assert rejected(v.check_speech, "text", "a\x0bb", 10) == (
        "text: control character '\\x0b' at character 1 is not allowed"
    )


def test_rule_names():
    assert v.check_voice_name("  Ana \n") == "Ana"
    assert v.check_voice_name("x" * 100) == "x" * 100
    assert (
        rejected(v.check_voice_name, "x" * 101) == "voice_name: 101 characters; at most 100 allowed"
    )
    assert rejected(v.check_voice_name, " \t ") == "voice_name: empty (only whitespace)"
    assert rejected(v.check_voice_name, None) == "voice_name: empty (only whitespace)"


def test_rule_speech(rules_settings):
    assert v.check_text(" " + "x" * 10 + " ", rules_settings) == "x" * 10
    assert rejected(v.check_text, "x" * 11, rules_settings) == (
        "text: 11 characters; at most 10 allowed (MAX_TEXT_CHARS)"
    )
    assert (
        rejected(v.check_text, " \n\t ", rules_settings)
        == "text: nothing to synthesize (empty text)"
    )
    assert (
        rejected(v.check_text, None, rules_settings) == "text: nothing to synthesize (empty text)"
    )
    for nothing in ("🙂🙂🙂", "?!...", "— ; —"):  # the engines' rule, applied at the API
        assert rejected(v.check_text, nothing, rules_settings).startswith("text: nothing to speak")
    assert v.check_text("🙂 ok!", rules_settings) == "🙂 ok!"
    assert v.check_ref_text(" a\nb ") == "a\nb"
    assert v.check_ref_text("  ") is None and v.check_ref_text(None) is None
    assert v.check_ref_text("x" * 1000) == "x" * 1000
    assert (
        rejected(v.check_ref_text, "x" * 1001) == "ref_text: 1001 characters; at most 1000 allowed"
    )


@pytest.mark.parametrize(
    "tag,expected",
    [
        ("pt", "pt"),
        (" pt-BR ", "pt-BR"),
        ("EN-us", "EN-us"),
        ("zh-cn", "zh-cn"),
        ("zh-CN", "zh-CN"),
        ("pt-abcdefgh", "pt-abcdefgh"),
        ("en-US-x1", "en-US-x1"),
    ],
)
def test_rule_language_accepted(rules_settings, tag, expected):
    assert v.check_language(tag, rules_settings) == expected


@pytest.mark.parametrize(
    "tag",
    [
        "",
        " ",
        "zh",
        "zh-tw",
        "de",
        "pt_BR",
        "pt-",
        "-pt",
        "pt--BR",
        "pt-abcdefghi",
        "pt BR",
        "pt-\x00",
        "pt-é",
        None,
    ],
)
def test_rule_language_rejected(rules_settings, tag):
    assert rejected(v.check_language, tag, rules_settings) == (
        f"language: {tag!r} is not supported; accepted: en, pt, zh-cn (region tags like pt-BR "
        "allowed)"
    )


def test_rule_engine_and_profile(rules_settings):
    assert v.resolve_engine(None, None, rules_settings) == ("f5tts", "f5tts_balanced")
    xtts_default = load_service_settings(default_engine="xtts", api_keys="")
    assert v.resolve_engine(None, None, xtts_default) == ("xtts", "xtts_balanced")
    assert v.resolve_engine(" X-TTS ", None, rules_settings) == ("xtts", "xtts_balanced")
    assert v.resolve_engine("F5_TTS", None, rules_settings) == ("f5tts", "f5tts_balanced")
    assert v.resolve_engine(None, "xtts_fast", rules_settings) == ("xtts", "xtts_fast")
    assert v.resolve_engine("xtts", "xtts_fast", rules_settings) == ("xtts", "xtts_fast")
    assert rejected(v.resolve_engine, "bark", None, rules_settings) == (
        "engine: unknown engine 'bark'; accepted: f5tts, xtts"
    )
    assert rejected(v.resolve_engine, None, "ultra", rules_settings).startswith(
        "quality_profile: unknown profile 'ultra'; accepted: f5tts_fast, f5tts_balanced"
    )
    assert rejected(v.resolve_engine, "f5tts", "xtts_fast", rules_settings) == (
        "quality_profile: 'xtts_fast' is a xtts profile but engine=f5tts; accepted: f5tts_fast, "
        "f5tts_balanced, f5tts_quality"
    )


def job(**fields) -> JobCreate:
    return JobCreate(**{"text": " Ola, mundo ", "language": "pt-BR", **fields})


def test_rule_accepted_job_is_resolved(rules_settings, store):
    voice_id = stored_voice(store)
    resolved = v.resolve_job(job(voice_id=voice_id), rules_settings, store, OWNER)
    assert resolved == v.ResolvedJob("Ola, mundo", "pt-BR", voice_id, "f5tts", "f5tts_balanced")
    resolved = v.resolve_job(
        job(voice_id=voice_id, quality_profile="xtts_quality"), rules_settings, store, OWNER
    )
    assert resolved == v.ResolvedJob("Ola, mundo", "pt-BR", voice_id, "xtts", "xtts_quality")
    resolved = v.resolve_job(job(voice_id=voice_id, engine="xtts"), rules_settings, store, OWNER)
    assert resolved == v.ResolvedJob("Ola, mundo", "pt-BR", voice_id, "xtts", "xtts_balanced")
    # the operator's DEFAULT_VOICE_ID, used by mode=dubbing without a voice_id, by any key
    shared = rules_settings.model_copy(update={"default_voice_id": voice_id})
    resolved = v.resolve_job(job(mode="dubbing"), shared, store, OTHER)
    assert resolved == v.ResolvedJob("Ola, mundo", "pt-BR", voice_id, "f5tts", "f5tts_balanced")
    # the engine resolved is the one whose needs are checked: F5-TTS needs a transcript
    untranscribed = stored_voice(store, ref_text=None)
    assert rejected(
        v.resolve_job, job(voice_id=untranscribed), rules_settings, store, OWNER
    ).startswith(f"voice_id: voice {untranscribed} has no ref_text")


def test_rule_voice_ownership(rules_settings, store):
    mine, legacy = stored_voice(store), stored_voice(store, owner=None)
    assert v.check_voice(job(voice_id=mine), "f5tts", rules_settings, store, ADMIN) == mine
    assert v.check_voice(job(voice_id=legacy), "f5tts", rules_settings, store, ADMIN) == legacy
    for principal, voice_id in ((OTHER, mine), (OWNER, legacy), (OTHER, legacy)):
        assert (
            rejected(
                v.check_voice,
                job(voice_id=voice_id),
                "f5tts",
                rules_settings,
                store,
                principal,
                status=404,
            )
            == f"voice_id: no voice {voice_id!r}"
        )
    shared = rules_settings.model_copy(update={"default_voice_id": legacy})
    assert v.check_voice(job(mode="dubbing"), "f5tts", shared, store, OTHER) == legacy
    assert v.check_voice(job(voice_id=legacy), "f5tts", shared, store, OTHER) == legacy


def test_rule_voice_required_failed_and_transcript(rules_settings, store):
    assert rejected(v.check_voice, job(), "f5tts", rules_settings, store, OWNER) == (
        "voice_id: required for mode=dubbing_with_clone; clone one with POST /voices/clone"
    )
    assert rejected(v.check_voice, job(mode="dubbing"), "f5tts", rules_settings, store, OWNER) == (
        "voice_id: required for mode=dubbing (or set DEFAULT_VOICE_ID)"
    )
    default = rules_settings.model_copy(update={"default_voice_id": stored_voice(store)})
    assert rejected(v.check_voice, job(), "f5tts", default, store, OWNER) == (  # only for dubbing
        "voice_id: required for mode=dubbing_with_clone; clone one with POST /voices/clone"
    )
    failed = stored_voice(store, status="failed")
    assert (
        rejected(
            v.check_voice, job(voice_id=failed), "xtts", rules_settings, store, OWNER, status=409
        )
        == f"voice_id: voice {failed} failed validation: bad audio"
    )
    for ref_text in ("  ", None):
        no_transcript = stored_voice(store, ref_text=ref_text)
        assert rejected(
            v.check_voice, job(voice_id=no_transcript), "f5tts", rules_settings, store, OWNER
        ) == (
            f"voice_id: voice {no_transcript} has no ref_text; F5-TTS needs the transcript of "
            "the reference audio (clone it with ref_text) or use engine=xtts"
        )
    assert (
        v.check_voice(job(voice_id=no_transcript), "xtts", rules_settings, store, OWNER)
        == no_transcript
    )
    pending = stored_voice(store, status=VoiceStatus.pending.value)
    assert v.check_voice(job(voice_id=pending), "f5tts", rules_settings, store, OWNER) == pending
