"""API contract on a real uvicorn + redis-server, no worker: bad input, 404/409, OpenAPI, imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.service.helpers import REF_TEXT, clone, wav_bytes
from tests.service.procs import REPO_ROOT, wait_for

HEAVY = (
    "torch",
    "engines.vram",
    "engines.f5tts",
    "engines.xtts",
    "engines.audio",
    "f5_tts",
    "TTS",
    "service.worker",
)


@pytest.fixture(scope="module")
def api(make_stack):
    stack = make_stack(
        start_worker=False, MAX_UPLOAD_MB="0.1", MAX_REFERENCE_SECONDS="3", MAX_TEXT_CHARS="100"
    )
    c = stack.client()
    wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
    yield c
    c.close()


def test_api_imports_no_torch_or_engine_models():
    code = (
        "import sys, json, service.api; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_health_without_worker_is_degraded_not_down(api):
    body = api.get("/health").json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["ok"] and body["checks"]["storage"]["ok"]
    assert not body["checks"]["worker"]["ok"]
    assert api.get("/admin/vram").json() == {
        "vram": None,
        "timestamp": None,
        "age_seconds": None,
        "worker": None,
        "event": None,
    }


@pytest.mark.parametrize(
    "data,status,words",
    [
        (b"definitely not audio" * 10, 415, "not a decodable audio"),
        (b"", 422, "empty"),
        (wav_bytes(0.3, 8000), 422, "too short"),
        (wav_bytes(3.5, 8000), 422, "too long"),
        (wav_bytes(2.5, 44100), 413, "MAX_UPLOAD_MB"),
    ],
)
def test_clone_rejects_bad_audio(api, data, status, words):
    r = clone(api, data=data)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_clone_rejects_language_and_missing_fields(api):
    r = clone(api, data=wav_bytes(2.0, 8000), language="xx-YY")
    assert r.status_code == 422 and "language" in r.json()["detail"]
    r = api.post(
        "/voices/clone",
        data={"language": "pt"},
        files={"audio": ("a.wav", wav_bytes(2.0, 8000), "audio/wav")},
    )
    assert r.status_code == 422 and "voice_name" in r.json()["detail"]


@pytest.fixture(scope="module")
def pending_voice(api):
    r = clone(api, data=wav_bytes(2.0, 8000))
    assert r.status_code == 202, r.text
    assert api.get(f"/voices/{r.json()['voice_id']}").json()["status"] == "pending"
    return r.json()["voice_id"]


@pytest.mark.parametrize(
    "body,status,words",
    [
        ({"text": ""}, 422, "empty text"),
        ({"text": "x" * 101}, 422, "MAX_TEXT_CHARS"),
        ({"language": "klingon"}, 422, "language"),
        ({"quality_profile": "ultra"}, 422, "quality_profile"),
        ({"quality_profile": "xtts_fast", "engine": "f5tts"}, 422, "xtts profile"),
        ({"engine": "bark"}, 422, "unknown engine"),
        ({"voice_id": None}, 422, "voice_id: required"),
        ({"voice_id": "00000000-0000-0000-0000-000000000000"}, 404, "no voice"),
        ({"voice_id": "../../etc/passwd"}, 404, "no voice"),
        ({"mode": "clone"}, 422, "mode"),
    ],
)
def test_job_rejects_bad_requests(api, pending_voice, body, status, words):
    req = {
        "mode": "dubbing_with_clone",
        "text": "ola",
        "language": "pt-BR",
        "voice_id": pending_voice,
        **body,
    }
    r = api.post("/jobs", json=req)
    assert r.status_code == status, r.text
    assert words in r.json()["detail"], r.json()


def test_f5_needs_a_transcript(api):
    voice_id = clone(api, data=wav_bytes(2.0, 8000), ref_text=None).json()["voice_id"]
    r = api.post("/jobs", json={"text": "ola", "language": "pt", "voice_id": voice_id})
    assert r.status_code == 422 and "ref_text" in r.json()["detail"]
    r = api.post(
        "/jobs", json={"text": "ola", "language": "pt", "voice_id": voice_id, "engine": "xtts"}
    )
    assert r.status_code == 202


def test_queued_job_has_no_audio_yet(api, pending_voice):
    r = api.post(
        "/jobs",
        json={
            "text": "ola",
            "language": "pt-BR",
            "voice_id": pending_voice,
            "quality_profile": "f5tts_fast",
        },
    )
    assert r.status_code == 202
    job_id = r.json()["job_id"]
    info = api.get(f"/jobs/{job_id}").json()
    assert info["status"] == "queued" and info["engine"] == "f5tts" and info["text_chars"] == 3
    assert "text" not in info
    r = api.get(f"/jobs/{job_id}/audio")
    assert r.status_code == 409 and "queued" in r.json()["detail"]
    assert api.get("/jobs/not-a-job").status_code == 404
    assert api.get("/jobs/00000000-0000-0000-0000-000000000000/audio").status_code == 404
    assert api.delete("/voices/00000000-0000-0000-0000-000000000000").status_code == 404


def test_openapi_is_complete(api):
    spec = api.get("/openapi.json").json()
    paths = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    assert paths >= {
        ("/health", "get"),
        ("/voices/clone", "post"),
        ("/voices", "get"),
        ("/voices/{voice_id}", "get"),
        ("/voices/{voice_id}", "delete"),
        ("/jobs", "post"),
        ("/jobs/{job_id}", "get"),
        ("/jobs/{job_id}/audio", "get"),
        ("/admin/vram", "get"),
    }
    schemas = spec["components"]["schemas"]
    for name in (
        "JobCreate",
        "JobInfo",
        "JobAccepted",
        "VoiceInfo",
        "VoiceCloneAccepted",
        "VramResponse",
        "HealthResponse",
        "ErrorResponse",
    ):
        assert name in schemas
    assert spec["paths"]["/jobs"]["post"]["responses"]["202"]["content"]["application/json"]
    assert REF_TEXT  # helpers' transcript is what the E2E clones with
