"""Audio-voice HTTP API (FastAPI): voices, jobs, audio download, health and VRAM stats.

This process never imports torch or the engines' model code: it validates requests,
stores uploads on the data volume, records jobs in Redis and sends Celery tasks by
name. Run: ``uvicorn service.api:app --host 0.0.0.0 --port 8005``.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Iterator, Optional

import redis
from fastapi import Depends, FastAPI, File, Form, HTTPException, Path as PathParam, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from service import jobs as jobstore
from service import reaper
from service import vram_publish
from service.audio_validation import AudioRejected, sniff
from service.auth import (Principal, RequestGuard, optional_principal, require_admin,
                          require_client)
from service.celery_app import TASK_CLONE, TASK_SYNTHESIZE
from service.errors import Rejected
from service.jsonbody import StrictJsonRoute
from service.ratelimit import RateLimiter
from service.redis_conn import get_redis
from service.schemas import (ErrorResponse, HealthCheck, HealthResponse, JobAccepted, JobCreate,
                             JobInfo, JobMode, JobStatus, VoiceCloneAccepted, VoiceInfo,
                             VoiceList, VramResponse)
from service.settings import ServiceSettings, get_service_settings
from service.startup import StartupRefused, or_exit
from service.storage import NO_SPACE_MESSAGE, is_no_space, no_space_as_storage_full
from service.validation import (MAX_REF_TEXT_CHARS, MAX_VOICE_NAME_CHARS, RequestRejected,
                                check_language, check_ref_text, check_voice_name, resolve_job)
from service.voices import VoiceStore
from service.voices import to_info as voice_info

logger = logging.getLogger("service.api")

UPLOAD_CHUNK = 1 << 20
ERRORS = {code: {"model": ErrorResponse}
          for code in (400, 401, 403, 404, 409, 413, 415, 422, 429, 503, 507)}
ERRORS[401]["description"] = "Missing or invalid API key (`WWW-Authenticate: Bearer`)"
ERRORS[403]["description"] = "Valid API key, but not an admin key"
ERRORS[429]["description"] = "Per-key submission rate exceeded; see `Retry-After` (seconds)"
ERRORS[507]["description"] = "The data volume is full; nothing of the upload was kept"
AUTH = (401, 413, 422)  # every protected route: the guard answers 401/413 before it runs
FORM_FIELDS = frozenset({"audio", "language", "voice_name", "ref_text"})


def _err(*codes: int) -> dict:
    return {c: ERRORS[c] for c in (*AUTH, *codes)}


def _id_param(what: str):
    # Validated in the handlers (anything but a generated UUID is a 404, never a path); the
    # schema says what ids look like.
    return PathParam(..., description=f"A {what} id as returned by the API (a UUID).",
                     json_schema_extra={"format": "uuid"})


def settings_dep() -> ServiceSettings:
    return get_service_settings()


def store_dep(settings: ServiceSettings = Depends(settings_dep)) -> jobstore.JobStore:
    return jobstore.JobStore(get_redis(), settings.job_ttl_seconds)


def voices_dep(settings: ServiceSettings = Depends(settings_dep)) -> VoiceStore:
    return VoiceStore(settings.voices_dir)


def create_app() -> FastAPI:
    # redirect_slashes=False: "/voices/" is a 404 like any unknown URL, not a 307 whose Location
    # is built from the client's Host header.
    app = FastAPI(title="audio-voice", version="0.1.0", lifespan=_lifespan, redirect_slashes=False,
                  description="Voice cloning and TTS jobs (F5-TTS, XTTS) on a Celery GPU worker.")
    app.router.route_class = StrictJsonRoute  # JSON bodies: RFC 8259 and valid Unicode only
    _install_error_handlers(app)
    app.add_middleware(RequestGuard)
    app.add_api_route("/health", health, methods=["GET"], response_model=HealthResponse,
                      tags=["Health"], responses={503: {"model": HealthResponse}},
                      summary="Liveness and readiness (Redis, worker heartbeat, storage)",
                      description="Open to all (container healthchecks). The per-check details "
                                  "are shown to admin keys only.")
    client = [Depends(require_client)]
    app.add_api_route("/voices/clone", clone_voice, methods=["POST"], status_code=202,
                      response_model=VoiceCloneAccepted, tags=["Voices"], dependencies=client,
                      responses=_err(400, 413, 415, 422, 429, 503, 507),
                      summary="Upload a reference voice")
    app.add_api_route("/voices", list_voices, methods=["GET"], response_model=VoiceList,
                      tags=["Voices"], dependencies=client, responses=_err(),
                      summary="List voices")
    app.add_api_route("/voices/{voice_id}", get_voice, methods=["GET"], response_model=VoiceInfo,
                      tags=["Voices"], dependencies=client, responses=_err(404),
                      summary="One voice")
    app.add_api_route("/voices/{voice_id}", delete_voice, methods=["DELETE"], status_code=204,
                      tags=["Voices"], dependencies=client, responses=_err(404),
                      summary="Delete a voice and its audio")
    app.add_api_route("/jobs", create_job, methods=["POST"], status_code=202,
                      response_model=JobAccepted, tags=["Jobs"], dependencies=client,
                      responses=_err(400, 404, 409, 422, 429, 503),
                      summary="Submit a synthesis job")
    app.add_api_route("/jobs/{job_id}", get_job, methods=["GET"], response_model=JobInfo,
                      tags=["Jobs"], dependencies=client, responses=_err(404, 503),
                      summary="Job status, error, timings, engine and device")
    app.add_api_route("/jobs/{job_id}/audio", get_job_audio, methods=["GET"], tags=["Jobs"],
                      dependencies=client, response_class=FileResponse,
                      responses={200: {"content": {"audio/wav": {}},
                                       "description": "The synthesized WAV"}, **_err(404, 409)},
                      summary="Download the result WAV")
    app.add_api_route("/admin/vram", get_vram, methods=["GET"], response_model=VramResponse,
                      tags=["Admin"], dependencies=[Depends(require_admin)],
                      responses=_err(403, 503), summary="VRAM stats published by the worker")
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
    logger.info("Starting Audio Voice Service API (data=%s, redis=%s)", s.data_dir,
                s.redis_url.split("@")[-1])


def _check_auth_configured(s: ServiceSettings) -> None:
    if s.client_key_digests or s.admin_key_digests:
        logger.info("authentication on: %d client key(s), %d admin key(s)",
                    len(s.client_key_digests), len(s.admin_key_digests))
        return
    if not s.allow_unauthenticated:
        message = ("refusing to start: no API key configured. Set API_KEYS and ADMIN_API_KEYS "
                   "in .env (make a key: python -c \"import secrets; "
                   "print(secrets.token_urlsafe(32))\"), or set ALLOW_UNAUTHENTICATED=true to "
                   "run an open API on a trusted network")
        raise StartupRefused(message)  # the caller prints it as one line and exits
    banner = "!" * 78
    for line in (banner, "ALLOW_UNAUTHENTICATED=true and no API key configured: the API is OPEN.",
                 "Anyone who can reach this port can clone voices, submit jobs and use the GPU.",
                 "Set API_KEYS / ADMIN_API_KEYS unless this runs on a trusted network only.",
                 banner):
        logger.warning(line)
        print(f"WARNING: {line}", flush=True)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Rejected)
    async def _rejected(_: Request, exc: Rejected) -> JSONResponse:
        return error_response(str(exc), exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (204, 304):  # no body allowed
            return Response(status_code=exc.status_code, headers=exc.headers)
        return error_response(exc.detail, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # One readable line ("text: Field required; ...") plus pydantic's structured errors.
        errors = validation_errors(exc)
        return error_response("; ".join(f"{e['field']}: {e['msg']}" for e in errors), 422,
                              errors=errors)

    @app.exception_handler(redis.exceptions.ConnectionError)
    @app.exception_handler(redis.exceptions.TimeoutError)
    async def _redis_down(_: Request, exc: Exception) -> JSONResponse:
        return error_response(f"job store (Redis) unavailable: {exc}", 503)


def _printable(value: object) -> str:
    # An error must always encode: text that is not valid Unicode (a lone surrogate from a
    # JSON escape) is shown escaped instead of failing the response with a 500.
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def error_response(detail: str, status: int, headers: Optional[dict] = None,
                   **extra: object) -> JSONResponse:
    shown = _printable(detail) if isinstance(detail, str) else detail
    return JSONResponse({"detail": shown, **extra}, status_code=status, headers=headers)


def validation_errors(exc: RequestValidationError) -> list[dict]:
    """pydantic's errors without ``input`` and ``ctx``: they hold the request's own values
    (NaN, undecodable text, a whole upload), which need not be JSON-encodable and are not
    echoed back. A body that is not JSON says why (``ctx.error``)."""
    errors = []
    for e in exc.errors():
        loc = [_printable(x) for x in e.get("loc", ()) if x != "body"]
        msg = e.get("msg", "invalid")
        if e.get("type") == "json_invalid":
            loc, msg = [], f"not valid JSON: {(e.get('ctx') or {}).get('error', msg)}"
        errors.append({"loc": loc, "field": ".".join(loc) or "body", "msg": _printable(msg),
                       "type": _printable(e.get("type", ""))})
    return errors


# --------------------------------------------------------------------------- rate limit
_limiter: Optional[RateLimiter] = None


def submission_quota(principal: Principal = Depends(require_client),
                     settings: ServiceSettings = Depends(settings_dep)) -> Iterator[Principal]:
    """One token of the caller's bucket per accepted job or clone; empty bucket: 429.

    The token is taken before the request is handled (atomically in Redis, so concurrent
    requests cannot overdraw the bucket) and given back when the request fails in any way:
    bad JSON, a rejected field, an unknown voice, a non-audio upload, Redis down. Only
    accepted work counts."""
    global _limiter
    if settings.rate_limit_per_minute <= 0:
        yield principal
        return
    if _limiter is None:
        _limiter = RateLimiter(get_redis(), settings.rate_limit_per_minute,
                               settings.rate_limit_burst)
    decision = _limiter.hit(principal.key_id)
    if not decision.allowed:
        raise HTTPException(429, f"rate limit: at most {settings.rate_limit_per_minute:g} "
                            f"submissions per minute per key (burst {settings.rate_limit_burst}); "
                            f"retry in {decision.retry_after_header} s",
                            headers={"Retry-After": decision.retry_after_header})
    try:
        yield principal
    except Exception:
        _refund(principal)
        raise


def _refund(principal: Principal) -> None:
    try:
        _limiter.refund(principal.key_id)
    except redis.exceptions.RedisError as exc:  # the request's own error is the one to report
        logger.warning("rate limit: could not refund a token of key %s: %s", principal.key_id, exc)


# --------------------------------------------------------------------------- health
def health(settings: ServiceSettings = Depends(settings_dep),
           principal: Optional[Principal] = Depends(optional_principal)) -> JSONResponse:
    checks = {"redis": _check_redis(), "worker": _check_worker(settings),
              "storage": _check_storage(settings.data_dir)}
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
    return HealthCheck(ok=ok, detail=f"{state}: {latest.get('worker')} last heartbeat {age:.1f} s "
                                     f"ago (limit {settings.worker_stale_s:.0f} s)")


def _check_storage(data_dir: Path) -> HealthCheck:
    probe = data_dir / f".health-{uuid.uuid4().hex}"
    try:
        probe.write_bytes(b"ok")
        return HealthCheck(ok=True, detail=f"{data_dir} writable")
    except OSError as exc:
        return HealthCheck(ok=False, detail=f"{data_dir} not writable: "
                                            f"{NO_SPACE_MESSAGE if is_no_space(exc) else exc}")
    finally:
        probe.unlink(missing_ok=True)  # also when the write failed half-way (a full disk)


# --------------------------------------------------------------------------- voices
async def no_unknown_form_fields(request: Request) -> None:
    """Unknown form fields are an error (422), like unknown JSON fields."""
    form = await request.form()  # already parsed for this request: cached, not read twice
    unknown = sorted(set(form.keys()) - FORM_FIELDS)
    if unknown:
        raise RequestRejected(f"{', '.join(unknown)}: unknown field(s); accepted: "
                              f"{', '.join(sorted(FORM_FIELDS))}")


def clone_voice(audio: UploadFile = File(..., description="Reference speech: WAV, FLAC or OGG."),
                language: str = Form(..., max_length=35,
                                     description="Language of the reference, e.g. pt-BR."),
                voice_name: str = Form(..., min_length=1, max_length=MAX_VOICE_NAME_CHARS,
                                       description="One line, no control characters; stripped."),
                ref_text: Optional[str] = Form(None, max_length=MAX_REF_TEXT_CHARS, description=(
                    "Transcript of the reference; required to use the voice with F5-TTS.")),
                settings: ServiceSettings = Depends(settings_dep),
                store: jobstore.JobStore = Depends(store_dep),
                voices: VoiceStore = Depends(voices_dep),
                principal: Principal = Depends(submission_quota),
                _fields: None = Depends(no_unknown_form_fields)) -> VoiceCloneAccepted:
    """Store the upload and queue its validation; the voice is usable once `ready`. The voice
    and its clone job belong to the calling key."""
    language = check_language(language, settings)
    voice_name, ref_text = check_voice_name(voice_name), check_ref_text(ref_text)
    with no_space_as_storage_full():  # full data volume: 507, nothing partial left behind
        tmp = voices.incoming_path()
        try:
            _stream_capped(audio, tmp, settings.max_upload_bytes)
            info = sniff(tmp, settings.min_reference_seconds, settings.max_reference_seconds)
            job_id = jobstore.new_id()
            meta = voices.create(voice_name, language, ref_text, tmp,
                                 info.ext, job_id, {"duration_s": info.duration_s,
                                                    "sample_rate": info.sample_rate},
                                 owner=principal.owner)
        finally:
            tmp.unlink(missing_ok=True)
    try:
        jobstore.enqueue(store, TASK_CLONE, job_id, mode=JobMode.clone.value,
                         voice_id=meta["voice_id"], language=language, owner=principal.owner)
    except Exception:
        voices.delete(meta["voice_id"])  # never a stored voice that no job will validate
        raise
    logger.info("voice %s (%s, %.1f s %s) queued for validation as job %s", meta["voice_id"],
                language, info.duration_s, info.ext, job_id)
    return VoiceCloneAccepted(voice_id=meta["voice_id"], job_id=job_id,
                              status_url=f"/voices/{meta['voice_id']}")


def _stream_capped(upload: UploadFile, dest: Path, cap: int) -> int:
    """Copy the upload to ``dest`` in 1 MiB chunks, never holding it whole in memory; past
    ``cap`` bytes stop at once with 413."""
    size = 0
    with open(dest, "xb") as out:
        while chunk := upload.file.read(UPLOAD_CHUNK):
            size += len(chunk)
            if size > cap:
                raise AudioRejected(f"audio: upload exceeds {cap / 2**20:.1f} MB (MAX_UPLOAD_MB)",
                                    413)
            out.write(chunk)
    return size


def list_voices(voices: VoiceStore = Depends(voices_dep),
                principal: Principal = Depends(require_client)) -> VoiceList:
    return VoiceList(voices=[voice_info(m) for m in voices.list()
                             if principal.may_see(m.get("owner"))])


def _voice_or_404(voices: VoiceStore, voice_id: str, principal: Principal) -> dict:
    # Another key's voice answers exactly like a voice that does not exist: ids leak nothing.
    meta = voices.get(voice_id)
    if meta is None or not principal.may_see(meta.get("owner")):
        raise HTTPException(404, f"voice_id: no voice {voice_id!r}")
    return meta


def get_voice(voice_id: str = _id_param("voice"), voices: VoiceStore = Depends(voices_dep),
              principal: Principal = Depends(require_client)) -> VoiceInfo:
    return voice_info(_voice_or_404(voices, voice_id, principal))


def delete_voice(voice_id: str = _id_param("voice"), voices: VoiceStore = Depends(voices_dep),
                 principal: Principal = Depends(require_client)) -> None:
    _voice_or_404(voices, voice_id, principal)
    if not voices.delete(voice_id):
        raise HTTPException(404, f"voice_id: no voice {voice_id!r}")


# --------------------------------------------------------------------------- jobs
def create_job(req: JobCreate, settings: ServiceSettings = Depends(settings_dep),
               store: jobstore.JobStore = Depends(store_dep),
               voices: VoiceStore = Depends(voices_dep),
               principal: Principal = Depends(submission_quota)) -> JobAccepted:
    job = resolve_job(req, settings, voices, principal)
    job_id = jobstore.new_id()
    # Record and send as one step: a task that cannot be sent leaves no job waiting `queued`.
    jobstore.enqueue(store, TASK_SYNTHESIZE, job_id, mode=req.mode.value, text=job.text,
                     text_chars=len(job.text), language=job.language, voice_id=job.voice_id,
                     engine=job.engine, quality_profile=job.quality_profile,
                     owner=principal.owner)
    return JobAccepted(job_id=job_id, status=JobStatus.queued, status_url=f"/jobs/{job_id}")


def _job_or_404(store: jobstore.JobStore, job_id: str, principal: Principal) -> dict:
    record = store.get(job_id) if _plausible_id(job_id) else None
    if record is None or not principal.may_see(record.get("owner")):  # others': like unknown
        raise HTTPException(404, f"job_id: no job {job_id!r} (unknown or expired)")
    return record


def _plausible_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def get_job(job_id: str = _id_param("job"), store: jobstore.JobStore = Depends(store_dep),
            principal: Principal = Depends(require_client)) -> JobInfo:
    return jobstore.to_info(_job_or_404(store, job_id, principal))


def get_job_audio(job_id: str = _id_param("job"), settings: ServiceSettings = Depends(settings_dep),
                  store: jobstore.JobStore = Depends(store_dep),
                  principal: Principal = Depends(require_client)) -> FileResponse:
    record = _job_or_404(store, job_id, principal)
    if record["status"] != JobStatus.completed.value or not record.get("output_file"):
        raise HTTPException(409, f"job {job_id} is {record['status']}: no audio"
                            + (f" ({record['error']})" if record.get("error") else ""))
    path = settings.outputs_dir / f"{job_id}.wav"
    if not path.is_file():
        raise HTTPException(404, f"job {job_id}: audio file no longer on the data volume")
    return FileResponse(path, media_type="audio/wav", filename=f"{job_id}.wav")


# --------------------------------------------------------------------------- admin
def get_vram() -> VramResponse:
    latest = vram_publish.read_latest(get_redis())
    if latest is None:
        return VramResponse()  # no worker has started yet: every field null
    return VramResponse(**latest)


app = create_app()
