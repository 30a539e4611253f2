"""The seed's Sprint 4 scenario on real processes: redis-server, Celery worker, uvicorn API.

Tiny F5-TTS/XTTS models built on disk (no downloads); the worker runs them on CPU.
"""

from __future__ import annotations

import io
import os
import signal

import pytest
import soundfile as sf

from tests.service.helpers import clone, ready_voice, wait_job
from tests.service.procs import children, wait_for

pytestmark = pytest.mark.slow

SENTENCE = "Este e um teste completo do modo LOW VRAM com F5-TTS."


@pytest.fixture(scope="module")
def low(make_stack):
    return make_stack(LOW_VRAM="true")


def _synthesize(c, voice_id, **extra):
    body = {
        "mode": "dubbing_with_clone",
        "text": SENTENCE,
        "language": "pt-BR",
        "voice_id": voice_id,
        "quality_profile": "f5tts_balanced",
        **extra,
    }
    r = c.post("/jobs", json=body)
    assert r.status_code == 202, r.text
    return wait_job(c, r.json()["job_id"])


def _check_wav(c, info):
    audio = c.get(info["audio_url"])
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/wav"
    data, sr = sf.read(io.BytesIO(audio.content))
    duration = len(data) / sr
    assert 0.3 < duration < 60, duration
    assert abs(duration - info["audio_duration_s"]) < 0.01
    return duration


def test_low_vram_clone_synthesize_download(low):
    with low.client() as c:
        voice_id = ready_voice(c)
        info = _synthesize(c, voice_id)
        assert info["status"] == "completed", info
        assert info["engine"] == "f5tts" and info["device"] == "cpu"
        assert info["quality_profile"] == "f5tts_balanced"
        t = info["timings"]
        for key in ("queue_wait_s", "voice_prep_s", "load_s", "inference_s", "write_s", "total_s"):
            assert t[key] is not None and t[key] >= 0, (key, t)
        _check_wav(c, info)
        vram = c.get("/admin/vram").json()
        assert vram["vram"]["low_vram_mode"] is True
        assert vram["age_seconds"] < 10
        # LOW_VRAM: nothing left on the device after the job (parked in host RAM at most).
        assert all(m["parked"] and m["in_use"] == 0 for m in vram["vram"]["resident_models"]), vram
        assert vram["vram"]["loads"] >= 1
    log = low.worker_log()
    assert "LOW VRAM MODE: ENABLED" in log
    assert "LOW_VRAM env=true parsed=True" in log
    assert "cuda_check:" in log
    assert "F5TtsEngine synthesis complete" in log


def test_xtts_job_and_listing(low):
    with low.client() as c:
        voice_id = ready_voice(c, ref_text=None, name="no-transcript")
        r = c.post(
            "/jobs",
            json={
                "mode": "dubbing_with_clone",
                "text": "ola mundo",
                "language": "pt-BR",
                "voice_id": voice_id,
                "engine": "xtts",
            },
        )
        assert r.status_code == 202, r.text
        info = wait_job(c, r.json()["job_id"])
        assert info["status"] == "completed", info
        assert info["engine"] == "xtts" and info["quality_profile"] == "xtts_balanced"
        _check_wav(c, info)
        ids = [v["voice_id"] for v in c.get("/voices").json()["voices"]]
        assert voice_id in ids
        assert c.delete(f"/voices/{voice_id}").status_code == 204
        assert c.get(f"/voices/{voice_id}").status_code == 404


def test_normal_mode_keeps_model_resident(make_stack):
    stack = make_stack(LOW_VRAM="false")
    with stack.client() as c:
        info = _synthesize(c, ready_voice(c))
        assert info["status"] == "completed", info
        vram = c.get("/admin/vram").json()["vram"]
        assert vram["low_vram_mode"] is False
        resident = {m["key"]: m for m in vram["resident_models"]}
        assert "f5tts" in resident and resident["f5tts"]["parked"] is False
        assert vram["unloads"] == 0
    assert "NORMAL MODE" in stack.worker_log()


def test_failing_job_leaves_worker_alive(low):
    with low.client() as c:
        voice_id = ready_voice(c)
        # A valid WAV that is silent passes the API's header sniff; the worker's full decode
        # rejects it: the clone job fails with the engines' message, the voice is 'failed'.
        import numpy as np

        buf = io.BytesIO()
        sf.write(buf, np.zeros(22050 * 2, dtype=np.float32), 22050, format="WAV")
        r = clone(c, data=buf.getvalue(), name="silent")
        assert r.status_code == 202
        info = wait_job(c, r.json()["job_id"])
        assert info["status"] == "failed" and "silent" in info["error"]
        voice = c.get(f"/voices/{r.json()['voice_id']}").json()
        assert voice["status"] == "failed" and "silent" in voice["error"]
        r = c.post("/jobs", json={"text": "x", "language": "pt", "voice_id": voice["voice_id"]})
        assert r.status_code == 409 and "failed validation" in r.json()["detail"]
        # ...and the same worker still completes the next job.
        assert _synthesize(c, voice_id)["status"] == "completed"


def test_worker_stays_pingable_during_a_job_and_parent_has_no_torch(low):
    import subprocess
    import sys

    from service.healthcheck import ping_worker  # noqa: F401  (same code the container runs)

    parent_maps = open(f"/proc/{low.worker.pid}/maps").read()
    assert "libtorch" not in parent_maps, "torch was loaded into the Celery parent process"
    kids = children(low.worker.pid)
    assert len(kids) == 1, kids  # --concurrency=1
    assert "libtorch" in open(f"/proc/{kids[0]}/maps").read()
    with low.client() as c:
        voice_id = ready_voice(c)
        r = c.post(
            "/jobs",
            json={
                "text": " ".join([SENTENCE] * 6),
                "language": "pt-BR",
                "voice_id": voice_id,
                "quality_profile": "f5tts_quality",
            },
        )
        job_id = r.json()["job_id"]
        wait_job(c, job_id, until=("processing", "completed", "failed"))
        ping = subprocess.run(
            [
                sys.executable,
                "-m",
                "service.healthcheck",
                "worker",
                "--node",
                low.node,
                "--timeout",
                "5",
            ],
            env=low.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert c.get(f"/jobs/{job_id}").json()["status"] in ("processing", "completed")
        assert wait_job(c, job_id)["status"] == "completed"


def test_killed_worker_child_requeues_the_job(make_stack):
    stack = make_stack(LOW_VRAM="true")
    with stack.client() as c:
        voice_id = ready_voice(c)
        r = c.post(
            "/jobs",
            json={
                "text": " ".join([SENTENCE] * 8),
                "language": "pt-BR",
                "voice_id": voice_id,
                "quality_profile": "f5tts_quality",
            },
        )
        job_id = r.json()["job_id"]
        info = wait_job(c, job_id, until=("processing", "completed", "failed"), timeout=60)
        assert info["status"] == "processing", "job finished before it could be killed"
        (child,) = children(stack.worker.pid)
        os.kill(child, signal.SIGKILL)  # the pool child dies mid-job (OOM killer, crash...)
        info = wait_job(c, job_id, timeout=180)
        assert info["status"] == "completed", info
        assert info["attempts"] == 2
        # The parent forked a fresh child that serves the next job.
        wait_for(
            lambda: children(stack.worker.pid) and children(stack.worker.pid) != [child],
            30,
            "a new pool child",
        )
    assert (
        "Worker exited prematurely: signal 9" in stack.worker_log()
        or "WorkerLostError" in stack.worker_log()
    )
