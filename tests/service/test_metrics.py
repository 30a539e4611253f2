"""GET /metrics on real processes: a real Prometheus server scrapes a real API + worker.

The Prometheus tests need Debian's ``prometheus`` package (``prometheus`` and ``promtool``):
without it they skip with the reason, except when AVOPS_TEST_REQUIRE_PROMETHEUS=1 (CI), where
that is a failure so CI can never pass by skipping.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from service import jobmetrics
from service.jobs import JobStore
from tests.service.helpers import ready_voice, wait_job
from tests.service.procs import free_port, stop_pid, wait_for

pytestmark = pytest.mark.slow

SENTENCE = "Este e um teste das metricas do servico."


def _require_prometheus() -> tuple[str, str]:
    found = shutil.which("prometheus"), shutil.which("promtool")
    if None in found:
        if os.environ.get("AVOPS_TEST_REQUIRE_PROMETHEUS") == "1":
            pytest.fail(
                "AVOPS_TEST_REQUIRE_PROMETHEUS=1 but prometheus/promtool are not installed "
                "(apt-get install prometheus)"
            )
        pytest.skip(
            "prometheus/promtool not installed (apt-get install prometheus); "
            "set AVOPS_TEST_REQUIRE_PROMETHEUS=1 to make this a failure"
        )
    return found  # type: ignore[return-value]


class PrometheusServer:
    """A Prometheus process on 127.0.0.1 scraping one target with a bearer token (from a file,
    as an operator would keep it), every second. Stopped by its pid."""

    def __init__(self, binary: str, workdir, target: str, token: str) -> None:
        self.binary, self.workdir = binary, workdir
        self.port = free_port()
        (workdir / "token").write_text(token)
        (workdir / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: avops\n"
            "    metrics_path: /metrics\n"
            f"    authorization: {{type: Bearer, credentials_file: {workdir / 'token'}}}\n"
            f"    static_configs: [{{targets: ['{target}']}}]\n"
        )
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "PrometheusServer":
        log = open(self.workdir / "prometheus.log", "ab")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200,
            60,
            f"prometheus on {self.url}",
            interval=0.3,
        )
        return self

    def query(self, promql: str) -> list[dict]:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5).json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def value(self, promql: str) -> float:
        """The single sample's value, NaN when the query returns nothing (yet)."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if len(result) == 1 else float("nan")

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)


@pytest.fixture(scope="module")
def token() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def stack(make_stack, token):
    return make_stack(LOW_VRAM="true", METRICS_TOKEN=token)


@pytest.fixture(scope="module")
def finished_job(stack):
    """One clone and one synthesis job, completed: what the scrapes below must show."""
    with stack.client() as c:
        voice_id = ready_voice(c)
        r = c.post(
            "/jobs",
            json={
                "mode": "dubbing_with_clone",
                "text": SENTENCE,
                "language": "pt-BR",
                "voice_id": voice_id,
                "quality_profile": "f5tts_balanced",
            },
        )
        assert r.status_code == 202, r.text
        info = wait_job(c, r.json()["job_id"])
        assert info["status"] == "completed", info
        return info


def _scrape(stack, key="admin") -> str:
    with stack.client(key) as c:
        r = c.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return r.text


def test_metrics_needs_an_admin_key_or_the_metrics_token(stack, token):
    with httpx.Client(base_url=stack.base_url, timeout=10) as anon:
        r = anon.get("/metrics")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert (
            anon.get("/metrics", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        )
        # The metrics token opens /metrics and nothing else.
        bearer = {"Authorization": f"Bearer {token}"}
        assert anon.get("/metrics", headers=bearer).status_code == 200
        assert anon.get(f"/jobs/{uuid.uuid4()}", headers=bearer).status_code == 401
        assert anon.get("/admin/vram", headers=bearer).status_code == 401
    with stack.client("client") as c:
        assert c.get("/metrics").status_code == 403
    assert "avops_queue_depth" in _scrape(stack, "admin")


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition (0 when absent), parsed by prometheus_client."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def test_http_requests_are_labelled_by_route_template_not_path(stack):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    count = "avops_http_request_duration_seconds_count"
    before = _scrape(stack)
    with stack.client() as c:
        for job_id in ids:
            assert c.get(f"/jobs/{job_id}").status_code == 404
        assert c.get("/no/such/path").status_code == 404
    with stack.client("not-a-key-at-all-xxxx") as bad:
        assert bad.get(f"/jobs/{ids[0]}").status_code == 401  # refused before routing
    text = _scrape(stack)
    assert not any(job_id in text for job_id in ids) and "/no/such/path" not in text

    def added(**labels):
        return _sample(text, count, **labels) - _sample(before, count, **labels)

    assert added(method="GET", route="/jobs/{job_id}", status="404") == 3
    assert added(method="GET", route="/jobs/{job_id}", status="401") == 1
    assert added(method="GET", route="unmatched", status="404") == 1


def test_promtool_finds_no_problem_in_the_exposition(stack, finished_job, tmp_path):
    _, promtool = _require_prometheus()
    exposition = _scrape(stack)
    assert (
        'avops_job_stage_seconds_bucket{engine="f5tts",le="+Inf",stage="inference"}' in exposition
    )
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, text=True, capture_output=True, timeout=60
    )
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", (
        checked.stdout + checked.stderr
    )


