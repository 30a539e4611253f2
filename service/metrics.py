"""Prometheus metrics of the API process, and the worker-side figures it renders at scrape time.

* HTTP: ``avops_http_request_duration_seconds{method,route,status}``, a histogram whose
  ``_count`` is the request counter. ``route`` is the route's template (``/jobs/{job_id}``),
  never the raw path, so ids cannot multiply the series; a path no route serves is
  ``unmatched``. Measured by an ASGI middleware outside the key guard (its 401s count too),
  to the response's last byte (a streamed speech response: until its audio ends).
* Counters this process raises: rate-limit (429) and queue-full (503) rejections.
* Read from Redis at each scrape by ``RedisFigures`` (a custom collector, so no worker needs
  a port of its own; why: ``service.jobmetrics``): jobs by engine, mode and final status;
  stage histograms; queue depth; VRAM used/reserved, resident models and the VRAM manager's
  counters of the worker that last published; the age of its heartbeat.

One API process is one target: counters held in this process are per process (Prometheus's
``instance`` label tells replicas apart); the Redis figures are global, so with several API
replicas aggregate them with ``max`` rather than ``sum``.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Iterable, Optional

import redis
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.routing import compile_path

from engines.contracts import COUNTERS, VramResponse
from service import backpressure, jobmetrics, vram_publish
from service.redis_conn import get_redis

logger = logging.getLogger("service.metrics")

MIB = 2**20
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: a cached GET (ms) to a long streamed speech request.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

# No `_created` series: Prometheus's text format does not use them, and they double the output.
disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=False)
for _standard in (ProcessCollector, PlatformCollector, GCCollector):
    _standard(registry=REGISTRY)  # process CPU, memory, fds; Python version; GC

HTTP_SECONDS = Histogram(
    "avops_http_request_duration_seconds",
    "HTTP requests by method, route template and status: time to the "
    "response's last byte (_count: the requests)",
    ("method", "route", "status"),
    buckets=HTTP_BUCKETS,
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "avops_rate_limit_rejections",
    "Submissions refused with 429 by the per-key rate limit",
    registry=REGISTRY,
)
QUEUE_FULL = Counter(
    "avops_queue_full_rejections",
    "Submissions refused with 503 because the queue held MAX_QUEUED_JOBS",
    ("queue",),
    registry=REGISTRY,
)


# --------------------------------------------------------------------------- HTTP middleware
class RouteTemplates:
    """The template of a request the router never saw (refused by the key guard first): the
    paths of the OpenAPI schema, matched lazily, and only for such requests."""

    def __init__(self, app) -> None:
        self.app = app
        self._compiled: Optional[list[tuple[re.Pattern, str]]] = None

    def find(self, path: str) -> str:
        if self._compiled is None:
            self._compiled = [
                (compile_path(template)[0], template)
                for template in self.app.openapi().get("paths", {})
            ]
        for pattern, template in self._compiled:
            if pattern.match(path):
                return template
        return UNMATCHED


class HttpMetrics:
    """ASGI middleware: one histogram observation per HTTP request."""

    def __init__(self, app, templates: RouteTemplates) -> None:
        self.app = app
        self.templates = templates
        self._series: dict[tuple[str, str, int], Any] = {}  # labels() is slower than a dict

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception escaping the app: ServerErrorMiddleware answers 500

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self._series_for(scope, status).observe(time.perf_counter() - start)

    def _series_for(self, scope, status: int):
        route = scope.get("route")
        template = getattr(route, "path", None) or self.templates.find(scope.get("path", ""))
        method = scope.get("method", "")
        key = (method if method in METHODS else "other", template, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = HTTP_SECONDS.labels(key[0], key[1], str(status))
        return series


# --------------------------------------------------------------------------- Redis figures
class RedisFigures(Collector):
    """Renders what the workers and the API keep in Redis, read when Prometheus scrapes."""

    def describe(self) -> Iterable[Metric]:
        return []  # no Redis read when the collector is registered

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "avops_metrics_redis_up", "1 if this scrape could read the figures kept in Redis"
        )
        try:
            client = get_redis()
            jobs, stages = jobmetrics.read(client)
            depths = backpressure.queue_depths(client)
            reports = vram_publish.read_workers(client)
        except (redis.exceptions.RedisError, ValueError) as exc:  # a scrape never fails
            logger.warning("metrics: Redis figures unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _job_families(jobs, stages)
        queue = GaugeMetricFamily(
            "avops_queue_depth", "Jobs waiting in the broker queue", labels=["queue"]
        )
        for name, depth in depths.items():
            queue.add_metric([name], depth)
        yield queue
        yield from _worker_families(reports)


def _job_families(jobs, stages) -> Iterable[Metric]:
    counted = CounterMetricFamily(
        "avops_jobs", "Jobs that reached a final status", labels=["engine", "mode", "status"]
    )
    for labels, count in jobs:
        counted.add_metric(list(labels), count)
    yield counted
    seconds = HistogramMetricFamily(
        "avops_job_stage_seconds",
        "Stage durations of completed jobs (queue_wait, voice_prep, "
        "model_load, inference, write, first_audio, total)",
        labels=["engine", "stage"],
    )
    for (engine, stage), histogram in stages.items():
        seconds.add_metric([engine, stage], histogram.cumulative(), histogram.sum)
    yield seconds


def worker_label(worker: Optional[str]) -> str:
    """A worker's node name without its pool child's pid: a restarted child keeps its series."""
    return vram_publish.node_name(worker or "unknown")


def _worker_families(reports: list[VramResponse]) -> Iterable[Metric]:
    """Each family once, with one series per worker (a family yielded twice would be a
    duplicate in the exposition)."""
    workers = [
        (worker_label(r.worker), r.vram, r.age_seconds or 0.0)
        for r in reports
        if r.vram is not None
    ]
    memory = {
        "allocated": ("VRAM held by tensors", "allocated_mb"),
        "reserved": ("VRAM reserved by the CUDA caching allocator", "reserved_mb"),
        "total": ("VRAM of the worker's GPU", "total_mb"),
        "free": ("free VRAM the driver reports", "free_mb"),
    }
    for kind, (doc, field) in memory.items():
        family = GaugeMetricFamily(
            f"avops_vram_{kind}_bytes",
            f"{doc} (worker's last report)",
            labels=["worker", "device"],
        )
        for worker, stats, _ in workers:
            if getattr(stats, field) is not None:
                family.add_metric([worker, stats.device], getattr(stats, field) * MIB)
        yield family
    resident = GaugeMetricFamily(
        "avops_resident_models", "Models the worker's VRAM manager holds", labels=["worker"]
    )
    sizes = GaugeMetricFamily(
        "avops_model_resident_bytes",
        "Size of each held model, where it is (device cpu: parked in RAM)",
        labels=["worker", "engine", "device"],
    )
    keep_alive = GaugeMetricFamily(
        "avops_model_keep_alive_seconds",
        "MODEL_KEEP_ALIVE in force in the worker (-1: forever, 0: leaves after each job)",
        labels=["worker"],
    )
    events = CounterMetricFamily(
        "avops_model_events",
        "The VRAM manager's counters since the worker child started (loads, unloads, evictions, "
        "keep-alive expiries...)",
        labels=["worker", "event"],
    )
    age = GaugeMetricFamily(
        "avops_worker_heartbeat_age_seconds",
        "Seconds since the worker last published its stats (heartbeat)",
        labels=["worker"],
    )
    for worker, stats, age_s in workers:
        resident.add_metric([worker], len(stats.resident_models))
        for model in stats.resident_models:
            sizes.add_metric([worker, model.key, model.device], model.size_mb * MIB)
        if stats.keep_alive_s is not None:
            keep_alive.add_metric([worker], stats.keep_alive_s)
        for event in COUNTERS:
            events.add_metric([worker, event], getattr(stats, event))
        age.add_metric([worker], age_s)
    yield from (resident, sizes, keep_alive, events, age)


REGISTRY.register(RedisFigures())


def render(accept: Optional[str]) -> tuple[bytes, str]:
    """The exposition in the format the scraper asked for (text, or OpenMetrics): body, type."""
    from prometheus_client.exposition import choose_encoder

    encoder, content_type = choose_encoder(accept or "")
    return encoder(REGISTRY), content_type


def install(app) -> None:
    """Wire /metrics and the HTTP middleware into the app (METRICS_ENABLED). Called after the
    key guard is added, so this middleware is outside it and counts its refusals too."""
    from service.routes import metrics as metrics_route
    from service.settings import get_service_settings
    from service.startup import or_exit

    if not or_exit(get_service_settings).metrics_enabled:
        return
    app.add_middleware(HttpMetrics, templates=RouteTemplates(app))
    app.include_router(metrics_route.router)
