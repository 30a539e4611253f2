"""Job store: one Redis hash per job (``avops:job:<id>``), expiring after JOB_TTL_SECONDS.

Only the API creates a job and only the worker advances it, so field-level HSET
updates need no locking, with one exception: the end of an attempt. A job in
``processing`` carries the deadline of its attempt (JOB_DEADLINE_S) and sits in the
sorted set ``avops:jobs:deadlines``; the reaper (``service.reaper``) fails it once the
deadline has passed, and the worker's own final update is then refused. Both ends go
through one compare-and-set script, so exactly one of them decides how an attempt ended.
Values are JSON-encoded so numbers and dicts round-trip.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Optional

import redis

from service.errors import Rejected
from service.schemas import JobInfo, JobStatus, JobTimings

if TYPE_CHECKING:
    from service.validation import ResolvedJob

KEY_PREFIX = "avops:job:"
DEADLINES_KEY = "avops:jobs:deadlines"  # job id -> deadline of its running attempt (epoch s)

# End an attempt: set the fields only if the job is still processing in that attempt
# (ARGV[1]: attempt number, "" for any; ARGV[2]: now, "" to ignore the deadline, else only a
# job past its deadline ends). Always drops the job from the deadline index.
_FINISH_ATTEMPT = """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= '"processing"' then
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 0
end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'attempts') ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' then
  local deadline = tonumber(redis.call('HGET', KEYS[1], 'deadline_ts'))
  if deadline ~= nil and deadline > tonumber(ARGV[2]) then return 0 end
end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
"""


# Cancel a job: one still queued ends `cancelled` here (the worker then skips it); one being
# processed gets `cancel_requested`, which the worker checks between segments. Returns the
# outcome: "cancelled", "requested", "missing", or the (JSON) status of a job already final.
_CANCEL = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == '"queued"' then
  redis.call('HSET', KEYS[1], 'status', '"cancelled"', 'finished_at', ARGV[1], 'error', ARGV[2])
  return 'cancelled'
end
if status == '"processing"' then
  redis.call('HSET', KEYS[1], 'cancel_requested', 'true')
  return 'requested'
end
return status
"""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


def new_id() -> str:
    return str(uuid.uuid4())


