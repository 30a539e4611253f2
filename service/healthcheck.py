"""Container healthchecks (the image has no curl): ``python -m service.healthcheck worker|api``.

worker: Redis answers (else the one-line cause: wrong password, TLS), then
``celery inspect ping`` for this container's own node (``celery@$HOSTNAME``),
not the seed's ``Celery().broker_connection()``, which only proves a broker answers and
(without a URL) checks a default AMQP broker. The prefork parent answers pings while
its child runs a long synthesis job, so a busy worker stays healthy.
api: GET /health on the local port must answer 200.
"""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Optional


def redis_refusal() -> Optional[str]:
    """Why Redis refuses this worker (wrong password, TLS...), None when it answers: a worker that
    cannot reach its broker is unhealthy, and the healthcheck says why in one line."""
    from service.redis_conn import probe, redis_target
    from service.startup import or_exit

    or_exit(redis_target)  # a malformed REDIS_URL: its one line and exit 2, not a traceback
    return probe()


def ping_worker(node: str, timeout: float) -> bool:
    from service.celery_app import celery_app

    replies = celery_app.control.ping(destination=[node], timeout=timeout)
    return any(node in reply for reply in replies or [])


def check_api(url: str, timeout: float) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.healthcheck")
    parser.add_argument("target", choices=["worker", "api"])
    parser.add_argument(
        "--node",
        default=f"celery@{socket.gethostname()}",
        help="worker node name to ping (default: celery@$HOSTNAME)",
    )
    parser.add_argument("--url", default=None, help="API health URL (default: from API_PORT)")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.target == "worker":
        refusal = redis_refusal()
        if refusal is not None:
            print(refusal)
            return 1
        ok = ping_worker(args.node, args.timeout)
        print(f"{args.node}: {'pong' if ok else 'no reply'}")
    else:
        from service.settings import get_service_settings

        url = args.url or f"http://127.0.0.1:{get_service_settings().api_port}/health"
        ok = check_api(url, args.timeout)
        print(f"{url}: {'ok' if ok else 'failed'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
