"""Backpressure: refuse new work while too many jobs wait in the queue (MAX_QUEUED_JOBS).

The depth is what waits in the broker, read from Redis where Celery's Redis transport (kombu)
keeps each queue: a list named after the queue, plus one list per priority step (kombu's
``PRIORITY_STEPS``, keyed ``<queue><sep><step>``; empty here, since no task is sent with a
priority, but counted so a priority never hides jobs). Jobs a worker has taken (acks_late:
kombu's ``unacked`` hash) are running, not waiting, and are not counted.

Why a default of 256 and not ollama's ``OLLAMA_MAX_QUEUE`` of 512: ollama queues requests that
several parallel slots serve in seconds; here one worker runs one job at a time (one GPU,
concurrency 1), a job takes seconds to minutes, so 256 waiting jobs are already most of an
hour of work, and a speech request gives up after SPEECH_QUEUE_TIMEOUT_S anyway. Refusing
early with ``Retry-After`` lets a client back off instead of waiting for a job that ends in
a timeout.

The check runs before the submission takes a rate-limit token (``service.deps``), so a refused
request costs the caller nothing. It is a soft bound: requests checked at the same moment may
each pass and overshoot the limit by their number.
"""

from __future__ import annotations

import redis
from kombu.transport.redis import PRIORITY_STEPS, Channel

from service.celery_app import QUEUE
from service.errors import Rejected
from service.schemas import HealthCheck

QUEUES = (QUEUE,)  # every queue the API sends tasks to (celery_app: task_default_queue)
RETRY_AFTER_S = 10  # a client that backs off this long retries after a few jobs have ended


class QueueFull(Rejected):
    """503 with Retry-After: OpenAI's shape on /v1 (service.errorhandlers), ``detail`` elsewhere."""

    def __init__(self, queue: str, depth: int, limit: int) -> None:
        super().__init__(
            f"server busy: {depth} jobs waiting in queue {queue!r} (MAX_QUEUED_JOBS "
            f"{limit}); nothing was stored, retry in {RETRY_AFTER_S} s",
            503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
        self.queue = queue


def broker_keys(queue: str) -> list[str]:
    """The Redis lists kombu keeps ``queue``'s waiting messages in (its own naming rule)."""
    return [f"{queue}{Channel.sep}{step}" if step else queue for step in PRIORITY_STEPS]


def queue_depths(client: redis.Redis) -> dict[str, int]:
    """Waiting jobs per queue, one round trip. A Redis error propagates (the API answers 503)."""
    pipe = client.pipeline(transaction=False)
    for queue in QUEUES:
        for key in broker_keys(queue):
            pipe.llen(key)
    lengths = iter(pipe.execute())
    return {queue: sum(next(lengths) for _ in PRIORITY_STEPS) for queue in QUEUES}


def check_room(client: redis.Redis, limit: int) -> None:
    """Raise QueueFull when a queue holds ``limit`` jobs or more (0: no limit, no Redis call)."""
    if limit <= 0:
        return
    for queue, depth in queue_depths(client).items():
        if depth >= limit:
            raise QueueFull(queue, depth, limit)


def health_check(client: redis.Redis, limit: int) -> HealthCheck:
    """The ``queue`` entry of /health's details: depth per queue against the limit."""
    try:
        depths = queue_depths(client)
    except redis.exceptions.RedisError:
        return HealthCheck(ok=False, detail="unknown (Redis unreachable)")
    shown = ", ".join(f"{queue}: {depth} waiting" for queue, depth in depths.items())
    if limit <= 0:
        return HealthCheck(ok=True, detail=f"{shown} (MAX_QUEUED_JOBS=0: no limit)")
    full = [queue for queue, depth in depths.items() if depth >= limit]
    state = f"full, submissions refused with 503 ({', '.join(full)})" if full else "accepting"
    return HealthCheck(ok=not full, detail=f"{shown} (limit {limit}): {state}")