def test_prometheus_scrapes_job_counts_and_stage_histograms(stack, finished_job, token, tmp_path):
    binary, _ = _require_prometheus()
    prometheus = PrometheusServer(binary, tmp_path, f"127.0.0.1:{stack.api_port}", token).start()
    try:
        wait_for(
            lambda: prometheus.value('up{job="avops"}') == 1,
            60,
            "prometheus's first successful scrape (bearer token accepted)",
            interval=0.5,
        )
        jobs = 'avops_jobs_total{engine="f5tts",mode="dubbing_with_clone",status="completed"}'
        assert prometheus.value(jobs) == 1
        assert (
            prometheus.value('avops_jobs_total{engine="none",mode="clone",status="completed"}') == 1
        )
        # A histogram bucket: the job's inference fell in some bucket below +Inf, and
        # histogram_quantile works on what Prometheus stored.
        inference = 'avops_job_stage_seconds_bucket{engine="f5tts",stage="inference",le="%s"}'
        seconds = finished_job["timings"]["inference_s"]
        bound = jobmetrics.bucket_bound(seconds)
        assert prometheus.value(inference % "+Inf") == 1
        assert prometheus.value(inference % bound) == 1
        below = [b for b in jobmetrics.BUCKETS if b < seconds]
        if below:
            assert prometheus.value(inference % repr(below[-1])) == 0
        quantile = prometheus.value(
            'histogram_quantile(0.5, sum by (le) (avops_job_stage_seconds_bucket{stage="total"}))'
        )
        assert 0 < quantile <= 3600
        posted = (
            'avops_http_request_duration_seconds_count{method="POST",route="/jobs",status="202"}'
        )
        assert prometheus.value(posted) == 1
        assert prometheus.value('avops_queue_depth{queue="audio-voice"}') == 0
        assert prometheus.value("avops_worker_heartbeat_age_seconds") < 10
        assert prometheus.value('avops_model_events_total{event="loads"}') >= 1
    finally:
        prometheus.stop()
    assert prometheus.proc.poll() is not None


DASHBOARD = Path(__file__).resolve().parents[2] / "docker" / "grafana" / "avops-dashboard.json"


def test_grafana_dashboard_queries_run_on_prometheus_and_name_real_metrics(
    stack, finished_job, token, tmp_path
):
    """Every query of the shipped dashboard is valid PromQL to a real Prometheus scraping a real
    API, and every metric it names is in the exposition (a renamed metric breaks this test, not
    the operator's dashboard)."""
    binary, _ = _require_prometheus()
    exposition = _scrape(stack)
    exprs = [
        target["expr"].replace("$__rate_interval", "1m")
        for panel in json.loads(DASHBOARD.read_text())["panels"]
        for target in panel["targets"]
    ]
    assert len(exprs) >= 10
    for name in sorted({n for e in exprs for n in re.findall(r"avops_[a-z_]+", e)}):
        assert f"# TYPE {name}" in exposition or f"\n{name}" in exposition, name
    prometheus = PrometheusServer(binary, tmp_path, f"127.0.0.1:{stack.api_port}", token).start()
    try:
        wait_for(lambda: prometheus.value('up{job="avops"}') == 1, 60, "a scrape", interval=0.5)
        for expr in exprs:
            prometheus.query(expr)  # asserts Prometheus answered "success"
        # rate() needs two scrapes (1 s apart): then the first panel has series
        wait_for(lambda: prometheus.query(exprs[0]), 30, "requests per second", interval=0.5)
    finally:
        prometheus.stop()


