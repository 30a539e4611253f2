"""One Redis client per process and kind (thread-safe connection pools), created lazily:
``get_redis`` decodes replies to text (job records, voices, stats), ``get_raw_redis`` returns
bytes (the audio of speech streams). REDIS_URL (plain or TLS) is read by ``service.redisurl``.

``watch_connection`` is the worker's voice when Redis refuses it: Celery's own retry lines say
"Cannot connect", this says why (wrong password, TLS handshake...) in one line, once per cause.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from functools import lru_cache
from typing import Optional

import redis

from service import redisurl
from service.settings import get_service_settings

logger = logging.getLogger("service.redis")

_clients: dict[bool, redis.Redis] = {}
_lock = threading.Lock()
PROBE_TIMEOUT_S = 3.0
WATCH_INTERVAL_S = 5.0  # while Redis refuses the worker: how often the cause is probed again


@lru_cache(maxsize=1)
def redis_target() -> redisurl.RedisTarget:
    return redisurl.parse(get_service_settings().redis_url)


def _client(decode: bool) -> redis.Redis:
    with _lock:
        if decode not in _clients:
            # Short timeouts: /health must answer quickly when Redis is down; retry_on_timeout
            # and health checks let the pool reconnect by itself after a Redis restart. Stream
            # reads block at most 1 s, well inside socket_timeout.
            target = redis_target()
            _clients[decode] = redis.Redis.from_url(
                target.url,
                decode_responses=decode,
                socket_connect_timeout=3,
                socket_timeout=5,
                retry_on_timeout=True,
                health_check_interval=15,
                **target.redis_kwargs(),
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
    redis_target.cache_clear()


def probe(timeout: float = PROBE_TIMEOUT_S) -> Optional[str]:
    """None when Redis answers PING on a new connection, else the one-line error."""
    target = redis_target()
    client = redis.Redis.from_url(
        target.url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        **target.redis_kwargs(),
    )
    try:
        client.ping()
        return None
    except (redis.RedisError, OSError) as exc:
        return redisurl.error_line(exc, target, _port_open(target, timeout))
    finally:
        client.close()


def _port_open(target: redisurl.RedisTarget, timeout: float) -> bool:
    if target.scheme == redisurl.SOCKET:
        return False
    try:
        socket.create_connection((target.host, target.port), timeout=timeout).close()
        return True
    except OSError:
        return False


def watch_connection(interval: float = WATCH_INTERVAL_S) -> None:
    """Probe now; while Redis refuses, probe again every ``interval`` in a daemon thread, logging
    the cause each time it changes, and once more when the connection works."""
    error = probe()
    if error is None:
        return
    logger.error(error)
    threading.Thread(target=_watch, args=(error, interval), name="redis-watch", daemon=True).start()


def _watch(last: str, interval: float) -> None:
    while True:
        time.sleep(interval)
        error = probe()
        if error is None:
            logger.info("REDIS_URL (%s): connected", redis_target().masked)
            return
        if error != last:
            logger.error(error)
            last = error
