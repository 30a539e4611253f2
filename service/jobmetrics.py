"""Job figures for /metrics, kept in Redis: jobs by engine, mode and final status, and the
stage durations (queue wait, model load, inference, write, first audio...) as histograms.

Why Redis and not a metrics port per worker: the workers already share Redis with the API and
have no HTTP server; Prometheus then scrapes one target (the API's /metrics) however many
workers run, and the figures outlive a worker or API restart. Whoever ends a job (the worker,
or the API's reaper for a worker that never came back) calls ``record_job_end``; the API's
collector (``service.metrics``) renders the hashes at scrape time. No prometheus_client here:
the worker only increments hash fields.

Layout (hash fields joined with ``|``):
* ``avops:metrics:jobs``   ``<engine>|<mode>|<status>`` -> count
* ``avops:metrics:stages`` ``<engine>|<stage>|<le>`` -> jobs whose stage took at most ``le``
  seconds and more than the bound below it (one bucket, not cumulative: the collector
  accumulates); ``<engine>|<stage>|sum`` and ``|count``.

Each job is counted once: the recording script first claims the job by setting the field
``metrics_recorded`` of its record (HSETNX), in the same atomic step as the increments, so a
late worker result after the reaper, or a redelivered message, never counts a job twice.
Stage durations are taken from completed jobs only: a failed job's inference time says
little about how long inference takes.
"""

from __future__ import annotations

import bisect
import logging
from typing import Any

import redis

from service import jobs as jobstore
from service.schemas import JobStatus

logger = logging.getLogger("service.metrics")

JOBS_KEY = "avops:metrics:jobs"
STAGES_KEY = "avops:metrics:stages"
RECORDED_FIELD = "metrics_recorded"
SEP = "|"
NO_ENGINE = "none"  # clone jobs run no engine
FINAL_STATUSES = (JobStatus.completed.value, JobStatus.failed.value, JobStatus.cancelled.value)
# Job timings (service.schemas.JobTimings) -> stage label.
STAGES = {
    "queue_wait_s": "queue_wait",
    "voice_prep_s": "voice_prep",
    "load_s": "model_load",
    "inference_s": "inference",
    "write_s": "write",
    "first_audio_s": "first_audio",
    "total_s": "total",
}
# Seconds; from a cache hit (10 ms) to a job at JOB_DEADLINE_S's default (1 h).
BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
)
INF = "+Inf"

# KEYS: job record, jobs hash, stages hash. ARGV: the claim field, then (hash 1|2, field,
# increment) triples. Nothing happens for a record that is gone or already counted.
_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HSETNX', KEYS[1], ARGV[1], 'true') == 0 then return 0 end
for i = 2, #ARGV, 3 do
  local key = KEYS[tonumber(ARGV[i]) + 1]
  if string.find(ARGV[i + 2], '.', 1, true) then
    redis.call('HINCRBYFLOAT', key, ARGV[i + 1], ARGV[i + 2])
  else
    redis.call('HINCRBY', key, ARGV[i + 1], ARGV[i + 2])
  end
end
return 1
"""


def bucket_bound(seconds: float) -> str:
    """The ``le`` of the bucket a duration falls in (the smallest bound >= it)."""
    index = bisect.bisect_left(BUCKETS, seconds)
    return INF if index == len(BUCKETS) else repr(BUCKETS[index])


def increments(record: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(1 = jobs hash | 2 = stages hash, field, increment) for one finished job."""
    engine = record.get("engine") or NO_ENGINE
    status = record["status"]
    out = [(1, SEP.join((engine, record.get("mode") or "unknown", status)), "1")]
    if status != JobStatus.completed.value:
        return out
    for name, stage in STAGES.items():
        seconds = (record.get("timings") or {}).get(name)
        if not isinstance(seconds, (int, float)) or seconds < 0:
            continue
        prefix = f"{engine}{SEP}{stage}{SEP}"
        out += [
            (2, prefix + bucket_bound(seconds), "1"),
            (2, prefix + "count", "1"),
            (2, prefix + "sum", f"{float(seconds):.6f}"),
        ]  # a '.': HINCRBYFLOAT
    return out


def record_job_end(client: redis.Redis, job_id: str) -> bool:
    """Count a job that reached a final status, once; True if this call counted it.
    Best effort: metrics must never fail a job or the reaper, so errors are only logged."""
    try:
        record = jobstore.JobStore(client, 60).get(job_id)
        if record is None or record.get("status") not in FINAL_STATUSES:
            return False
        argv: list[str] = [RECORDED_FIELD]
        for target, field, amount in increments(record):
            argv += [str(target), field, amount]
        return bool(
            client.eval(_RECORD, 3, jobstore.KEY_PREFIX + job_id, JOBS_KEY, STAGES_KEY, *argv)
        )
    except Exception as exc:  # noqa: BLE001  (metrics are best effort: never fail the job's end)
        logger.warning("metrics: could not record the end of job %s: %s", job_id, exc)
        return False


class StageHistogram:
    """One (engine, stage) series read back: cumulative buckets, sum and count."""

    def __init__(self) -> None:
        self.per_bucket: dict[float, int] = {}
        self.sum = 0.0
        self.count = 0

    def add(self, part: str, value: str) -> None:
        if part == "sum":
            self.sum = float(value)
        elif part == "count":
            self.count = int(value)
        else:
            bound = float("inf") if part == INF else float(part)
            self.per_bucket[bound] = self.per_bucket.get(bound, 0) + int(value)

    def cumulative(self) -> list[tuple[str, int]]:
        """[(le, jobs at most le)...] over BUCKETS (and any other stored bound), ending +Inf."""
        bounds = sorted(set(BUCKETS) | set(self.per_bucket) - {float("inf")})
        total, out = 0, []
        for bound in bounds:
            total += self.per_bucket.get(bound, 0)
            out.append((repr(bound), total))
        return out + [(INF, self.count)]


def parse_jobs(raw: dict[str, str]) -> list[tuple[tuple[str, str, str], int]]:
    """The jobs hash as ((engine, mode, status), count) pairs."""
    out = []
    for field, value in sorted(raw.items()):
        labels = tuple(field.split(SEP))
        if len(labels) == 3:
            out.append((labels, int(value)))
    return out


def parse_stages(raw: dict[str, str]) -> dict[tuple[str, str], StageHistogram]:
    """The stages hash as {(engine, stage): StageHistogram}."""
    series: dict[tuple[str, str], StageHistogram] = {}
    for field, value in raw.items():
        engine, sep1, rest = field.partition(SEP)
        stage, sep2, part = rest.partition(SEP)
        if sep1 and sep2:
            series.setdefault((engine, stage), StageHistogram()).add(part, value)
    return dict(sorted(series.items()))


def read(client: redis.Redis) -> tuple[list, dict]:
    """Both hashes in one round trip: (parse_jobs, parse_stages)."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(JOBS_KEY)
    pipe.hgetall(STAGES_KEY)
    jobs_raw, stages_raw = pipe.execute()
    return parse_jobs(jobs_raw), parse_stages(stages_raw)
