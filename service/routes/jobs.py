"""``/jobs``: submit a synthesis job, read its state, download its WAV."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse

from service import jobs as jobstore
from service import references
from service.auth import Principal, require_client
from service.deps import ClientDep, QuotaDep, SettingsDep, SettlerDep, StoreDep, VoicesDep
from service.jsonbody import StrictJsonRoute
from service.redis_conn import get_raw_redis
from service.routes.responses import errors, id_param
from service.schemas import JobAccepted, JobCreate, JobInfo, JobStatus
from service.validation import resolve_job

router = APIRouter(
    route_class=StrictJsonRoute,
    prefix="/jobs",
    tags=["Jobs"],
    dependencies=[Depends(require_client)],
)


@router.post(
    "",
    status_code=202,
    response_model=JobAccepted,
    responses=errors(400, 404, 409, 422, 429, 503),
    summary="Submit a synthesis job",
)
def create_job(
    req: JobCreate, settings: SettingsDep, store: StoreDep, voices: VoicesDep, principal: QuotaDep
) -> JobAccepted:
    job = resolve_job(req, settings, voices, principal)
    # Record and send as one step: a task that cannot be sent leaves no job waiting `queued`.
    reference = references.for_job(get_raw_redis(), voices, job.voice_id, settings.reference_ttl_s)
    job_id = jobstore.enqueue_synthesis(
        store, job, req.mode.value, principal.owner, keep_alive=req.keep_alive, **reference
    )
    return JobAccepted(job_id=job_id, status=JobStatus.queued, status_url=f"/jobs/{job_id}")


def job_or_404(store: jobstore.JobStore, job_id: str, principal: Principal) -> dict:
    record = store.get(job_id) if _plausible_id(job_id) else None
    if record is None or not principal.may_see(record.get("owner")):  # others': like unknown
        raise HTTPException(404, f"job_id: no job {job_id!r} (unknown or expired)")
    return record


def _plausible_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


@router.get(
    "/{job_id}",
    response_model=JobInfo,
    responses=errors(404, 503),
    summary="Job status, error, timings, engine and device",
)
def get_job(
    store: StoreDep, settler: SettlerDep, principal: ClientDep, job_id: str = id_param("job")
) -> JobInfo:
    return jobstore.to_info(settler.job(job_or_404(store, job_id, principal)))


@router.get(
    "/{job_id}/audio",
    response_class=FileResponse,
    responses={
        200: {"content": {"audio/wav": {}}, "description": "The synthesized WAV"},
        **errors(404, 409),
    },
    summary="Download the result WAV",
)
def get_job_audio(
    settings: SettingsDep,
    store: StoreDep,
    settler: SettlerDep,
    principal: ClientDep,
    job_id: str = id_param("job"),
) -> FileResponse:
    record = settler.job(job_or_404(store, job_id, principal))
    if record["status"] != JobStatus.completed.value or not record.get("output_file"):
        raise HTTPException(
            409,
            f"job {job_id} is {record['status']}: no audio"
            + (f" ({record['error']})" if record.get("error") else ""),
        )
    path = settings.outputs_dir / f"{job_id}.wav"
    if not path.is_file():
        raise HTTPException(404, f"job {job_id}: audio file no longer on the data volume")
    return FileResponse(path, media_type="audio/wav", filename=f"{job_id}.wav")
