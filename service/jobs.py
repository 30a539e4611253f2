"""Job store: one Redis hash per job (``avops:job:<id>``), expiring after JOB_TTL_SECONDS.

Only the API creates a job and only the worker advances it, so field-level HSET
updates need no locking. Values are JSON-encoded so numbers and dicts round-trip.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Optional

import redis

from service.schemas import JobInfo, JobStatus, JobTimings

KEY_PREFIX = "avops:job:"


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
        record = {"job_id": job_id, "status": JobStatus.queued.value, "attempts": 0,
                  "created_at": now_iso(), **fields}
        pipe = self.r.pipeline()
        pipe.hset(self._key(job_id), mapping={k: json.dumps(v) for k, v in record.items()})
        pipe.expire(self._key(job_id), self.ttl)
        pipe.execute()

    def update(self, job_id: str, **fields: Any) -> None:
        self.r.hset(self._key(job_id), mapping={k: json.dumps(v) for k, v in fields.items()})

    def start_attempt(self, job_id: str) -> int:
        """Count a delivery of the job to a worker; returns the attempt number."""
        return int(self.r.hincrby(self._key(job_id), "attempts", 1))

    def get(self, job_id: str) -> Optional[dict[str, Any]]:
        raw = self.r.hgetall(self._key(job_id))
        if not raw:
            return None
        return {k: json.loads(v) for k, v in raw.items()}

    def exists(self, job_id: str) -> bool:
        return bool(self.r.exists(self._key(job_id)))


def to_info(record: dict[str, Any]) -> JobInfo:
    fields = {k: v for k, v in record.items() if k in JobInfo.model_fields}
    fields["timings"] = JobTimings(**(record.get("timings") or {}))
    if record.get("status") == JobStatus.completed.value and record.get("output_file"):
        fields["audio_url"] = f"/jobs/{record['job_id']}/audio"
    return JobInfo(**fields)
