"""MAX_QUEUED_JOBS on real processes: with no worker draining the queue, the submissions past
the limit get 503 + Retry-After, store nothing and cost no rate-limit token; once a worker has
drained the queue, submissions are accepted again."""

from __future__ import annotations

import pytest
import redis

from service.backpressure import RETRY_AFTER_S, broker_keys
from tests.service.helpers import clone, wait_job
from tests.service.procs import wait_for

pytestmark = pytest.mark.slow

LIMIT = 2
BURST = 3  # tokens: LIMIT accepted clones + 1; the refill is too slow to matter in the test


@pytest.fixture(scope="module")
def idle(make_stack):
    """An API whose queue nobody drains until the test starts the worker."""
    stack = make_stack(
        start_worker=False,
        LOW_VRAM="true",
        MAX_QUEUED_JOBS=str(LIMIT),
        RATE_LIMIT_PER_MINUTE="0.01",
        RATE_LIMIT_BURST=str(BURST),
    )
    with stack.client() as c:
        wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
    return stack


def _depth(stack) -> int:
    with stack.client() as c:
        detail = c.get("/health").json()["checks"]["queue"]["detail"]
    return int(detail.split(": ")[1].split()[0])  # "audio-voice: N waiting (limit 2): ..."


def _refused(r, openai: bool = False) -> str:
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == str(RETRY_AFTER_S)
    message = r.json()["error"]["message"] if openai else r.json()["detail"]
    assert "MAX_QUEUED_JOBS" in message
    if openai:
        assert r.json()["error"]["type"] == "server_error"
    return message


def test_full_queue_refuses_then_accepts_after_draining(idle):
    broker = redis.Redis.from_url(idle.redis_url)
    with idle.client() as c:
        accepted = [clone(c, name=f"v{i}") for i in range(LIMIT)]
        assert [r.status_code for r in accepted] == [202] * LIMIT, [r.text for r in accepted]
        assert sum(broker.llen(k) for k in broker_keys("audio-voice")) == LIMIT

        _refused(clone(c, name="refused"))
        _refused(
            c.post(
                "/jobs",
                json={"text": "ola", "language": "pt", "voice_id": accepted[0].json()["voice_id"]},
            )
        )
        _refused(
            c.post(
                "/v1/audio/speech",
                json={"model": "tts-1", "input": "ola", "voice": accepted[0].json()["voice_id"]},
            ),
            openai=True,
        )
        for _ in range(3):
            _refused(clone(c, name="refused"))

        # Nothing of the refused requests was kept: no voice, no job record, no message.
        assert sorted(v["name"] for v in c.get("/voices").json()["voices"]) == ["v0", "v1"]
        voices_dir = idle.data_dir / "voices"
        assert len([p for p in voices_dir.iterdir() if not p.name.startswith(".")]) == LIMIT
        assert not any((voices_dir / ".incoming").iterdir())  # no upload left half-stored
        assert len(broker.keys("avops:job:*")) == LIMIT
        assert _depth(idle) == LIMIT
        health = c.get("/health").json()
        assert health["status"] == "degraded"  # no worker; a full queue is not unhealthy
        assert health["checks"]["queue"]["ok"] is False
        metrics = c.get("/metrics").text
        assert 'avops_queue_depth{queue="audio-voice"} 2.0' in metrics
        assert 'avops_queue_full_rejections_total{queue="audio-voice"} 6.0' in metrics
    with idle.client("client") as c:
        assert "checks" not in c.get("/health").json()  # depth: admin details only

    idle.start_worker()
    idle.wait_ready()
    with idle.client() as c:
        for r in accepted:
            assert wait_job(c, r.json()["job_id"])["status"] == "completed"
        wait_for(lambda: _depth(idle) == 0, 30, "the queue to drain")
        assert c.get("/health").json()["checks"]["queue"]["ok"] is True
        # The six refused requests took no token: exactly one is left of the burst.
        assert clone(c, name="v2").status_code == 202
        limited = clone(c, name="v3")
        assert limited.status_code == 429, limited.text
        assert "avops_rate_limit_rejections_total 1.0" in c.get("/metrics").text


def test_no_limit_means_no_check(make_stack):
    stack = make_stack(start_worker=False, MAX_QUEUED_JOBS="0")
    with stack.client() as c:
        wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
        assert [clone(c, name=f"v{i}").status_code for i in range(3)] == [202] * 3
        assert "no limit" in c.get("/health").json()["checks"]["queue"]["detail"]
