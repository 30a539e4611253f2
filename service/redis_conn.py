"""One Redis client per process and kind (thread-safe connection pools), created lazily:
``get_redis`` decodes replies to text (job records, voices, stats), ``get_raw_redis`` returns
bytes (the audio of speech streams)."""

from __future__ import annotations

import threading

import redis

from service.settings import get_service_settings

_clients: dict[bool, redis.Redis] = {}
_lock = threading.Lock()


def _client(decode: bool) -> redis.Redis:
    with _lock:
        if decode not in _clients:
            # Short timeouts: /health must answer quickly when Redis is down; retry_on_timeout
            # and health checks let the pool reconnect by itself after a Redis restart. Stream
            # reads block at most 1 s, well inside socket_timeout.
            _clients[decode] = redis.Redis.from_url(
                get_service_settings().redis_url,
                decode_responses=decode,
                socket_connect_timeout=3,
                socket_timeout=5,
                retry_on_timeout=True,
                health_check_interval=15,
            )
        return _clients[decode]


def get_redis() -> redis.Redis:
    return _client(True)


def get_raw_redis() -> redis.Redis:
    return _client(False)


def reset_redis() -> None:
    """Forget the clients (after fork: a pool must not be shared across processes)."""
    with _lock:
        _clients.clear()
