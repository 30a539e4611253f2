"""OpenAI-compatible routes: ``POST /v1/audio/speech`` (streamed), ``GET /v1/audio/voices``,
``GET /v1/models``. Same keys, ownership and rate limits as the rest of the API; errors in
OpenAI's shape (``service.errorhandlers``), so the OpenAI SDKs raise their typed exceptions."""

from __future__ import annotations

import time
from typing import Optional

from fastapi import APIRouter, Depends, Response
from starlette.concurrency import run_in_threadpool

from engines.registry import engines_for_voice
from service import jobs as jobstore
from service import references
from service.auth import Principal, require_client
from service.deps import ClientDep, QuotaDep, SettingsDep, StoreDep, VoicesDep
from service.encoders import StreamEncoder
from service.errors import Rejected
from service.jsonbody import StrictJsonRoute
from service.openai_schemas import (
    MODELS,
    OPENAI_VOICES,
    ModelEntry,
    ModelListResponse,
    SpeechRequest,
    StreamFormat,
    VoiceEntry,
    VoiceListResponse,
    VoiceRef,
)
from service.redis_conn import get_raw_redis
from service.routes.responses import openai_errors
from service.schemas import JobCreate, JobMode, RequestMode, VoiceStatus
from service.settings import ServiceSettings
from service.speechrelay import RelayResponse, SpeechRelay
from service.validation import may_use_voice, resolve_job
from service.voices import VoiceStore, valid_id

router = APIRouter(
    prefix="/v1",
    tags=["OpenAI-compatible"],
    route_class=StrictJsonRoute,
    dependencies=[Depends(require_client)],
)

STARTED = int(time.time())  # /v1/models `created`: the models exist since this API started


@router.post(
    "/audio/speech",
    response_class=RelayResponse,
    responses={
        200: {
            "content": {"audio/mpeg": {}, "text/event-stream": {}},
            "description": "Audio, sent segment by segment as it is made",
        },
        **openai_errors(404, 409, 429, 503),
    },
    summary="Text to speech with a cloned voice (OpenAI's speech API)",
)
async def create_speech(
    req: SpeechRequest,
    settings: SettingsDep,
    store: StoreDep,
    voices: VoicesDep,
    principal: QuotaDep,
) -> Response:
    # Files and Redis: off the event loop, like the sync routes.
    job_id, text_chars = await run_in_threadpool(_submit, req, settings, store, voices, principal)
    encoder = StreamEncoder(req.response_format.value)
    sse = req.stream_format == StreamFormat.sse
    relay = SpeechRelay(store, job_id, settings, encoder, sse, text_chars)
    try:
        first = await relay.first_audio()  # the status is decided here, before any byte
    except BaseException:
        relay.cancel_unstarted()
        raise
    headers = {"x-job-id": job_id, "Cache-Control": "no-store"}
    return RelayResponse(
        relay.body(first),
        headers=headers,
        media_type="text/event-stream" if sse else encoder.content_type,
    )


def _submit(
    req: SpeechRequest,
    settings: ServiceSettings,
    store: jobstore.JobStore,
    voices: VoiceStore,
    principal: Principal,
) -> tuple[str, int]:
    job = resolve_job(_as_job(req, settings, voices, principal), settings, voices, principal)
    reference = references.for_job(get_raw_redis(), voices, job.voice_id, settings.reference_ttl_s)
    job_id = jobstore.enqueue_synthesis(
        store,
        job,
        JobMode.speech.value,
        principal.owner,
        speed=req.speed,
        response_format=req.response_format.value,
        keep_alive=req.keep_alive,
        **reference,
    )
    return job_id, len(job.text)


def _as_job(
    req: SpeechRequest, settings: ServiceSettings, voices: VoiceStore, principal: Principal
) -> JobCreate:
    engine, tier = _model(req.model)
    voice_id = _resolve_voice(req.voice, voices, principal, settings)
    meta = voices.get(voice_id)
    language = req.language or (meta or {}).get("language") or "en"
    profile = req.quality_profile
    if profile is None and tier is not None:
        profile = f"{engine or settings.default_engine}_{tier}"
    return JobCreate(
        mode=RequestMode.dubbing_with_clone,
        text=req.input,
        language=language,
        voice_id=voice_id,
        engine=engine,
        quality_profile=profile,
    )


def _model(name: str) -> tuple[Optional[str], Optional[str]]:
    if name not in MODELS:
        raise Rejected(
            f"model: unknown model {name!r}; accepted: {', '.join(MODELS)}",
            400,
            param="model",
            code="model_not_found",
        )
    return MODELS[name]


def _resolve_voice(
    voice: str | VoiceRef, voices: VoiceStore, principal: Principal, settings: ServiceSettings
) -> str:
    """A voice id, else a name among the caller's voices, else an operator alias."""
    wanted = (voice.id if isinstance(voice, VoiceRef) else voice).strip()
    if valid_id(wanted):
        return wanted  # existence and ownership: resolve_job's rule (404 for others' voices)
    named = [
        m
        for m in voices.list()
        if may_use_voice(m, principal, settings)
        and m.get("name", "").casefold() == wanted.casefold()
    ]
    if len(named) == 1:
        return named[0]["voice_id"]
    if len(named) > 1:
        ids = ", ".join(m["voice_id"] for m in named)
        raise Rejected(
            f"voice: the name {wanted!r} matches {len(named)} of your voices ({ids}); use the id",
            400,
            param="voice",
            code="ambiguous_voice",
        )
    alias = settings.voice_alias_map.get(wanted.casefold())
    if alias:
        return alias
    if wanted.casefold() in OPENAI_VOICES:
        raise Rejected(
            f"voice: {wanted!r} is one of OpenAI's built-in voices; map it to a "
            f"cloned voice with VOICE_ALIASES={wanted.casefold()}=<voice id> in the "
            "service's .env",
            400,
            param="voice",
            code="voice_not_configured",
        )
    raise Rejected(
        f"voice: no voice {wanted!r} (an id or name from GET /v1/audio/voices)",
        404,
        param="voice",
        code="voice_not_found",
    )


@router.get(
    "/audio/voices",
    response_model=VoiceListResponse,
    responses=openai_errors(),
    summary="The caller's voices and the engines each can be used with",
)
def list_voices(voices: VoicesDep, principal: ClientDep) -> VoiceListResponse:
    return VoiceListResponse(
        voices=[
            VoiceEntry(
                id=m["voice_id"],
                name=m.get("name", ""),
                language=m.get("language", ""),
                status=m.get("status", ""),
                engines=_ready_engines(m),
            )
            for m in voices.list()
            if principal.may_see(m.get("owner"))
        ]
    )


def _ready_engines(meta: dict) -> list[str]:
    if meta.get("status") != VoiceStatus.ready.value:
        return []
    return engines_for_voice(has_ref_text=bool((meta.get("ref_text") or "").strip()))


@router.get(
    "/models",
    response_model=ModelListResponse,
    responses=openai_errors(),
    summary="The speech models (engines and OpenAI's model names)",
)
def list_models() -> ModelListResponse:
    return ModelListResponse(data=[ModelEntry(id=name, created=STARTED) for name in MODELS])


@router.get(
    "/models/{model}", response_model=ModelEntry, responses=openai_errors(404), summary="One model"
)
def get_model(model: str) -> ModelEntry:
    if model not in MODELS:
        raise Rejected(
            f"model: no model {model!r}; accepted: {', '.join(MODELS)}",
            404,
            param="model",
            code="model_not_found",
        )
    return ModelEntry(id=model, created=STARTED)
