"""VRAM stats travel from the worker (where the models live) to the API through Redis.

The worker writes the latest ``VramManager.stats()`` under one key on every model
load/unload, after every task and on a heartbeat; the API reads it and adds its age.
The key's epoch doubles as the worker's liveness heartbeat for ``/health``.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Any, Optional

import redis

logger = logging.getLogger(__name__)

KEY = "avops:vram:latest"


def publish(client: redis.Redis, stats: dict[str, Any], worker: str, event: str) -> None:
    payload = {"vram": stats, "timestamp": datetime.now(timezone.utc).isoformat(),
               "epoch": time.time(), "worker": worker, "event": event}
    client.set(KEY, json.dumps(payload, default=str))


def read_latest(client: redis.Redis) -> Optional[dict[str, Any]]:
    """The last published payload with ``age_seconds`` added, or None if never published."""
    raw = client.get(KEY)
    if raw is None:
        return None
    payload = json.loads(raw)
    payload["age_seconds"] = round(max(0.0, time.time() - float(payload.pop("epoch", 0))), 3)
    return payload
