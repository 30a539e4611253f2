"""The reaper: every job and every voice reaches a final state, even when its worker never returns.

Celery's ``acks_late`` brings a job back when a worker restarts, but a worker that never comes
back (host lost, container removed, GPU gone) left the job ``processing`` forever, and a clone
job lost with Redis left its voice ``pending`` forever. The reaper runs as a thread in the API
process (the process that answers the clients, and not the one that may have died), beat-free:

* a job still ``processing`` past the deadline of its attempt (``JOB_DEADLINE_S`` after the
  attempt started, recorded by the worker in the job and in a Redis sorted set) is failed with
  the reason; a clone job's voice is failed with it. The change is a compare-and-set in Redis,
  so a worker finishing at the same moment and several API processes reaping at once agree;
* a voice still ``pending`` whose validation job has failed, or whose job record is gone
  (Redis wiped, expired), is failed with the reason, once it is older than a grace period
  (the API stores the voice just before it records the job);
* jobs the workers finished are settled (their results stored on the data volume,
  ``service.settle``) even when no client reads them.

It runs every ``REAPER_INTERVAL_S``; a job therefore ends at most JOB_DEADLINE_S +
REAPER_INTERVAL_S after its attempt started.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Optional

import redis

from service import jobmetrics, settle
from service import jobs as jobstore
from service.redis_conn import get_raw_redis
from service.schemas import JobStatus, VoiceStatus
from service.settings import ServiceSettings
from service.voices import VoiceStore

logger = logging.getLogger("service.reaper")

PENDING_GRACE_S = 60.0  # a pending voice younger than this may not have its job record yet
LOST_JOB_REASON = "its validation job was lost (job store reset or record expired); clone it again"


def overdue_reason(deadline_s: float) -> str:
    return (
        f"no result within JOB_DEADLINE_S ({deadline_s:g} s) of the attempt's start: "
        "the worker was lost or is stuck; not retried"
    )


def reap_overdue_jobs(
    store: jobstore.JobStore, voices: VoiceStore, deadline_s: float, now: Optional[float] = None
) -> list[str]:
    """Fail the jobs whose running attempt is past its deadline; returns their ids."""
    now = time.time() if now is None else now
    reaped = []
    for job_id in store.overdue(now):
        reason = overdue_reason(deadline_s)
        if not store.finish_attempt(
            job_id,
            past_deadline_at=now,
            status=JobStatus.failed.value,
            error=reason,
            finished_at=jobstore.now_iso(),
        ):
            continue  # finished meanwhile, or its record expired
        jobmetrics.record_job_end(store.r, job_id)  # /metrics: a job its worker never ended
        record = store.get(job_id) or {}
        logger.warning(
            "job %s failed by the reaper: %s (worker %s)", job_id, reason, record.get("worker")
        )
        if record.get("mode") == "clone" and record.get("voice_id"):
            voices.mark_failed(record["voice_id"], reason)
        reaped.append(job_id)
    return reaped


def reconcile_pending_voices(
    store: jobstore.JobStore, voices: VoiceStore, now: Optional[float] = None
) -> list[str]:
    """Fail pending voices whose clone job failed or no longer exists; returns their ids."""
    now = time.time() if now is None else now
    failed = []
    for meta in voices.list():
        if meta.get("status") != VoiceStatus.pending.value or _younger_than_grace(meta, now):
            continue
        record = store.get(meta["job_id"]) if meta.get("job_id") else None
        if record is None:
            reason = LOST_JOB_REASON
        elif record.get("status") == JobStatus.failed.value:
            reason = record.get("error") or "its validation job failed"
        else:
            continue  # queued or running: the job (and its deadline) decides
        if voices.mark_failed(meta["voice_id"], reason):
            logger.warning("voice %s failed by the reaper: %s", meta["voice_id"], reason)
            failed.append(meta["voice_id"])
    return failed


def _younger_than_grace(meta: dict, now: float) -> bool:
    return jobstore.parse_iso(meta["created_at"]).timestamp() + PENDING_GRACE_S > now


class Reaper:
    """A daemon thread running both passes every ``reaper_interval_s``."""

    def __init__(self, settings: ServiceSettings, client: redis.Redis) -> None:
        self.settings = settings
        self.store = jobstore.JobStore(client, settings.job_ttl_seconds)
        self.voices = VoiceStore(settings.voices_dir)
        self.settler = settle.Settler(
            self.store, self.voices, get_raw_redis(), settings.outputs_dir
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="job-reaper", daemon=True)
        self._was_failing = False

    def start(self) -> "Reaper":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def run_once(self) -> None:
        while self.settler.drain() > 0:
            pass
        reap_overdue_jobs(self.store, self.voices, self.settings.job_deadline_s)
        reconcile_pending_voices(self.store, self.voices)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.reaper_interval_s):
            try:
                self.run_once()
                self._was_failing = False
            except Exception as exc:  # noqa: BLE001  (Redis down, disk full: try next round)
                if not self._was_failing:  # once per outage, not every interval
                    logger.warning(
                        "reaper pass failed, retrying every %g s: %s",
                        self.settings.reaper_interval_s,
                        exc,
                    )
                self._was_failing = True


_running: Optional[Reaper] = None
_start_lock = threading.Lock()


def start_once(settings: ServiceSettings, client: redis.Redis) -> Reaper:
    """The process's reaper, started on the first call (the API's startup)."""
    global _running
    with _start_lock:
        if _running is None:
            _running = Reaper(settings, client).start()
        return _running
