"""What /metrics collection costs: p50 request latency with and without it, in the same run.

    .venv/bin/python bench/bench_metrics.py [--rounds 1500] [--scrape-interval 1]

Real processes on 127.0.0.1: one redis-server and two uvicorn APIs on it, identical but for
METRICS_ENABLED (true: the HTTP middleware observes every request and a scraper thread reads
/metrics every --scrape-interval seconds, as Prometheus would; false: neither). One client
sends each route to both APIs in turn, in an order shuffled every round, so drift of the
machine (other processes, CPU frequency) hits both sides alike. Routes: GET /v1/models (no
Redis: where the middleware's share is largest), GET /jobs/{id} (one Redis read: what
clients poll), POST /jobs refused with 404 (the submission path: auth, queue check, rate
limit, validation). Target: p50 with metrics <= 1.05 x p50 without. It also times the
middleware alone, in process around a do-nothing app (no network, no noise from the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.service.helpers import clone  # noqa: E402  (after the sys.path line: run as a script)
from tests.service.procs import RedisServer, ServiceStack, wait_for  # noqa: E402  (after the sys.path line: run as a script)

TARGET = 1.05


def start_api(redis_url: str, base: Path, name: str, keys: tuple[str, str], metrics: bool):
    (base / name / "logs").mkdir(parents=True)
    stack = ServiceStack(
        redis_url=redis_url,
        data_dir=base / "data",
        log_dir=base / name / "logs",
        api_key=keys[0],
        admin_key=keys[1],
        env_extra={
            "METRICS_ENABLED": str(metrics).lower(),
            "MAX_QUEUED_JOBS": "0",
            "LOG_LEVEL": "WARNING",
        },
    )
    stack.start_api()
    with stack.client() as c:
        wait_for(lambda: c.get("/health").status_code == 200, 60, f"the {name} API")
    return stack


def scraper(stack: ServiceStack, interval: float, stop: threading.Event, done: list) -> None:
    with stack.client() as c:
        while not stop.wait(interval):
            assert c.get("/metrics").status_code == 200
            done.append(1)


def measure(stacks: dict[str, ServiceStack], rounds: int, job_id: str) -> dict:
    requests = {
        "GET /v1/models": lambda c: c.get("/v1/models"),
        "GET /jobs/{id}": lambda c: c.get(f"/jobs/{job_id}"),
        "POST /jobs (404)": lambda c: c.post(
            "/jobs", json={"text": "ola", "language": "pt", "voice_id": str(uuid.uuid4())}
        ),
    }
    expected = {"GET /v1/models": 200, "GET /jobs/{id}": 200, "POST /jobs (404)": 404}
    clients = {name: stack.client() for name, stack in stacks.items()}
    times = {(route, name): [] for route in requests for name in stacks}
    order = [(route, name) for route in requests for name in stacks]
    for client_ in clients.values():  # warm up: connections, first-request paths
        for send in requests.values():
            send(client_)
    for _ in range(rounds):
        random.shuffle(order)
        for route, name in order:
            start = time.perf_counter()
            r = requests[route](clients[name])
            times[(route, name)].append(time.perf_counter() - start)
            assert r.status_code == expected[route], (route, name, r.status_code, r.text)
    for client_ in clients.values():
        client_.close()
    return times


def middleware_cost_us(calls: int = 50_000) -> float:
    """Microseconds the HTTP middleware adds to one request (in process, a do-nothing app)."""
    from service.metrics import HttpMetrics, RouteTemplates

    class Route:
        path = "/jobs/{job_id}"

    async def app(scope, receive, send):
        scope["route"] = Route
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b""})

    async def send(message):
        pass

    async def per_call(asgi) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await asgi({"type": "http", "method": "GET", "path": "/jobs/x"}, None, send)
        return (time.perf_counter() - start) / calls * 1e6

    return asyncio.run(per_call(HttpMetrics(app, RouteTemplates(None)))) - asyncio.run(
        per_call(app)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1500)
    parser.add_argument("--scrape-interval", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        server = RedisServer(base).start()
        keys = (secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        stacks = {}
        stop, scrapes = threading.Event(), []
        try:
            stacks = {
                "with metrics": start_api(server.url(0), base, "on", keys, True),
                "without": start_api(server.url(0), base, "off", keys, False),
            }
            with stacks["with metrics"].client() as c:
                job_id = clone(c).json()["job_id"]  # a job record (queued: no worker runs)
            thread = threading.Thread(
                target=scraper, args=(stacks["with metrics"], args.scrape_interval, stop, scrapes)
            )
            thread.start()
            started = time.perf_counter()
            times = measure(stacks, args.rounds, job_id)
            elapsed = time.perf_counter() - started
            stop.set()
            thread.join()
        finally:
            stop.set()
            for stack in stacks.values():
                stack.stop()
            server.stop()
    report(times, args.rounds, len(scrapes), elapsed)
    print(f"the middleware alone: {middleware_cost_us():.1f} us per request (in process)")


def report(times: dict, rounds: int, scrapes: int, elapsed: float) -> None:
    print(f"{rounds} rounds, {elapsed:.0f} s, {scrapes} scrapes of /metrics during the run")
    print(
        f"{'route':<20} {'p50 with':>10} {'p50 without':>12} {'ratio':>7} {'p90 with':>10} "
        f"{'p90 without':>12}"
    )
    worst = 0.0
    for route in dict.fromkeys(r for r, _ in times):
        on, off = times[(route, "with metrics")], times[(route, "without")]
        ratio = statistics.median(on) / statistics.median(off)
        worst = max(worst, ratio)
        p90 = [statistics.quantiles(x, n=10)[-1] * 1000 for x in (on, off)]
        print(
            f"{route:<20} {statistics.median(on) * 1000:>8.3f}ms {statistics.median(off) * 1000:>10.3f}ms "
            f"{ratio:>7.3f} {p90[0]:>8.3f}ms {p90[1]:>10.3f}ms"
        )
    print(
        f"worst p50 ratio {worst:.3f} (target <= {TARGET}): {'OK' if worst <= TARGET else 'OVER'}"
    )


if __name__ == "__main__":
    main()
