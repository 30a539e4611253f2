"""One Redis client per process (thread-safe connection pool), created lazily."""

from __future__ import annotations

import threading
from typing import Optional

import redis

from service.settings import get_service_settings

_client: Optional[redis.Redis] = None
_lock = threading.Lock()


def get_redis() -> redis.Redis:
    global _client
    with _lock:
        if _client is None:
            # Short timeouts: /health must answer quickly when Redis is down; retry_on_timeout
            # and health checks let the pool reconnect by itself after a Redis restart.
            _client = redis.Redis.from_url(
                get_service_settings().redis_url, decode_responses=True,
                socket_connect_timeout=3, socket_timeout=5, retry_on_timeout=True,
                health_check_interval=15)
        return _client


def reset_redis() -> None:
    """Forget the client (after fork: a pool must not be shared across processes)."""
    global _client
    with _lock:
        _client = None
