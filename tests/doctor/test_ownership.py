"""``avops doctor`` lists voices that no API key owns (cloned before owners were recorded).

The API side (owners recorded, admin keys see ``owner``) is tested on the real API in
tests/service/test_ownership.py; here the CLI end to end, with the stand-in API answering
``GET /voices`` as the real one does for an admin key.
"""

from __future__ import annotations

from tests.doctor.conftest import ADMIN_KEY
from tests.doctor.test_doctor import doctor
from tests.gpu.apiserver import FakeApi, vram_stats

OWNED = {
    "voice_id": "82f8f815-ac80-4415-8091-7ebf833912ca",
    "name": "ana",
    "owner": "0123456789abcdef",
}
LEGACY = {"voice_id": "11111111-2222-4333-8444-555555555555", "name": "old one", "owner": None}


def test_unowned_voices_are_listed_with_the_fix(project):
    with FakeApi(vram_stats(), api_key=ADMIN_KEY, voices=[OWNED, LEGACY]) as api:
        code, report, checks = doctor(project, api_url=api.url)
    check = checks["voices.owner"]
    assert check["status"] == "warn" and check["group"] == "security"
    assert "1 voice(s) without an owner" in check["reason"]
    assert LEGACY["voice_id"] in check["reason"] and OWNED["voice_id"] not in check["reason"]
    assert "DELETE /voices/<voice_id>" in check["fix"] and '"owner"' in check["fix"]
    assert (
        "/voices" in api.requests
        and api.authorization[api.requests.index("/voices")] == f"Bearer {ADMIN_KEY}"
    )


def test_all_owned_passes_and_a_client_key_is_skipped(project):
    with FakeApi(vram_stats(), api_key=ADMIN_KEY, voices=[OWNED]) as api:
        _, _, checks = doctor(project, api_url=api.url)
        assert checks["voices.owner"]["status"] == "pass"
        _, _, checks = doctor(project, api_url=api.url, api_key="a-client-key-not-admin-0123")
    assert checks["voices.owner"]["status"] == "skipped"
    assert "admin key" in checks["voices.owner"]["reason"]
