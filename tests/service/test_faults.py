"""Faults under a real stack: a full data volume, Redis down during a clone, a worker that never
comes back, hostile uploads, trailing-slash URLs.

The full-disk tests put DATA_DIR on a 2 MB tmpfs mounted here (root only; skipped with the reason
otherwise, CI runs as root) and fill it to the byte with a filler file: every ENOSPC is real.
They assert what is left on the volume and the final states, not only status codes.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from service.storage import NO_SPACE_MESSAGE
from tests.service.helpers import clone, ready_voice, wait_job, wav_bytes
from tests.service.procs import RedisServer, ServiceStack, children, wait_for

pytestmark = pytest.mark.slow

TMPFS_BYTES = 2 * 2**20
PAGE = 4096
FILLER = ".filler"  # hidden: never a voice id, never an output name


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def own_redis(redis_server, tmp_path_factory):
    """A redis-server for this module alone (one test stops it). Depends on ``redis_server``
    for its skip-or-fail when redis-server is not installed."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def small_volume(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mountpoint = tmp_path_factory.mktemp("tmpfs") / "data"
    mountpoint.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(mountpoint)], check=True
    )
    yield mountpoint
    subprocess.run(["umount", "--lazy", str(mountpoint)], check=False)


def _stack(
    redis: RedisServer, db: int, tiny_models, base: Path, data_dir: Path | None = None, **env: str
) -> ServiceStack:
    (base / "logs").mkdir(parents=True, exist_ok=True)
    return ServiceStack(
        redis_url=redis.url(db),
        data_dir=data_dir or base / "data",
        log_dir=base / "logs",
        env_extra={**tiny_models, **env},
    )


@pytest.fixture(scope="module")
def disk_stack(own_redis, tiny_models, small_volume, tmp_path_factory):
    stack = _stack(
        own_redis, 1, tiny_models, tmp_path_factory.mktemp("disk"), small_volume, LOW_VRAM="true"
    )
    stack.start_api()
    stack.start_worker()
    stack.wait_ready()
    yield stack
    stack.stop()


def leave_free(data_dir: Path, free_bytes: int) -> None:
    """Grow or shrink the filler until exactly ``free_bytes`` (whole pages) are left."""
    filler = data_dir / FILLER
    filler.unlink(missing_ok=True)
    st = os.statvfs(data_dir)
    size = st.f_bavail * st.f_frsize - free_bytes
    assert size >= 0, "the volume already holds more than the test expects"
    with open(filler, "wb") as out:
        try:
            out.write(b"\0" * size)
            out.flush()
        except OSError as exc:  # the volume was fuller than statvfs said: full is full
            assert exc.errno == errno.ENOSPC and free_bytes == 0, exc


def free_all(data_dir: Path) -> None:
    (data_dir / FILLER).unlink(missing_ok=True)


def files_under(root: Path) -> list[str]:
    """Every file (not directory) below ``root``, relative, filler excluded."""
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != FILLER
    )


