"""Ownership on a real uvicorn + redis-server: two client keys and one admin key.

A client key lists, reads, deletes, downloads and synthesizes with only its own voices and jobs;
another key's ids answer 404 exactly like unknown ids (never 403). Admin keys see everything,
voices with no owner (cloned before owners were recorded) included, and ``avops doctor``'s
``voices.owner`` check lists those with the fix.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil

import pytest

from tests.service.helpers import clone, wav_bytes
from tests.service.procs import wait_for

ZERO = "00000000-0000-0000-0000-000000000000"
KEY_A, KEY_B = secrets.token_urlsafe(32), secrets.token_urlsafe(32)


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def stack(make_stack):
    s = make_stack(start_worker=False, API_KEYS=f"{KEY_A},{KEY_B}", MAX_UPLOAD_MB="0.1")
    with s.client() as c:
        wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
    return s


@pytest.fixture(scope="module")
def a(stack):
    with stack.client(KEY_A) as c:
        yield c


@pytest.fixture(scope="module")
def b(stack):
    with stack.client(KEY_B) as c:
        yield c


@pytest.fixture(scope="module")
def admin(stack):
    with stack.client("admin") as c:
        yield c


def cloned(c) -> dict:
    r = clone(c, data=wav_bytes(2.0, 8000))
    assert r.status_code == 202, r.text
    return r.json()


def not_found_like_unknown(r, kind: str, ident: str) -> None:
    """The answer for another key's id is the answer for an id that does not exist."""
    assert r.status_code == 404, r.text
    detail = r.json()["detail"]
    assert detail.replace(ident, ZERO) in (
        f"voice_id: no voice {ZERO!r}",
        f"job_id: no job {ZERO!r} (unknown or expired)",
    ), detail


def test_voices_are_seen_only_by_their_owner_and_admins(stack, a, b, admin):
    va, vb = cloned(a)["voice_id"], cloned(b)["voice_id"]
    assert [v["voice_id"] for v in a.get("/voices").json()["voices"]] == [va]
    assert [v["voice_id"] for v in b.get("/voices").json()["voices"]] == [vb]
    seen = {v["voice_id"]: v["owner"] for v in admin.get("/voices").json()["voices"]}
    assert seen == {va: key_id(KEY_A), vb: key_id(KEY_B)}
    meta = json.loads((stack.data_dir / "voices" / va / "voice.json").read_text())
    assert meta["owner"] == key_id(KEY_A)

    assert a.get(f"/voices/{va}").json()["owner"] == key_id(KEY_A)
    not_found_like_unknown(b.get(f"/voices/{va}"), "voice", va)
    not_found_like_unknown(b.delete(f"/voices/{va}"), "voice", va)
    assert (stack.data_dir / "voices" / va / "voice.json").is_file()  # still there
    assert admin.get(f"/voices/{va}").status_code == 200


def test_a_key_synthesizes_only_with_its_own_voices(stack, a, b, admin):
    va = cloned(a)["voice_id"]
    job = {"text": "ola", "language": "pt", "voice_id": va}
    not_found_like_unknown(b.post("/jobs", json=job), "voice", va)
    r = a.post("/jobs", json=job)
    assert r.status_code == 202, r.text
    assert admin.post("/jobs", json=job).status_code == 202


def test_jobs_are_seen_only_by_their_owner_and_admins(stack, a, b, admin):
    accepted = cloned(a)
    va, clone_job = accepted["voice_id"], accepted["job_id"]
    job_id = a.post("/jobs", json={"text": "ola", "language": "pt", "voice_id": va}).json()[
        "job_id"
    ]
    for ident in (job_id, clone_job):  # the clone's own job is the key's too
        assert a.get(f"/jobs/{ident}").status_code == 200
        assert admin.get(f"/jobs/{ident}").status_code == 200
        not_found_like_unknown(b.get(f"/jobs/{ident}"), "job", ident)
        r = b.get(f"/jobs/{ident}/audio")
        not_found_like_unknown(r, "job", ident)
    assert a.get(f"/jobs/{job_id}/audio").status_code == 409  # its own: queued, no audio yet


def test_owner_deletes_its_voice(stack, a, b):
    va = cloned(a)["voice_id"]
    assert a.delete(f"/voices/{va}").status_code == 204
    assert not (stack.data_dir / "voices" / va).exists()
    assert a.get(f"/voices/{va}").status_code == 404


def make_unowned(stack, a) -> str:
    """A voice as stored before owners were recorded: voice.json without ``owner``."""
    src = cloned(a)["voice_id"]
    legacy = "11111111-2222-4333-8444-555555555555"
    shutil.copytree(stack.data_dir / "voices" / src, stack.data_dir / "voices" / legacy)
    meta_path = stack.data_dir / "voices" / legacy / "voice.json"
    meta = json.loads(meta_path.read_text())
    meta.pop("owner")
    meta.update(voice_id=legacy, name="legacy")
    meta_path.write_text(json.dumps(meta))
    return legacy


def test_unowned_voices_are_admin_only_and_reported_by_doctor(stack, a, b, admin):
    from audiovoice_ops.core.apiclient import ApiClient
    from audiovoice_ops.core.doctor.ownership import check_unowned_voices
    from audiovoice_ops.core.doctor.sources import VOICES_PATH, Sources

    legacy = make_unowned(stack, a)
    for c in (a, b):
        assert legacy not in [v["voice_id"] for v in c.get("/voices").json()["voices"]]
        not_found_like_unknown(c.get(f"/voices/{legacy}"), "voice", legacy)
        not_found_like_unknown(
            c.post("/jobs", json={"text": "ola", "language": "pt", "voice_id": legacy}),
            "voice",
            legacy,
        )
        not_found_like_unknown(c.delete(f"/voices/{legacy}"), "voice", legacy)
    listed = {v["voice_id"]: v for v in admin.get("/voices").json()["voices"]}
    assert listed[legacy]["owner"] is None
    assert (
        admin.post("/jobs", json={"text": "ola", "language": "pt", "voice_id": legacy}).status_code
        == 202
    )

    with ApiClient(stack.base_url, stack.admin_key) as api:
        src = Sources(
            project=real_project(),
            api_expected=True,
            vram=api.vram(),
            voices=api.get(VOICES_PATH),
        )
    check = check_unowned_voices(src)
    assert check.id == "voices.owner" and check.status == "warn", check
    assert legacy in check.reason and "1 voice" in check.reason
    assert "DELETE /voices/" in check.fix and "owner" in check.fix

    assert admin.delete(f"/voices/{legacy}").status_code == 204
    assert not (stack.data_dir / "voices" / legacy).exists()
    with ApiClient(stack.base_url, stack.admin_key) as api:
        src = Sources(
            project=real_project(),
            api_expected=True,
            vram=api.vram(),
            voices=api.get(VOICES_PATH),
        )
    assert check_unowned_voices(src).status == "pass"


def real_project():
    from tests.service.test_contracts import real_project as project

    return project()


def test_doctor_check_needs_the_admin_key(stack):
    from audiovoice_ops.core.apiclient import ApiClient
    from audiovoice_ops.core.doctor.ownership import check_unowned_voices
    from audiovoice_ops.core.doctor.sources import VOICES_PATH, Sources

    with ApiClient(stack.base_url, KEY_A) as api:  # a client key sees only its own voices
        src = Sources(
            project=real_project(),
            api_expected=True,
            vram=api.vram(),
            voices=api.get(VOICES_PATH),
        )
    check = check_unowned_voices(src)
    assert check.status == "skipped" and "admin key" in check.reason, check
