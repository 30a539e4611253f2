"""``/voices``: upload a reference, list, read and delete the caller's voices."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile

from service import blobs
from service import jobs as jobstore
from service.audio_validation import AudioRejected, sniff
from service.auth import Principal, require_client
from service.celery_app import TASK_CLONE
from service.deps import ClientDep, QuotaDep, SettingsDep, StoreDep, VoicesDep
from service.jsonbody import StrictJsonRoute
from service.redis_conn import get_raw_redis
from service.routes.responses import errors, id_param
from service.schemas import JobMode, VoiceCloneAccepted, VoiceInfo, VoiceList
from service.storage import no_space_as_storage_full
from service.validation import (
    MAX_REF_TEXT_CHARS,
    MAX_VOICE_NAME_CHARS,
    RequestRejected,
    check_language,
    check_ref_text,
    check_voice_name,
)
from service.voices import VoiceStore
from service.voices import to_info as voice_info

logger = logging.getLogger("service.api")

router = APIRouter(
    route_class=StrictJsonRoute,
    prefix="/voices",
    tags=["Voices"],
    dependencies=[Depends(require_client)],
)

UPLOAD_CHUNK = 1 << 20
FORM_FIELDS = frozenset({"audio", "language", "voice_name", "ref_text"})


async def no_unknown_form_fields(request: Request) -> None:
    """Unknown form fields are an error (422), like unknown JSON fields."""
    form = await request.form()  # already parsed for this request: cached, not read twice
    unknown = sorted(set(form.keys()) - FORM_FIELDS)
    if unknown:
        raise RequestRejected(
            f"{', '.join(unknown)}: unknown field(s); accepted: {', '.join(sorted(FORM_FIELDS))}"
        )


@router.post(
    "/clone",
    status_code=202,
    response_model=VoiceCloneAccepted,
    responses=errors(400, 413, 415, 422, 429, 503, 507),
    summary="Upload a reference voice",
    dependencies=[Depends(no_unknown_form_fields)],
)
def clone_voice(
    settings: SettingsDep,
    store: StoreDep,
    voices: VoicesDep,
    principal: QuotaDep,
    audio: Annotated[UploadFile, File(description="Reference speech: WAV, FLAC or OGG.")],
    language: Annotated[
        str, Form(max_length=35, description="Language of the reference, e.g. pt-BR.")
    ],
    voice_name: Annotated[
        str,
        Form(
            min_length=1,
            max_length=MAX_VOICE_NAME_CHARS,
            description="One line, no control characters; stripped.",
        ),
    ],
    ref_text: Annotated[
        Optional[str],
        Form(
            max_length=MAX_REF_TEXT_CHARS,
            description=("Transcript of the reference; required to use the voice with F5-TTS."),
        ),
    ] = None,
) -> VoiceCloneAccepted:
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
            meta = voices.create(
                voice_name,
                language,
                ref_text,
                tmp,
                info.ext,
                job_id,
                {"duration_s": info.duration_s, "sample_rate": info.sample_rate},
                owner=principal.owner,
            )
        finally:
            tmp.unlink(missing_ok=True)
    try:
        # The worker fetches the upload from Redis by digest: it shares no volume with the API.
        upload = voices.upload_path(meta).read_bytes()  # at most MAX_UPLOAD_MB
        digest = blobs.put(get_raw_redis(), upload, settings.job_ttl_seconds)
        jobstore.enqueue(
            store,
            TASK_CLONE,
            job_id,
            mode=JobMode.clone.value,
            voice_id=meta["voice_id"],
            language=language,
            owner=principal.owner,
            upload_digest=digest,
            upload_ext=info.ext,
        )
    except Exception:
        voices.delete(meta["voice_id"])  # never a stored voice that no job will validate
        raise
    logger.info(
        "voice %s (%s, %.1f s %s) queued for validation as job %s",
        meta["voice_id"],
        language,
        info.duration_s,
        info.ext,
        job_id,
    )
    return VoiceCloneAccepted(
        voice_id=meta["voice_id"], job_id=job_id, status_url=f"/voices/{meta['voice_id']}"
    )


def _stream_capped(upload: UploadFile, dest: Path, cap: int) -> int:
    """Copy the upload to ``dest`` in 1 MiB chunks, never holding it whole in memory; past
    ``cap`` bytes stop at once with 413."""
    size = 0
    with open(dest, "xb") as out:
        while chunk := upload.file.read(UPLOAD_CHUNK):
            size += len(chunk)
            if size > cap:
                raise AudioRejected(
                    f"audio: upload exceeds {cap / 2**20:.1f} MB (MAX_UPLOAD_MB)", 413
                )
            out.write(chunk)
    return size


@router.get("", response_model=VoiceList, responses=errors(), summary="List voices")
def list_voices(voices: VoicesDep, principal: ClientDep) -> VoiceList:
    return VoiceList(
        voices=[voice_info(m) for m in voices.list() if principal.may_see(m.get("owner"))]
    )


def voice_or_404(voices: VoiceStore, voice_id: str, principal: Principal) -> dict:
    # Another key's voice answers exactly like a voice that does not exist: ids leak nothing.
    meta = voices.get(voice_id)
    if meta is None or not principal.may_see(meta.get("owner")):
        raise HTTPException(404, f"voice_id: no voice {voice_id!r}")
    return meta


@router.get("/{voice_id}", response_model=VoiceInfo, responses=errors(404), summary="One voice")
def get_voice(
    voices: VoicesDep, principal: ClientDep, voice_id: str = id_param("voice")
) -> VoiceInfo:
    return voice_info(voice_or_404(voices, voice_id, principal))


@router.delete(
    "/{voice_id}", status_code=204, responses=errors(404), summary="Delete a voice and its audio"
)
def delete_voice(
    voices: VoicesDep, principal: ClientDep, voice_id: str = id_param("voice")
) -> None:
    meta = voice_or_404(voices, voice_id, principal)
    if not voices.delete(voice_id):
        raise HTTPException(404, f"voice_id: no voice {voice_id!r}")
    if meta.get("reference_digest"):  # queued jobs of this voice fail instead of using it
        blobs.delete(get_raw_redis(), meta["reference_digest"])