def pages(n: int) -> int:
    return -(-n // PAGE) * PAGE


def one_line(body: dict) -> str:
    detail = body["detail"]
    assert isinstance(detail, str) and "\n" not in detail and detail, body
    return detail


# --------------------------------------------------------------------------- full disk: API
def test_full_volume_upload_is_507_and_leaves_nothing(disk_stack):
    data = disk_stack.data_dir
    before = files_under(data)
    leave_free(data, 0)
    with disk_stack.client() as c:
        for _ in range(2):  # the second clone too: nothing the first left blocks it
            r = clone(c)
            assert r.status_code == 507, r.text
            assert one_line(r.json()) == NO_SPACE_MESSAGE
        for _ in range(3):
            r = c.get("/health")
            assert r.status_code == 503 and not r.json()["checks"]["storage"]["ok"], r.text
        assert files_under(data) == before, "a failed upload or health probe left files"
        free_all(data)  # space again: the service recovers by itself
        voice_id = ready_voice(c)
        assert c.delete(f"/voices/{voice_id}").status_code == 204


def test_upload_that_fits_but_its_metadata_does_not_is_rolled_back(disk_stack):
    data = disk_stack.data_dir
    audio = wav_bytes(2.0)
    leave_free(data, pages(len(audio)))  # the streamed upload fits; voice.json does not
    with disk_stack.client() as c:
        r = clone(c, data=audio)
        assert r.status_code == 507, r.text
        assert one_line(r.json()) == NO_SPACE_MESSAGE
        assert files_under(data) == [], "upload.wav / voice.json temp left behind"
        assert c.get("/voices").json()["voices"] == []


# --------------------------------------------------------------------------- full disk: worker
def test_clone_accepted_with_little_space_ends_failed_without_partial_reference(disk_stack):
    data = disk_stack.data_dir
    audio = wav_bytes(2.0)
    # upload + voice.json (and its atomic rewrite) fit; the 24 kHz reference.wav does not
    leave_free(data, pages(len(audio)) + 3 * PAGE)
    with disk_stack.client() as c:
        r = clone(c, data=audio)
        assert r.status_code == 202, r.text
        voice_id, job_id = r.json()["voice_id"], r.json()["job_id"]
        job = wait_job(c, job_id, timeout=120)
        voice = c.get(f"/voices/{voice_id}").json()
        free_all(data)
        assert job["status"] == "failed" and job["error"] == NO_SPACE_MESSAGE, job
        assert voice["status"] == "failed" and voice["error"] == NO_SPACE_MESSAGE, voice
        assert files_under(data) == [
            f"voices/{voice_id}/upload.wav",
            f"voices/{voice_id}/voice.json",
        ]
        assert c.delete(f"/voices/{voice_id}").status_code == 204


@pytest.mark.parametrize("profile", ["f5tts_fast", "xtts_fast"])
def test_synthesis_on_full_volume_fails_and_leaves_no_output(disk_stack, profile):
    data = disk_stack.data_dir
    free_all(data)
    with disk_stack.client() as c:
        voice_id = ready_voice(c)
        before = files_under(data)
        leave_free(data, 0)
        r = c.post(
            "/jobs",
            json={
                "mode": "dubbing_with_clone",
                "text": "sem espaco no disco",
                "language": "pt-BR",
                "voice_id": voice_id,
                "quality_profile": profile,
            },
        )
        assert r.status_code == 202, r.text
        job = wait_job(c, r.json()["job_id"], timeout=180)
        free_all(data)
        assert job["status"] == "failed" and job["error"] == NO_SPACE_MESSAGE, job
        # no output, no outputs/.<job>.wav.tmp, no half-written conditioning cache
        assert files_under(data) == before
        assert c.get(f"/jobs/{job['job_id']}/audio").status_code == 409
        assert c.delete(f"/voices/{voice_id}").status_code == 204


# --------------------------------------------------------------------------- Redis down
def test_clone_while_redis_is_down_stores_no_voice(redis_server, tiny_models, tmp_path):
    """Rate limit off, so nothing touches Redis before the voice is stored."""
    redis = RedisServer(tmp_path / "redis")
    (tmp_path / "redis").mkdir()
    redis.start()
    stack = _stack(redis, 0, tiny_models, tmp_path, RATE_LIMIT_PER_MINUTE="0")
    try:
        stack.start_api()
        with stack.client() as c:
            wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
            redis.stop()
            r = clone(c)
            assert r.status_code == 503, r.text
            one_line(r.json())
            voices_dir = stack.data_dir / "voices"
            assert [p.name for p in voices_dir.iterdir() if p.name != ".incoming"] == [], (
                "a voice was stored although its validation job could not be queued"
            )
            assert files_under(voices_dir) == []
    finally:
        stack.stop()
        redis.stop()


@pytest.fixture
def queue_refused(redis_server, tiny_models, tmp_path):
    """The race: Redis takes the job record, then refuses the task. A real redis-server whose
    ACL lets the API write ``avops:*`` keys only, so sending to the Celery queue fails after the
    job was recorded. Yields (stack with its API started, an admin Redis client)."""
    import redis as redis_lib

    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis").start()
    admin = redis_lib.Redis(port=server.port, decode_responses=True)
    admin.acl_setuser(
        "api",
        enabled=True,
        passwords=["+api-secret-pw"],
        keys=["avops:*"],
        commands=["+@all"],
        channels=["*"],
    )
    stack = _stack(server, 0, tiny_models, tmp_path, RATE_LIMIT_PER_MINUTE="0")
    stack.redis_url = f"redis://api:api-secret-pw@127.0.0.1:{server.port}/0"
    try:
        stack.start_api()
        with stack.client() as c:
            wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
        yield stack, admin
    finally:
        stack.stop()
        server.stop()


def assert_queue_refused(response, admin) -> None:
    assert response.status_code == 503, response.text
    assert one_line(response.json()).startswith("job queue (Redis) unavailable"), response.text
    assert "api-secret-pw" not in response.text
    assert [k for k in admin.keys("avops:job:*")] == [], "a job record without its task"


def test_clone_whose_task_cannot_be_sent_keeps_neither_voice_nor_job(queue_refused):
    stack, admin = queue_refused
    with stack.client() as c:
        r = clone(c)
    assert_queue_refused(r, admin)
    voices_dir = stack.data_dir / "voices"
    assert [p.name for p in voices_dir.iterdir() if p.name != ".incoming"] == []
    assert files_under(voices_dir) == []


def test_job_whose_task_cannot_be_sent_leaves_no_queued_job(queue_refused):
    """The same race for POST /jobs: the record must not stay ``queued`` for a task that was
    never sent, and the answer is a one-line 503, not a 500."""
    from service.voices import VoiceStore

    stack, admin = queue_refused
    # A ready voice on the volume (admin keys may use unowned voices): no worker is needed.
    voices = VoiceStore(stack.data_dir / "voices")
    meta = voices.create("v", "en", "hello", wav_bytes(), "wav", "0" * 8, {})
    voices.update(meta["voice_id"], status="ready")
    with stack.client() as c:
        r = c.post(
            "/jobs",
            json={
                "mode": "dubbing_with_clone",
                "text": "hello there",
                "language": "en",
                "voice_id": meta["voice_id"],
                "engine": "xtts",
            },
        )
    assert_queue_refused(r, admin)


# --------------------------------------------------------------------------- lost worker
DEADLINE_S = 6.0
REAPER_S = 0.5


def test_job_of_a_worker_that_never_returns_ends_failed(own_redis, tiny_models, tmp_path):
    stack = _stack(
        own_redis,
        2,
        tiny_models,
        tmp_path,
        LOW_VRAM="true",
        JOB_DEADLINE_S=str(DEADLINE_S),
        REAPER_INTERVAL_S=str(REAPER_S),
    )
    try:
        stack.start_api()
        stack.start_worker()
        stack.wait_ready()
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
                os.kill(pid, signal.SIGKILL)  # the whole worker, and it never comes back
            stack.worker.wait(timeout=10)
            killed_at = time.monotonic()
            info = wait_job(c, job_id, timeout=DEADLINE_S + 30)
            took = time.monotonic() - killed_at
        assert info["status"] == "failed", info
        assert "JOB_DEADLINE_S" in info["error"] and "worker was lost" in info["error"], info
        assert info["finished_at"], info
        assert took <= DEADLINE_S + REAPER_S + 5, f"failed only {took:.1f} s after the kill"
    finally:
        stack.stop()


# --------------------------------------------------------------------------- hostile uploads
def _truncated_wav() -> bytes:
    return wav_bytes(2.0)[:60]  # RIFF header and a few samples: the header lies


BAD_UPLOADS = {
    "truncated-wav": _truncated_wav(),
    "random-bytes": os.urandom(4096),
    "text-named-wav": b"this is not audio at all, just text in a file called voice.wav\n" * 20,
    "empty": b"",
    "riff-garbage": b"RIFF\xff\xff\xff\xffWAVEfmt " + os.urandom(200),
}


@pytest.fixture(scope="module")
def api_only(own_redis, tiny_models, tmp_path_factory):
    stack = _stack(own_redis, 3, tiny_models, tmp_path_factory.mktemp("api"))
    stack.start_api()
    with stack.client() as c:
        wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
    yield stack
    stack.stop()


@pytest.mark.parametrize("name", sorted(BAD_UPLOADS))
def test_rejected_upload_never_names_a_server_path(api_only, name):
    with api_only.client() as c:
        r = clone(c, data=BAD_UPLOADS[name])
    assert 400 <= r.status_code < 500, r.text
    detail = one_line(r.json())
    assert detail.startswith("audio: "), detail
    for leak in (str(api_only.data_dir), ".part", ".incoming", "/voices", "/data", "Error opening"):
        assert leak not in r.text, f"{leak!r} in {r.text}"


# --------------------------------------------------------------------------- trailing slash
@pytest.mark.parametrize("path", ["/voices/", "/jobs/", "/admin/vram/", "/health/"])
def test_trailing_slash_is_404_not_a_redirect_built_from_host(api_only, path):
    with api_only.client() as c:
        r = c.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert r.status_code == 404, (r.status_code, r.headers)
    assert "location" not in r.headers
    assert "evil.example" not in r.text


# --------------------------------------------------------------------------- reaper passes
@pytest.fixture
def job_and_voice_stores(own_redis, tmp_path):
    import redis as redis_lib

    from service.jobs import JobStore
    from service.voices import VoiceStore

    client = redis_lib.Redis.from_url(own_redis.url(4), decode_responses=True)
    client.flushdb()
    yield JobStore(client, 3600), VoiceStore(tmp_path / "voices")
    client.flushdb()


def _pending_voice(voices, job_id: str) -> str:
    return voices.create("v", "pt-br", None, wav_bytes(1.5), "wav", job_id, {})["voice_id"]


def test_reaper_fails_an_overdue_clone_job_and_its_voice(job_and_voice_stores):
    from service.jobs import DEADLINES_KEY, new_id
    from service.reaper import reap_overdue_jobs

    store, voices = job_and_voice_stores
    now = time.time()
    overdue, running = new_id(), new_id()
    voice_id = _pending_voice(voices, overdue)
    for job_id, deadline in ((overdue, now - 1), (running, now + 60)):
        store.create(job_id, mode="clone", voice_id=voice_id)
        store.start_attempt(job_id)
        store.mark_processing(job_id, deadline)
    voices.reference_path(voice_id).write_bytes(b"RIFF partial")  # a dead worker's leftover
    assert reap_overdue_jobs(store, voices, 5.0, now=now) == [overdue]
    job = store.get(overdue)
    assert job["status"] == "failed" and "JOB_DEADLINE_S (5 s)" in job["error"], job
    assert voices.get(voice_id)["status"] == "failed"
    assert voices.get(voice_id)["error"] == job["error"]
    assert not voices.reference_path(voice_id).exists()
    assert store.get(running)["status"] == "processing"
    assert store.r.zrange(DEADLINES_KEY, 0, -1) == [running]
    # the dead worker's result, should it arrive after all, does not resurrect the job
    assert not store.finish_attempt(overdue, 1, status="completed")
    assert store.get(overdue)["status"] == "failed"
    assert store.finish_attempt(running, 1, status="completed")
    assert store.r.zrange(DEADLINES_KEY, 0, -1) == []


def test_pending_voice_whose_job_is_lost_or_failed_ends_failed(job_and_voice_stores):
    from service.jobs import new_id, parse_iso
    from service.reaper import LOST_JOB_REASON, PENDING_GRACE_S, reconcile_pending_voices

    store, voices = job_and_voice_stores
    lost = _pending_voice(voices, new_id())  # its job record is gone (Redis wiped)
    failed_job, queued_job = new_id(), new_id()
    failed = _pending_voice(voices, failed_job)
    store.create(failed_job, mode="clone", status="failed", error="reference audio is silent")
    queued = _pending_voice(voices, queued_job)
    store.create(queued_job, mode="clone")
    created = parse_iso(voices.get(lost)["created_at"]).timestamp()
    assert reconcile_pending_voices(store, voices, now=created + 1) == []  # within the grace
    later = created + PENDING_GRACE_S + 5
    assert sorted(reconcile_pending_voices(store, voices, now=later)) == sorted([lost, failed])
    assert voices.get(lost)["status"] == "failed"
    assert voices.get(lost)["error"] == LOST_JOB_REASON
    assert voices.get(failed)["error"] == "reference audio is silent"
    assert voices.get(queued)["status"] == "pending"
