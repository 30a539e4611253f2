"""VRAM stats travel from the worker (where the models live) to the API through Redis.

The worker writes the latest ``VramManager.stats()`` on every model load/unload, after every
task and on a heartbeat; the API reads it and adds its age. Each publish goes to two keys: the
latest of any worker (``/admin/vram``; its epoch doubles as the liveness heartbeat for
``/health``) and the worker's own, which expires when the worker stops publishing (``/admin/models``
lists every worker from these). The payload's shape is ``engines.contracts`` (``VramStats``
inside ``VramResponse``).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Optional, Union

import redis

from engines.contracts import VramResponse, VramStats

KEY = "avops:vram:latest"
WORKER_KEY_PREFIX = "avops:vram:worker:"
# A worker's own key outlives this many missed heartbeats, then the worker leaves the lists.
WORKER_KEY_HEARTBEATS = 6


class _Published(VramResponse):
    """What sits in Redis: the response without its age, plus the publish time as an epoch."""

    vram: VramStats
    epoch: float


def publish(
    client: redis.Redis,
    stats: Union[VramStats, dict[str, Any]],
    worker: str,
    event: str,
    heartbeat_s: float = 10.0,
) -> None:
    """Store ``stats`` (a dict is checked against ``VramStats``: a producer that drifts from the
    contract fails here, in the worker's log, not in the operator's table)."""
    payload = _Published(
        vram=VramStats.model_validate(stats),
        timestamp=datetime.now(timezone.utc).isoformat(),
        epoch=time.time(),
        worker=worker,
        event=event,
    )
    body = payload.model_dump_json(exclude={"age_seconds"})
    ttl = max(1, round(heartbeat_s * WORKER_KEY_HEARTBEATS))
    with client.pipeline(transaction=False) as pipe:
        pipe.set(KEY, body)
        pipe.set(worker_key(worker), body, ex=ttl)
        pipe.execute()


def node_name(worker: str) -> str:
    """``celery@host pid=42`` (who published: the node and its pool child) -> ``celery@host``:
    the node, its queue's name, its key and its metrics label, stable across child restarts."""
    return worker.split(" ", 1)[0]


def worker_key(worker: str) -> str:
    """One key per worker node."""
    return WORKER_KEY_PREFIX + node_name(worker)


def read_workers(client: redis.Redis) -> list[VramResponse]:
    """Every worker that published within its key's lifetime, by node name."""
    keys = sorted(client.scan_iter(match=WORKER_KEY_PREFIX + "*", count=100))
    values = client.mget(keys) if keys else []
    return [_response(raw) for raw in values if raw is not None]


def read_report(client: redis.Redis) -> Optional[VramResponse]:
    """The last published stats with ``age_seconds`` set, or None if never published."""
    raw = client.get(KEY)
    return None if raw is None else _response(raw)


def _response(raw: Union[str, bytes]) -> VramResponse:
    payload = _Published.model_validate_json(raw)
    age = round(max(0.0, time.time() - payload.epoch), 3)
    return VramResponse(
        vram=payload.vram,
        timestamp=payload.timestamp,
        age_seconds=age,
        worker=payload.worker,
        event=payload.event,
    )


def read_latest(client: redis.Redis) -> Optional[dict[str, Any]]:
    """``read_report`` as a dict (``VramResponse``'s fields), or None if never published."""
    report = read_report(client)
    return None if report is None else report.model_dump()
