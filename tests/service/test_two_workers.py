"""Two stateless workers on one Redis, sharing no volume with each other or with the API.

Each worker gets its own cache directory and a DATA_DIR that does not exist (a worker on another
host has no access to the API's data volume): clones and syntheses still complete, spread over
both, and every result reaches the API's data volume. Killing one worker mid-job (SIGKILL of the
whole worker, as when its host dies): the job is redelivered to the other within the stated bound
(JOB_VISIBILITY_TIMEOUT_S + REDELIVERY_SWEEP_S) and completes; nothing is lost or stuck.
"""

from __future__ import annotations

import io
import time

import pytest
import redis
import soundfile as sf

from service.jobs import JobStore
from tests.service.helpers import post_job, ready_voice, wait_job
from tests.service.procs import IsolatedWorker, stop_pid, wait_for

pytestmark = pytest.mark.slow

VISIBILITY_S = 8
SWEEP_S = 1
SENTENCE = "Este e um teste com dois trabalhadores."
LONG_TEXT = " ".join(
    [
        "Este paragrafo e longo de proposito, para que a sintese dure alguns segundos.",
        "Assim o teste consegue matar o trabalhador no meio do trabalho.",
        "O outro trabalhador deve receber o mesmo trabalho e termina-lo sozinho.",
        "Nada pode ficar perdido e nada pode ficar preso em processamento.",
    ]
    * 3
)


@pytest.fixture(scope="module")
def pair(make_stack, tmp_path_factory):
    stack = make_stack(
        start_worker=False,
        JOB_VISIBILITY_TIMEOUT_S=str(VISIBILITY_S),
        REDELIVERY_SWEEP_S=str(SWEEP_S),
    )
    base = tmp_path_factory.mktemp("workers")
    workers = [IsolatedWorker(stack, "w1", base), IsolatedWorker(stack, "w2", base)]
    store = JobStore(redis.Redis.from_url(stack.redis_url, decode_responses=True), 3600)
    with stack.client() as c:
        wait_for(
            lambda: len(c.get("/admin/models").json()["workers"]) == 2, 120, "two worker heartbeats"
        )
    yield stack, workers, store
    for worker in workers:
        stop_pid(worker.proc)


def _submit(c, voice_id: str, text: str = SENTENCE, profile: str = "f5tts_fast") -> str:
    r = post_job(c, voice_id, text, quality_profile=profile)
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def _node(record: dict) -> str:
    return record["worker"].split(" ")[0]


def test_ten_jobs_spread_over_both_and_every_result_reaches_the_api(pair):
    stack, workers, store = pair
    with stack.client() as c:
        voice_id = ready_voice(c, name="two-workers")
        job_ids = [_submit(c, voice_id) for _ in range(10)]
        infos = [wait_job(c, job_id) for job_id in job_ids]
        assert [i["status"] for i in infos] == ["completed"] * 10, infos
        nodes = {_node(store.get(job_id)) for job_id in job_ids}
        assert nodes == {w.node for w in workers}, f"jobs ran on {nodes} only"
        for job_id in job_ids:
            r = c.get(f"/jobs/{job_id}/audio")
            assert r.status_code == 200, r.text
            audio, rate = sf.read(io.BytesIO(r.content))
            assert rate == 24000 and len(audio) > 0
            assert (stack.data_dir / "outputs" / f"{job_id}.wav").is_file()
    for worker in workers:
        assert not worker.no_data.exists(), f"{worker.node} wrote to a data volume"
        assert list(worker.cache.glob("*.wav")), f"{worker.node} fetched nothing into its cache"


def test_killed_worker_job_completes_on_the_other_within_the_bound(pair):
    stack, workers, store = pair
    with stack.client() as c:
        voice_id = ready_voice(c, name="redelivery", ref_text=None)
        job_id = _submit(c, voice_id, LONG_TEXT, "xtts_fast")
        record = wait_for(
            lambda: (r := store.get(job_id)) and r["status"] == "processing" and r,
            60,
            "the job to start",
            interval=0.05,
        )
        victim = next(w for w in workers if w.node == _node(record))
        survivor = next(w for w in workers if w is not victim)
        killed_at = time.time()
        victim.kill_outright()
        info = wait_job(c, job_id, timeout=VISIBILITY_S + SWEEP_S + 120)
        final = store.get(job_id)
        assert info["status"] == "completed", info
        assert _node(final) == survivor.node and final["attempts"] == 2, final
        restarted_after = _started(final) - killed_at  # the second attempt's start
        # Redelivery: the visibility timeout counts from the first delivery, so it is at most
        # VISIBILITY_S + SWEEP_S after the kill (plus the survivor's own latency).
        assert restarted_after <= VISIBILITY_S + SWEEP_S + 5, restarted_after
        assert c.get(f"/jobs/{job_id}/audio").status_code == 200

        # Nothing stuck: the survivor takes new work at once.
        more = [_submit(c, voice_id, profile="xtts_fast") for _ in range(3)]
        assert [wait_job(c, j)["status"] for j in more] == ["completed"] * 3


def _started(record: dict) -> float:
    from service.jobs import parse_iso

    return parse_iso(record["started_at"]).timestamp()
