"""``GET /health``: liveness and readiness, open to all; details for admin keys."""

from __future__ import annotations

import uuid
from pathlib import Path

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from engines.contracts import HealthStatus
from service import backpressure, vram_publish
from service.deps import OptionalPrincipalDep, SettingsDep
from service.jsonbody import StrictJsonRoute
from service.redis_conn import get_redis
from service.schemas import HealthCheck, HealthResponse
from service.settings import ServiceSettings
from service.storage import NO_SPACE_MESSAGE, is_no_space

router = APIRouter(route_class=StrictJsonRoute, tags=["Health"])


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse}},
    summary="Liveness and readiness (Redis, worker heartbeat, storage)",
    description="Open to all (container healthchecks). The per-check details are shown "
    "to admin keys only.",
)
def health(settings: SettingsDep, principal: OptionalPrincipalDep) -> JSONResponse:
    status: HealthStatus
    checks = {
        "redis": _check_redis(),
        "worker": _check_worker(settings),
        "storage": _check_storage(settings.data_dir),
        "queue": backpressure.health_check(get_redis(), settings.max_queued_jobs),
    }
    if not (checks["redis"].ok and checks["storage"].ok):
        status, code = "unhealthy", 503
    else:  # no worker: jobs still queue, so the API itself is healthy
        status, code = ("ok" if checks["worker"].ok else "degraded"), 200
    # Details (worker node, paths, Redis errors) only for admin keys; the status for everyone.
    body = HealthResponse(status=status, checks=checks if principal and principal.admin else None)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=code)


def _check_redis() -> HealthCheck:
    try:
        get_redis().ping()
        return HealthCheck(ok=True, detail="PONG")
    except redis.exceptions.RedisError as exc:
        return HealthCheck(ok=False, detail=f"unreachable: {exc}")


def _check_worker(settings: ServiceSettings) -> HealthCheck:
    try:
        latest = vram_publish.read_latest(get_redis())
    except redis.exceptions.RedisError:
        return HealthCheck(ok=False, detail="unknown (Redis unreachable)")
    if latest is None:
        return HealthCheck(ok=False, detail="no worker has published a heartbeat yet")
    age = latest["age_seconds"]
    ok = age <= settings.worker_stale_s
    state = "alive" if ok else "stale"
    return HealthCheck(
        ok=ok,
        detail=f"{state}: {latest.get('worker')} last heartbeat {age:.1f} s "
        f"ago (limit {settings.worker_stale_s:.0f} s)",
    )


def _check_storage(data_dir: Path) -> HealthCheck:
    probe = data_dir / f".health-{uuid.uuid4().hex}"
    try:
        probe.write_bytes(b"ok")
        return HealthCheck(ok=True, detail=f"{data_dir} writable")
    except OSError as exc:
        return HealthCheck(
            ok=False,
            detail=f"{data_dir} not writable: {NO_SPACE_MESSAGE if is_no_space(exc) else exc}",
        )
    finally:
        probe.unlink(missing_ok=True)  # also when the write failed half-way (a full disk)
