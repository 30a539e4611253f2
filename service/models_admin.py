"""``/admin/models``: what each worker holds, and load/unload commands through the broker.

Listing reads the stats every worker publishes to Redis (``service.vram_publish``: on every
load, swap, park, unload, expiry, after each task and on a heartbeat), so it costs no round trip
to a worker that may be busy with a long job. Commands go through Celery: ``control.ping`` (a
broadcast) finds the live workers, then one task per worker goes to that worker's own queue
(``worker_direct``); its pool child, where the models live, runs it between jobs. That is why a
command sent while a worker is synthesizing waits for the job to end.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Optional

import redis
from celery.exceptions import TimeoutError as CeleryTimeout

from engines.contracts import (
    ModelCommandResponse,
    ModelCommandResult,
    ModelInfo,
    ModelsResponse,
    ResidentModel,
    VramResponse,
    WorkerModels,
)
from engines.registry import ENGINE_NAMES
from service import vram_publish
from service.celery_app import TASK_MODEL_LOAD, TASK_MODEL_UNLOAD

PING_TIMEOUT_S = 1.0  # how long live workers get to answer the broadcast ping


class NoWorker(Exception):
    """No worker answered the ping: a command would wait in a queue nobody reads."""


def list_models(client: redis.Redis) -> ModelsResponse:
    return ModelsResponse(workers=[worker_models(r) for r in vram_publish.read_workers(client)])


def worker_models(report: VramResponse) -> WorkerModels:
    """One worker's published stats as the models view (absolute times from the publish time)."""
    published = time.time() - (report.age_seconds or 0.0)
    stats = report.vram
    assert stats is not None  # read_workers only returns published stats
    resident = {m.key: m for m in stats.resident_models}
    names = [*ENGINE_NAMES, *(k for k in resident if k not in ENGINE_NAMES)]
    return WorkerModels(
        worker=vram_publish.node_name(report.worker or "?"),
        age_seconds=report.age_seconds,
        device=stats.device,
        allocated_mb=stats.allocated_mb,
        reserved_mb=stats.reserved_mb,
        free_mb=stats.free_mb,
        total_mb=stats.total_mb,
        keep_alive_s=stats.keep_alive_s,
        keep_alive_max_s=stats.keep_alive_max_s,
        models=[_model_info(name, resident.get(name), published) for name in names],
    )


def _model_info(engine: str, model: Optional[ResidentModel], published: float) -> ModelInfo:
    if model is None:
        return ModelInfo(engine=engine, state="free")
    return ModelInfo(
        engine=engine,
        state=model.state or ("parked" if model.parked else "gpu"),
        device=model.device,
        size_mb=model.size_mb,
        in_use=model.in_use,
        last_used=_iso(published - model.last_used_s_ago),
        keep_alive_s=model.keep_alive_s,
        expires_at=None if model.expires_in_s is None else _iso(published + model.expires_in_s),
    )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def live_workers(celery_app: Any) -> list[str]:
    replies = celery_app.control.ping(timeout=PING_TIMEOUT_S) or []
    return sorted(node for reply in replies for node in reply)


def load(
    celery_app: Any, engine: str, keep_alive: Optional[float], wait_s: float
) -> ModelCommandResponse:
    results = _command(celery_app, TASK_MODEL_LOAD, [engine, keep_alive], engine, wait_s)
    return ModelCommandResponse(engine=engine, action="load", results=results)


def unload(celery_app: Any, engine: str, wait_s: float) -> ModelCommandResponse:
    results = _command(celery_app, TASK_MODEL_UNLOAD, [engine], engine, wait_s)
    return ModelCommandResponse(engine=engine, action="unload", results=results)


def _command(
    celery_app: Any, task: str, args: list, engine: str, wait_s: float
) -> list[ModelCommandResult]:
    from celery.utils import worker_direct

    workers = live_workers(celery_app)
    if not workers:
        raise NoWorker("no worker answered (is the worker running and connected to Redis?)")
    sent = {w: celery_app.send_task(task, args=args, queue=worker_direct(w)) for w in workers}
    deadline = time.monotonic() + wait_s
    return [_answer(w, r, engine, deadline, wait_s) for w, r in sent.items()]


def _answer(worker: str, result: Any, engine: str, deadline: float, wait_s: float):
    try:
        answer = result.get(timeout=max(0.1, deadline - time.monotonic()), propagate=False)
    except CeleryTimeout:
        return ModelCommandResult(
            worker=worker,
            engine=engine,
            ok=False,
            error=f"no answer within {wait_s:g} s (busy with a job? the command stays queued "
            "and runs after it)",
        )
    if not isinstance(answer, dict):  # the task raised: propagate=False hands back the exception
        return ModelCommandResult(worker=worker, engine=engine, ok=False, error=str(answer))
    return ModelCommandResult.model_validate(answer)
