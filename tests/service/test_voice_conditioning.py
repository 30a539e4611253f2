"""XTTS conditioning is computed on a voice's first job and read from the worker's own cache
(keyed by the reference's digest, outside the data volume) afterwards."""

from __future__ import annotations

import pytest

from tests.service.helpers import ready_voice, wait_job

pytestmark = pytest.mark.slow


def test_xtts_conditioning_is_cached_per_voice(make_stack):
    stack = make_stack(LOW_VRAM="true")
    with stack.client() as c:
        voice_id = ready_voice(c, ref_text=None, name="cached-conditioning")
        for text in ("primeira frase", "segunda frase"):
            r = c.post(
                "/jobs",
                json={
                    "mode": "dubbing_with_clone",
                    "text": text,
                    "language": "pt-BR",
                    "voice_id": voice_id,
                    "engine": "xtts",
                },
            )
            assert r.status_code == 202, r.text
            assert wait_job(c, r.json()["job_id"])["status"] == "completed"
    assert stack.worker_log().count("voice conditioning for xtts read from cache") == 1
    cached = list((stack.data_dir.parent / "worker-cache").glob("*-conditioning-xtts.pt"))
    assert len(cached) == 1, cached
    assert not list(stack.data_dir.rglob("*.pt")), "the worker wrote to the API's data volume"