class JobStore:
    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self.r = client
        self.ttl = ttl_seconds

    def _key(self, job_id: str) -> str:
        return KEY_PREFIX + job_id

    def create(self, job_id: str, **fields: Any) -> None:
        record = {
            "job_id": job_id,
            "status": JobStatus.queued.value,
            "attempts": 0,
            "created_at": now_iso(),
            **fields,
        }
        pipe = self.r.pipeline()
        pipe.hset(self._key(job_id), mapping={k: json.dumps(v) for k, v in record.items()})
        pipe.expire(self._key(job_id), self.ttl)
        pipe.execute()

    def update(self, job_id: str, **fields: Any) -> None:
        self.r.hset(self._key(job_id), mapping={k: json.dumps(v) for k, v in fields.items()})

    def mark_processing(self, job_id: str, deadline_ts: float, **fields: Any) -> None:
        """The attempt runs from now until ``deadline_ts`` at the latest (the reaper's bound)."""
        pipe = self.r.pipeline()  # MULTI: the status and the deadline index never disagree
        pipe.hset(
            self._key(job_id),
            mapping={
                k: json.dumps(v)
                for k, v in {
                    "status": JobStatus.processing.value,
                    "deadline_ts": round(deadline_ts, 3),
                    **fields,
                }.items()
            },
        )
        pipe.zadd(DEADLINES_KEY, {job_id: deadline_ts})
        pipe.execute()

    def finish_attempt(
        self,
        job_id: str,
        attempt: Optional[int] = None,
        past_deadline_at: Optional[float] = None,
        **fields: Any,
    ) -> bool:
        """Record how a processing attempt ended; False (nothing written) when it already
        ended otherwise: reaped past its deadline, or superseded by a later attempt.
        ``past_deadline_at``: only end it if its deadline is before this time (the reaper)."""
        argv: list[Any] = [
            "" if attempt is None else str(attempt),
            "" if past_deadline_at is None else repr(past_deadline_at),
            job_id,
        ]
        for name, value in fields.items():
            argv += [name, json.dumps(value)]
        return bool(self.r.eval(_FINISH_ATTEMPT, 2, self._key(job_id), DEADLINES_KEY, *argv))

    def cancel(self, job_id: str, reason: str) -> str:
        """Cancel the job (see _CANCEL): "cancelled", "requested", "missing" or its final status."""
        outcome = self.r.eval(
            _CANCEL, 1, self._key(job_id), json.dumps(now_iso()), json.dumps(reason)
        )
        return outcome.strip('"') if isinstance(outcome, str) else str(outcome)

    def cancel_requested(self, job_id: str) -> bool:
        return self.r.hget(self._key(job_id), "cancel_requested") == "true"

    def overdue(self, now: float, limit: int = 100) -> list[str]:
        """Ids of jobs whose running attempt is past its deadline."""
        return [
            str(job_id)
            for job_id in self.r.zrangebyscore(DEADLINES_KEY, "-inf", now, start=0, num=limit)
        ]

    def delete(self, job_id: str) -> None:
        pipe = self.r.pipeline()
        pipe.delete(self._key(job_id))
        pipe.zrem(DEADLINES_KEY, job_id)
        pipe.execute()

    def start_attempt(self, job_id: str) -> int:
        """Count a delivery of the job to a worker; returns the attempt number."""
        return int(self.r.hincrby(self._key(job_id), "attempts", 1))

    def get(self, job_id: str) -> Optional[dict[str, Any]]:
        raw = self.r.hgetall(self._key(job_id))
        if not raw:
            return None
        return {str(k): json.loads(v) for k, v in raw.items()}

    def exists(self, job_id: str) -> bool:
        return bool(self.r.exists(self._key(job_id)))


class QueueUnavailable(Rejected):
    """The job could not be queued (broker unreachable): 503, and nothing of it was kept."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(
            f"job queue (Redis) unavailable, nothing was stored; retry later: "
            f"{str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}",
            503,
        )


def enqueue(store: JobStore, task_name: str, job_id: str, **fields: Any) -> None:
    """Record the job and send its task, as one step: when the task cannot be sent the record
    is removed again (best effort: Redis may be the thing that is down) and QueueUnavailable
    raised, so no job waits ``queued`` for a task that does not exist. A Redis error while
    recording propagates as is (the API answers 503)."""
    # Imported here: reading job records (the reaper, `avops doctor`) needs no Celery.
    from service.celery_app import celery_app

    store.create(job_id, **fields)
    try:
        celery_app.send_task(task_name, args=[job_id], task_id=job_id)
    except Exception as exc:
        try:
            store.delete(job_id)
        except redis.exceptions.RedisError:
            pass  # the record expires after JOB_TTL_SECONDS; the reaper fails its voice
        raise QueueUnavailable(exc) from exc


def enqueue_synthesis(
    store: JobStore, job: ResolvedJob, mode: str, owner: Optional[str], **extra: Any
) -> str:
    """Record and send a synthesis job (``POST /jobs``, ``/v1/audio/speech``); returns its id."""
    from service.celery_app import TASK_SYNTHESIZE

    job_id = new_id()
    enqueue(
        store,
        TASK_SYNTHESIZE,
        job_id,
        mode=mode,
        text=job.text,
        text_chars=len(job.text),
        language=job.language,
        voice_id=job.voice_id,
        engine=job.engine,
        quality_profile=job.quality_profile,
        owner=owner,
        **extra,
    )
    return job_id


def to_info(record: dict[str, Any]) -> JobInfo:
    fields = {k: v for k, v in record.items() if k in JobInfo.model_fields}
    fields["timings"] = JobTimings(**(record.get("timings") or {}))
    if record.get("status") == JobStatus.completed.value and record.get("output_file"):
        fields["audio_url"] = f"/jobs/{record['job_id']}/audio"
    return JobInfo(**fields)