# --------------------------------------------------------------------------- job counting
@pytest.fixture
def store(redis_server):
    client = redis.Redis.from_url(redis_server.url(1002), decode_responses=True)
    client.flushdb()
    yield JobStore(client, 600)
    client.flushdb()


def _finished(store: JobStore, status="completed", **timings) -> str:
    job_id = str(uuid.uuid4())
    store.create(job_id, mode="dubbing", engine="xtts")
    store.update(job_id, status=status, timings=timings)
    return job_id


def test_a_job_is_counted_once_whoever_reports_its_end(store):
    job_id = _finished(store, inference_s=0.3, queue_wait_s=0.004)
    assert jobmetrics.record_job_end(store.r, job_id) is True  # the reaper
    assert jobmetrics.record_job_end(store.r, job_id) is False  # the late worker
    jobs, stages = jobmetrics.read(store.r)
    assert jobs == [(("xtts", "dubbing", "completed"), 1)]
    inference = stages[("xtts", "inference")]
    assert inference.count == 1 and inference.sum == pytest.approx(0.3)
    assert dict(inference.cumulative())["0.25"] == 0 and dict(inference.cumulative())["0.5"] == 1
    assert dict(stages[("xtts", "queue_wait")].cumulative())["0.01"] == 1


def test_unfinished_failed_and_vanished_jobs(store):
    running = _finished(store, status="processing", inference_s=1.0)
    failed = _finished(store, status="failed", inference_s=1.0)
    assert jobmetrics.record_job_end(store.r, running) is False
    assert jobmetrics.record_job_end(store.r, failed) is True
    assert jobmetrics.record_job_end(store.r, str(uuid.uuid4())) is False  # expired record
    jobs, stages = jobmetrics.read(store.r)
    assert jobs == [(("xtts", "dubbing", "failed"), 1)]
    assert stages == {}  # durations come from completed jobs only
    # No record was made up for the vanished job.
    assert sorted(store.r.keys("avops:job:*")) == sorted(
        f"avops:job:{j}" for j in (running, failed)
    )


@hsettings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=10_000, allow_nan=False), min_size=1, max_size=30))
def test_stored_buckets_read_back_as_a_cumulative_histogram(durations):
    raw: dict[str, str] = {}
    for seconds in durations:
        record = {
            "engine": "f5tts",
            "mode": "speech",
            "status": "completed",
            "timings": {"inference_s": seconds},
        }
        for target, field, amount in jobmetrics.increments(record):
            if target == 2:
                raw[field] = (
                    str(float(raw.get(field, 0)) + float(amount))
                    if "." in amount
                    else str(int(raw.get(field, 0)) + int(amount))
                )
    histogram = jobmetrics.parse_stages(raw)[("f5tts", "inference")]
    buckets = histogram.cumulative()
    assert buckets[-1] == ("+Inf", len(durations))
    for le, count in buckets[:-1]:
        assert count == sum(1 for d in durations if d <= float(le)), (le, durations)
    assert histogram.sum == pytest.approx(sum(durations), rel=1e-6, abs=1e-4 * len(durations))


def test_metrics_disabled_means_no_route(make_stack):
    stack = make_stack(start_worker=False, METRICS_ENABLED="false")
    with stack.client() as c:
        wait_for(lambda: c.get("/health").status_code in (200, 503), 60, "the API")
        assert c.get("/metrics").status_code == 404


def test_a_job_the_reaper_fails_is_counted(store, tmp_path):
    from service.reaper import reap_overdue_jobs
    from service.voices import VoiceStore

    job_id = str(uuid.uuid4())
    store.create(job_id, mode="speech", engine="f5tts")
    store.mark_processing(job_id, deadline_ts=time.time() - 1)  # its worker never came back
    assert reap_overdue_jobs(store, VoiceStore(tmp_path), 1.0) == [job_id]
    assert jobmetrics.read(store.r)[0] == [(("f5tts", "speech", "failed"), 1)]


def test_a_scrape_while_redis_is_down_says_so_instead_of_failing(monkeypatch):
    from service import metrics

    closed = redis.Redis(
        host="127.0.0.1", port=free_port(), socket_connect_timeout=1, decode_responses=True
    )  # nothing listens there
    monkeypatch.setattr(metrics, "get_redis", lambda: closed)
    body, content_type = metrics.render(None)
    text = body.decode()
    assert content_type.startswith("text/plain")
    assert _sample(text, "avops_metrics_redis_up") == 0
    assert "avops_jobs_total" not in text and "avops_http_request_duration_seconds" in text
