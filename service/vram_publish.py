"""VRAM stats travel from the worker (where the models live) to the API through Redis.

The worker writes the latest ``VramManager.stats()`` under one key on every model
load/unload, after every task and on a heartbeat; the API reads it and adds its age.
The key's epoch doubles as the worker's liveness heartbeat for ``/health``.
The payload's shape is ``engines.contracts`` (``VramStats`` inside ``VramResponse``).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Optional, Union

import redis

from engines.contracts import VramResponse, VramStats

KEY = "avops:vram:latest"


class _Published(VramResponse):
    """What sits in Redis: the response without its age, plus the publish time as an epoch."""

    vram: VramStats
    epoch: float


def publish(
    client: redis.Redis, stats: Union[VramStats, dict[str, Any]], worker: str, event: str
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
    client.set(KEY, payload.model_dump_json(exclude={"age_seconds"}))


def read_report(client: redis.Redis) -> Optional[VramResponse]:
    """The last published stats with ``age_seconds`` set, or None if never published."""
    raw = client.get(KEY)
    if raw is None:
        return None
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
