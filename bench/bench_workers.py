"""Scale-out benchmark (results: bench/RESULTS.md, section "## workers").

    .venv/bin/python bench/bench_workers.py [--jobs 16] [--kills 5]

Real processes on 127.0.0.1: redis-server, the API (uvicorn), and one or two stateless workers
(tests.service.procs.IsolatedWorker: own cache, no data volume), tiny models, torch pinned to one
thread per worker so the host's two cores stand for two GPUs.

1. Jobs per minute with 1 worker, then 2, then 1 again (the two 1-worker runs bracket the
   2-worker run, so drift of the machine shows): --jobs short F5-TTS jobs submitted at once,
   timed from the first submission to the last completion. Target: 2 workers >= 1.7 x 1 worker.
2. Redelivery after a worker is killed outright mid-job (SIGKILL to parent and child), --kills
   times: seconds from the kill to the start of the job's second attempt on the other worker,
   with JOB_VISIBILITY_TIMEOUT_S=8 and REDELIVERY_SWEEP_S=1 (bound: 9 s after the first delivery).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402  (after the sys.path line: run as a script)

from service.jobs import JobStore, parse_iso  # noqa: E402  (after the sys.path line: run as a script)
from tests.service.helpers import post_job, ready_voice, wait_job  # noqa: E402  (after the sys.path line: run as a script)
from tests.service.procs import (  # noqa: E402  (after the sys.path line: run as a script)
    IsolatedWorker,
    RedisServer,
    ServiceStack,
    stop_pid,
    wait_for,
)

VISIBILITY_S, SWEEP_S = 8, 1
# Three sentences: long enough that synthesis, not the API round trips, is most of a job.
SENTENCE = (
    "Este e um teste de desempenho com varios trabalhadores. Cada trabalho tem tres frases. "
    "Assim o tempo de sintese domina o tempo de cada trabalho."
)
LONG_TEXT = " ".join(["Um paragrafo longo, para que a sintese dure alguns segundos."] * 12)


def wait_workers(stack: ServiceStack, count: int) -> None:
    with stack.client() as c:
        wait_for(
            lambda: (
                len(c.get("/admin/models").json()["workers"]) == count
                and all(
                    (w["age_seconds"] or 0) < 3 for w in c.get("/admin/models").json()["workers"]
                )
            ),
            180,
            f"{count} worker(s)",
        )


def submit(c, voice_id: str, text: str, profile: str) -> str:
    r = post_job(c, voice_id, text, quality_profile=profile)
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def jobs_per_minute(stack: ServiceStack, voice_id: str, jobs: int) -> float:
    with stack.client() as c:
        started = time.perf_counter()
        ids = [submit(c, voice_id, SENTENCE, "f5tts_fast") for _ in range(jobs)]
        for job_id in ids:
            assert wait_job(c, job_id, timeout=600)["status"] == "completed"
        return jobs / ((time.perf_counter() - started) / 60)


def redelivery_s(stack: ServiceStack, store: JobStore, workers: list, voice_id: str) -> float:
    with stack.client() as c:
        job_id = submit(c, voice_id, LONG_TEXT, "xtts_fast")
        record = wait_for(
            lambda: (r := store.get(job_id)) and r["status"] == "processing" and r, 120, "start"
        )
        victim = next(w for w in workers if w.node == record["worker"].split(" ")[0])
        killed_at = time.time()
        victim.kill_outright()
        info = wait_job(c, job_id, timeout=300)
        assert info["status"] == "completed", info
        workers.remove(victim)
        return parse_iso(store.get(job_id)["started_at"]).timestamp() - killed_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args()
    from engines.testing import build_tiny_models

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "redis").mkdir()
        server = RedisServer(base / "redis").start()
        (base / "logs").mkdir()
        stack = ServiceStack(
            redis_url=server.url(0),
            data_dir=base / "data",
            log_dir=base / "logs",
            env_extra={
                **build_tiny_models(base / "models"),
                "JOB_VISIBILITY_TIMEOUT_S": str(VISIBILITY_S),
                "REDELIVERY_SWEEP_S": str(SWEEP_S),
                "RATE_LIMIT_PER_MINUTE": "0",
                "LOG_LEVEL": "WARNING",
            },
        )
        stack.start_api()
        workers: list[IsolatedWorker] = []
        store = JobStore(redis.Redis.from_url(stack.redis_url, decode_responses=True), 3600)
        try:
            workers.append(IsolatedWorker(stack, "w1", base))
            wait_workers(stack, 1)
            with stack.client() as c:
                voice_id = ready_voice(c, name="bench", ref_text="uma frase de referencia.")
            jobs_per_minute(stack, voice_id, 2)  # warm: models loaded, voice cached
            one_a = jobs_per_minute(stack, voice_id, args.jobs)
            workers.append(IsolatedWorker(stack, "w2", base))
            wait_workers(stack, 2)
            jobs_per_minute(stack, voice_id, 2)
            two = jobs_per_minute(stack, voice_id, args.jobs)
            stop_pid(workers.pop().proc)
            time.sleep(1)
            one_b = jobs_per_minute(stack, voice_id, args.jobs)
            one = statistics.mean([one_a, one_b])
            print(f"jobs/min: 1 worker {one_a:.1f} and {one_b:.1f}, 2 workers {two:.1f}")
            print(f"ratio 2/1: {two / one:.2f} (target >= 1.7)")

            times = []
            for n in range(args.kills):
                while len(workers) < 2:
                    workers.append(IsolatedWorker(stack, f"k{n}-{len(workers)}", base))
                with stack.client() as c:
                    wait_for(
                        lambda: (
                            len(
                                [
                                    w
                                    for w in c.get("/admin/models").json()["workers"]
                                    if w["worker"] in {x.node for x in workers}
                                    and (w["age_seconds"] or 0) < 3
                                ]
                            )
                            == 2
                        ),
                        180,
                        "two live workers",
                    )
                times.append(redelivery_s(stack, store, workers, voice_id))
            print(
                f"redelivery after a kill: median {statistics.median(times):.1f} s "
                f"(runs {', '.join(f'{t:.1f}' for t in times)}; bound {VISIBILITY_S + SWEEP_S} s "
                "after the first delivery)"
            )
        finally:
            for worker in workers:
                stop_pid(worker.proc)
            stack.stop()
            server.stop()


if __name__ == "__main__":
    main()
