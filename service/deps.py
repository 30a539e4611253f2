"""The API's dependencies as ``Annotated`` types, shared by every router (the FastAPI template's
``deps.py``): settings, the job and voice stores, the caller, and the submission quota."""

from __future__ import annotations

import logging
from typing import Annotated, Iterator, Optional

import redis
from fastapi import Depends, HTTPException

from service import backpressure, metrics
from service import jobs as jobstore
from service.auth import Principal, optional_principal, require_admin, require_client
from service.ratelimit import RateLimiter
from service.redis_conn import get_raw_redis, get_redis
from service.settings import ServiceSettings, get_service_settings
from service.settle import Settler, SettlingVoices
from service.voices import VoiceStore

logger = logging.getLogger("service.api")


def settings_dep() -> ServiceSettings:
    return get_service_settings()


SettingsDep = Annotated[ServiceSettings, Depends(settings_dep)]


def store_dep(settings: SettingsDep) -> jobstore.JobStore:
    return jobstore.JobStore(get_redis(), settings.job_ttl_seconds)


StoreDep = Annotated[jobstore.JobStore, Depends(store_dep)]


def settler(settings: ServiceSettings, store: jobstore.JobStore, voices: VoiceStore) -> Settler:
    return Settler(store, voices, get_raw_redis(), settings.outputs_dir)


def voices_dep(settings: SettingsDep, store: StoreDep) -> VoiceStore:
    """The voices as the API serves them: pending ones settled when read (service.settle)."""
    return SettlingVoices(settings.voices_dir, lambda plain: settler(settings, store, plain))


def settler_dep(settings: SettingsDep, store: StoreDep) -> Settler:
    return settler(settings, store, VoiceStore(settings.voices_dir))


VoicesDep = Annotated[VoiceStore, Depends(voices_dep)]
SettlerDep = Annotated[Settler, Depends(settler_dep)]
ClientDep = Annotated[Principal, Depends(require_client)]
AdminDep = Annotated[Principal, Depends(require_admin)]
OptionalPrincipalDep = Annotated[Optional[Principal], Depends(optional_principal)]

_limiter: Optional[RateLimiter] = None


def queue_room(settings: SettingsDep) -> None:
    """503 + Retry-After while the queue holds MAX_QUEUED_JOBS (service/backpressure.py)."""
    try:
        backpressure.check_room(get_redis(), settings.max_queued_jobs)
    except backpressure.QueueFull as exc:
        metrics.QUEUE_FULL.labels(exc.queue).inc()
        raise
    except redis.exceptions.RedisError as exc:  # the queue cannot be read: it cannot take work
        raise jobstore.QueueUnavailable(exc) from exc


def submission_quota(
    principal: ClientDep, settings: SettingsDep, _room: Annotated[None, Depends(queue_room)]
) -> Iterator[Principal]:
    """One token of the caller's bucket per accepted job, clone or speech request; empty: 429.

    The token is taken before the request is handled (atomically in Redis, so concurrent
    requests cannot overdraw the bucket) and given back when the request fails in any way:
    bad JSON, a rejected field, an unknown voice, a non-audio upload, Redis down. Only
    accepted work counts; a full queue (``queue_room``) refuses before a token is taken."""
    global _limiter
    if settings.rate_limit_per_minute <= 0:
        yield principal
        return
    if _limiter is None:
        _limiter = RateLimiter(
            get_redis(), settings.rate_limit_per_minute, settings.rate_limit_burst
        )
    decision = _limiter.hit(principal.key_id)
    if not decision.allowed:
        metrics.RATE_LIMITED.inc()
        raise HTTPException(
            429,
            f"rate limit: at most {settings.rate_limit_per_minute:g} "
            f"submissions per minute per key (burst {settings.rate_limit_burst}); "
            f"retry in {decision.retry_after_header} s",
            headers={"Retry-After": decision.retry_after_header},
        )
    try:
        yield principal
    except Exception:
        _refund(principal)
        raise


def _refund(principal: Principal) -> None:
    assert _limiter is not None  # set before any token was taken
    try:
        _limiter.refund(principal.key_id)
    except redis.exceptions.RedisError as exc:  # the request's own error is the one to report
        logger.warning("rate limit: could not refund a token of key %s: %s", principal.key_id, exc)


QuotaDep = Annotated[Principal, Depends(submission_quota)]
