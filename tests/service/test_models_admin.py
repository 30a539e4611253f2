"""Model residency on real processes: /admin/models, load/unload through the broker, a job's own
keep-alive, expiry seen by the API, /metrics and `avops models` (redis-server, uvicorn, a Celery
worker with tiny models)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest

from tests.service.helpers import post_job, ready_voice, wait_job
from tests.service.procs import wait_for
from tests.support.dockerenv import run_avops

pytestmark = pytest.mark.slow

SENTENCE = "Este e um teste da residencia dos modelos."


@pytest.fixture(scope="module")
def stack(make_stack):
    # Default keep-alive 0 (LOW_VRAM): a job's own keep-alive is what keeps a model.
    return make_stack(LOW_VRAM="true", MODEL_KEEP_ALIVE_MAX="60")


def _models(c) -> dict:
    r = c.get("/admin/models")
    assert r.status_code == 200, r.text
    return r.json()


def _model(c, engine: str) -> dict:
    [worker] = _models(c)["workers"]
    return next(m for m in worker["models"] if m["engine"] == engine)


def _until(iso: str) -> float:
    return (datetime.fromisoformat(iso) - datetime.now(timezone.utc)).total_seconds()


def test_lists_the_worker_and_every_engine(stack):
    with stack.client() as c:
        body = _models(c)
    [worker] = body["workers"]
    assert worker["worker"] == stack.node
    assert worker["keep_alive_s"] == 0 and worker["keep_alive_max_s"] == 60
    assert {m["engine"] for m in worker["models"]} >= {"f5tts", "xtts"}


def test_load_then_unload_through_the_broker(stack):
    with stack.client() as c:
        r = c.post("/admin/models/xtts/load", params={"keep_alive": 30})
        assert r.status_code == 200, r.text
        [result] = r.json()["results"]
        assert result["ok"] and result["worker"] == stack.node and result["state"] == "cpu"
        model = _model(c, "xtts")
        assert model["state"] == "cpu" and model["device"] == "cpu" and model["size_mb"] > 0
        assert model["keep_alive_s"] == 30 and 20 < _until(model["expires_at"]) <= 31

        r = c.delete("/admin/models/xtts")
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["state"] == "parked"  # VRAM_OFFLOAD=cpu: parked
        assert _model(c, "xtts")["state"] == "parked"
    assert "Traceback" not in stack.worker_log()


def test_job_keep_alive_keeps_the_model_then_it_expires(stack):
    with stack.client() as c:
        r = post_job(c, ready_voice(c), SENTENCE, engine="f5tts", keep_alive=2)
        assert r.status_code == 202, r.text
        assert wait_job(c, r.json()["job_id"])["status"] == "completed"
        model = _model(c, "f5tts")
        assert model["state"] == "cpu" and model["keep_alive_s"] == 2, model
        assert model["expires_at"] is not None
        wait_for(lambda: _model(c, "f5tts")["state"] == "parked", 15, "the keep-alive expiry")
        vram = c.get("/admin/vram").json()["vram"]
        assert vram["expiries"] >= 1
    assert "keep-alive of model 'f5tts' expired" in stack.worker_log()


def test_job_keep_alive_is_capped_by_the_maximum(stack):
    with stack.client() as c:
        r = post_job(c, ready_voice(c), SENTENCE, engine="xtts", keep_alive=100000)
        assert wait_job(c, r.json()["job_id"])["status"] == "completed"
        assert _model(c, "xtts")["keep_alive_s"] == 60
        c.delete("/admin/models/xtts")


@pytest.mark.parametrize("bad", [-2, -0.5, "soon", 1e999])
def test_bad_keep_alive_is_a_4xx_and_queues_nothing(stack, bad):
    with stack.client() as c:
        r = c.post(
            "/jobs",
            content=json.dumps({"text": SENTENCE, "language": "pt-BR", "keep_alive": bad}).replace(
                "Infinity", "1e999"
            ),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422, r.text
        assert c.post("/admin/models/xtts/load", params={"keep_alive": -0.5}).status_code == 422


def test_unknown_engine_forbidden_key_and_no_worker(stack, make_stack):
    with stack.client() as c:
        r = c.post("/admin/models/bark/load")
        assert r.status_code == 404 and "f5tts" in r.json()["detail"]
    with stack.client("client") as c:
        assert c.get("/admin/models").status_code == 403
        assert c.delete("/admin/models/xtts").status_code == 403
    idle = make_stack(start_worker=False)
    with idle.client() as c:
        wait_for(lambda: c.get("/health").status_code == 200, 60, "the API")
        assert c.get("/admin/models").json() == {"workers": []}
        r = c.post("/admin/models/f5tts/load", params={"wait_s": 2})
        assert r.status_code == 503 and r.headers["retry-after"]
        assert "no worker" in r.json()["detail"]


def test_metrics_show_keep_alive_and_expiries(stack, make_stack):
    with stack.client() as c:
        c.post("/admin/models/f5tts/load", params={"keep_alive": 0.5})
        wait_for(lambda: _model(c, "f5tts")["state"] == "parked", 15, "the expiry")
        text = c.get("/metrics").text
    assert f'avops_model_keep_alive_seconds{{worker="{stack.node}"}} 0.0' in text
    line = next(
        ln
        for ln in text.splitlines()
        if ln.startswith("avops_model_events_total") and 'event="expiries"' in ln
    )
    assert float(line.rsplit(" ", 1)[1]) >= 1


def test_avops_models_cli(stack, tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AVOPS_")},
        "AVOPS_API_URL": stack.base_url,
        "AVOPS_API_KEY": stack.admin_key,
        "AVOPS_COMPOSE_FILE": str(tmp_path / "none.yml"),
        "AVOPS_ENV_FILE": str(tmp_path / "none.env"),
        "COLUMNS": "160",
    }
    ps = run_avops("models", "ps", "--json", env=env)
    assert ps.returncode == 0, ps.stderr
    assert json.loads(ps.stdout)["workers"][0]["worker"] == stack.node

    load = run_avops("models", "load", "xtts", "--keep-alive", "20", env=env)
    assert load.returncode == 0, load.stderr
    assert f"ok {stack.node}: xtts cpu" in load.stdout
    table = run_avops("models", env=env)
    assert table.returncode == 0 and "xtts" in table.stdout and "20s" in table.stdout

    unload = run_avops("models", "unload", "xtts", "--json", env=env)
    assert unload.returncode == 0, unload.stderr
    assert json.loads(unload.stdout)["results"][0]["state"] == "parked"

    bad = run_avops("models", "load", "bark", env=env)
    assert bad.returncode == 2 and "not an engine" in bad.stderr and "Traceback" not in bad.stderr
    bad_keep = run_avops("models", "load", "xtts", "--keep-alive", "-3", env=env)
    assert bad_keep.returncode == 2

    down = run_avops("models", env={**env, "AVOPS_API_URL": "http://127.0.0.1:9"})
    assert down.returncode == 5 and "cannot reach" in down.stderr
