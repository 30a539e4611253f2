"""Service benchmark: API latency under concurrency, and end-to-end job time split by stage.

    .venv/bin/python bench/bench_service.py [--clients 50] [--requests 20] [--jobs 5]

Real processes (redis-server, uvicorn API, Celery worker) on 127.0.0.1 with the tiny models
from ``engines.testing`` (no downloads). Phase 1 measures ``POST /jobs`` and ``GET /jobs/{id}``
with no worker running (the jobs only queue: this isolates the API + Redis path). Phase 2
starts the worker (LOW_VRAM=true) and runs jobs one after another.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.service.helpers import ready_voice, wait_job  # noqa: E402  (after the sys.path line: run as a script)
from tests.service.procs import RedisServer, ServiceStack, wait_for  # noqa: E402  (after the sys.path line: run as a script)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def hammer(stack: ServiceStack, clients: int, requests: int, voice_id: str) -> dict:
    posts: list[float] = []
    gets: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client() -> None:
        mine_p, mine_g = [], []
        with stack.client() as c:
            barrier.wait()  # all 50 start together
            for _ in range(requests):
                t = time.perf_counter()
                r = c.post(
                    "/jobs", json={"text": "ola mundo", "language": "pt-BR", "voice_id": voice_id}
                )
                mine_p.append(time.perf_counter() - t)
                assert r.status_code == 202, r.text
                t = time.perf_counter()
                assert c.get(f"/jobs/{r.json()['job_id']}").status_code == 200
                mine_g.append(time.perf_counter() - t)
        with lock:
            posts.extend(mine_p)
            gets.extend(mine_g)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"post": posts, "get": gets, "wall": wall}


def e2e(stack: ServiceStack, voice_id: str, jobs: int) -> list[dict]:
    out = []
    with stack.client() as c:
        for _ in range(jobs):
            r = c.post(
                "/jobs",
                json={
                    "mode": "dubbing_with_clone",
                    "language": "pt-BR",
                    "text": "Este e um teste do modo LOW VRAM.",
                    "voice_id": voice_id,
                    "quality_profile": "f5tts_balanced",
                },
            )
            t = time.perf_counter()
            info = wait_job(c, r.json()["job_id"])
            assert info["status"] == "completed", info
            out.append(
                {
                    **info["timings"],
                    "client_s": time.perf_counter() - t,
                    "audio_s": info["audio_duration_s"],
                }
            )
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=5)
    args = ap.parse_args()
    from engines.testing import build_tiny_models

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "redis").mkdir()
        (tmp / "logs").mkdir()
        redis = RedisServer(tmp / "redis").start()
        stack = ServiceStack(
            redis.url(0),
            tmp / "data",
            tmp / "logs",
            {**build_tiny_models(tmp / "models"), "LOW_VRAM": "true"},
        )
        try:
            stack.start_api()
            with stack.client() as c:
                wait_for(lambda: c.get("/health").status_code == 200, 60, "API")
                stack.start_worker()
                stack.wait_ready()
                voice_id = ready_voice(c)
            jobs = e2e(stack, voice_id, args.jobs)
            # Stop the worker so the hammer's jobs only queue (and do not compete for CPU).
            stack.worker.terminate()
            stack.worker.wait(60)
            lat = hammer(stack, args.clients, args.requests, voice_id)
        finally:
            stack.stop()
            redis.stop()
    report(args, lat, jobs)
    return 0


def report(args, lat: dict, jobs: list[dict]) -> None:
    n = len(lat["post"])
    print(
        f"API latency, {args.clients} concurrent clients x {args.requests} (POST then GET), "
        f"{n} each, {2 * n / lat['wall']:.0f} req/s overall:"
    )
    for name in ("post", "get"):
        ms = [v * 1000 for v in lat[name]]
        print(
            f"  {name.upper():4s} p50 {pct(ms, 50):7.1f} ms  p99 {pct(ms, 99):7.1f} ms  "
            f"max {max(ms):7.1f} ms"
        )
    keys = (
        "queue_wait_s",
        "voice_prep_s",
        "load_s",
        "inference_s",
        "write_s",
        "total_s",
        "client_s",
        "audio_s",
    )
    print(f"E2E jobs (tiny F5-TTS, f5tts_balanced, LOW_VRAM=true, CPU), {len(jobs)} sequential:")
    print("  " + " | ".join(f"{k}" for k in ("job",) + keys))
    for i, j in enumerate(jobs, 1):
        print("  " + " | ".join([str(i)] + [f"{j[k]:.3f}" for k in keys]))
    rest = jobs[1:] or jobs
    print(
        "  median(2..) " + " | ".join(f"{statistics.median(j[k] for j in rest):.3f}" for k in keys)
    )


if __name__ == "__main__":
    sys.exit(main())
