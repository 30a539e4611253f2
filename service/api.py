"""Audio-voice HTTP API (FastAPI): the app factory, which only wires routers, handlers and the
start-up checks. Routes live in ``service/routes/<resource>.py``, dependencies in ``deps.py``.

This process never imports torch or the engines' model code: it validates requests,
stores uploads on the data volume, records jobs in Redis and sends Celery tasks by
name. Run: ``uvicorn service.api:app --host 0.0.0.0 --port 8005``.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import errorhandlers, metrics, reaper
from service.auth import RequestGuard
from service.jsonbody import StrictJsonRoute
from service.redis_conn import get_redis
from service.routes import admin, health, jobs, models, openai, voices
from service.settings import ServiceSettings, get_service_settings
from service.startup import StartupRefused, or_exit

logger = logging.getLogger("service.api")

ROUTERS = (health.router, voices.router, jobs.router, admin.router, models.router, openai.router)


def create_app() -> FastAPI:
    # redirect_slashes=False: "/voices/" is a 404 like any unknown URL, not a 307 whose Location
    # is built from the client's Host header.
    app = FastAPI(
        title="audio-voice",
        version="0.1.0",
        lifespan=_lifespan,
        redirect_slashes=False,
        description="Voice cloning and TTS jobs (F5-TTS, XTTS) on a Celery GPU worker; "
        "OpenAI-compatible speech under /v1.",
    )
    app.router.route_class = StrictJsonRoute  # JSON bodies: RFC 8259 and valid Unicode only
    errorhandlers.install(app)
    app.add_middleware(RequestGuard)
    metrics.install(app)  # /metrics, and its middleware outside the guard
    for router in ROUTERS:
        app.include_router(router)
    return app


@asynccontextmanager
async def _lifespan(_: FastAPI):
    _startup()
    yield


def _startup() -> None:
    # A refusal is one line and exit 2 (hard: inside the lifespan, SystemExit would be logged
    # with a traceback by Starlette). `python -m service.serve` checks the same before uvicorn.
    s = or_exit(get_service_settings, hard=True)
    logging.getLogger("service").setLevel(s.log_level.upper())
    or_exit(lambda: _check_auth_configured(s), hard=True)
    s.voices_dir.mkdir(parents=True, exist_ok=True)
    s.outputs_dir.mkdir(parents=True, exist_ok=True)
    reaper.start_once(s, get_redis())  # bounds every job and pending voice (JOB_DEADLINE_S)
    logger.info(
        "Starting Audio Voice Service API (data=%s, redis=%s)",
        s.data_dir,
        s.redis_url.split("@")[-1],
    )


def _check_auth_configured(s: ServiceSettings, announce: bool = True) -> None:
    """Refuse to start without a key (unless ALLOW_UNAUTHENTICATED); ``announce``: also log the
    key counts or the open-API banner (once: `python -m service.serve` checks up front without
    announcing, and the lifespan announces)."""
    if s.client_key_digests or s.admin_key_digests:
        if not announce:
            return
        logger.info(
            "authentication on: %d client key(s), %d admin key(s)",
            len(s.client_key_digests),
            len(s.admin_key_digests),
        )
        return
    if not s.allow_unauthenticated:
        message = (
            "refusing to start: no API key configured. Set API_KEYS and ADMIN_API_KEYS "
            'in .env (make a key: python -c "import secrets; '
            'print(secrets.token_urlsafe(32))"), or set ALLOW_UNAUTHENTICATED=true to '
            "run an open API on a trusted network"
        )
        raise StartupRefused(message)  # the caller prints it as one line and exits
    if not announce:
        return
    banner = "!" * 78
    for line in (
        banner,
        "ALLOW_UNAUTHENTICATED=true and no API key configured: the API is OPEN.",
        "Anyone who can reach this port can clone voices, submit jobs and use the GPU.",
        "Set API_KEYS / ADMIN_API_KEYS unless this runs on a trusted network only.",
        banner,
    ):
        logger.warning(line)
        print(f"WARNING: {line}", flush=True)


app = create_app()
