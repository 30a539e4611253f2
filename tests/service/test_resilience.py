"""Redis restarts under a running stack: the worker reconnects and serves the next job."""

from __future__ import annotations

import pytest

from tests.service.helpers import ready_voice, wait_job
from tests.service.procs import RedisServer, ServiceStack, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def own_redis(redis_server, tmp_path):
    """A redis-server of this test alone (the session one is shared and must not restart).
    Depends on ``redis_server`` for its skip-or-fail when redis-server is not installed."""
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


def test_worker_reconnects_after_redis_restart(own_redis, tiny_models, tmp_path):
    (tmp_path / "logs").mkdir()
    stack = ServiceStack(
        redis_url=own_redis.url(0),
        data_dir=tmp_path / "data",
        log_dir=tmp_path / "logs",
        env_extra={**tiny_models, "LOW_VRAM": "true"},
    )
    try:
        stack.start_api()
        stack.start_worker()
        stack.wait_ready()
        with stack.client() as c:
            ready_voice(c)
            own_redis.stop()  # everything in it is gone: Redis runs without persistence here
            restarted = RedisServer(tmp_path / "redis")
            restarted.port = own_redis.port
            restarted.start()
            own_redis.proc = restarted.proc  # the fixture stops the new process
            # The worker's heartbeat reaches the new server once it has reconnected.
            wait_for(
                lambda: c.get("/health").json()["checks"]["worker"]["ok"],
                90,
                "worker heartbeat after the Redis restart",
                interval=0.5,
            )
            voice_id = ready_voice(c)  # a job through the new broker
            r = c.post(
                "/jobs",
                json={
                    "mode": "dubbing_with_clone",
                    "text": "depois do reinicio",
                    "language": "pt-BR",
                    "voice_id": voice_id,
                    "quality_profile": "f5tts_fast",
                },
            )
            assert r.status_code == 202, r.text
            assert wait_job(c, r.json()["job_id"], timeout=120)["status"] == "completed"
        assert stack.worker.poll() is None, "the worker died instead of reconnecting"
    finally:
        stack.stop()


def test_whole_worker_killed_mid_job_is_redelivered(make_stack):
    """SIGKILL of the parent and its child (a host crash, `docker kill`): the unacknowledged
    job comes back after the visibility timeout to the next worker, never stuck in processing."""
    import os
    import signal
    import time

    from tests.service.procs import children

    stack = make_stack(LOW_VRAM="true", JOB_VISIBILITY_TIMEOUT_S="4")
    with stack.client() as c:
        voice_id = ready_voice(c)
        r = c.post(
            "/jobs",
            json={
                "text": " ".join(["uma frase longa para sintetizar"] * 3),
                "language": "pt-BR",
                "voice_id": voice_id,
                "quality_profile": "f5tts_quality",
            },
        )
        job_id = r.json()["job_id"]
        info = wait_job(c, job_id, until=("processing", "completed", "failed"), timeout=60)
        assert info["status"] == "processing", "job finished before it could be killed"
        for pid in [*children(stack.worker.pid), stack.worker.pid]:
            os.kill(pid, signal.SIGKILL)
        stack.worker.wait(timeout=10)
        # The replacement, as `restart: unless-stopped` would start it. It restores unacked jobs
        # older than the visibility timeout when it starts (kombu), so start it after 4 s.
        time.sleep(5)
        stack.start_worker()
        info = wait_job(c, job_id, timeout=180)
        assert info["status"] in ("completed", "failed"), info
        assert info["attempts"] >= 2 or info["status"] == "failed", info
