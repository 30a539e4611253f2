"""What a synthesis job carries so that any worker, on any host, finds its voice's reference.

A ready voice: the digest of its reference, whose blob (service/blobs.py) is put back in Redis
from the data volume when it expired or Redis was reset, and kept there REFERENCE_TTL_S past
this job. A voice still pending (a job submitted right after its clone): the id of its clone
job, whose record gets the digest when the reference is validated; the worker reads it there.
"""

from __future__ import annotations

from typing import Any

import redis

from service import blobs
from service.schemas import VoiceStatus
from service.validation import RequestRejected
from service.voices import VoiceStore


def for_job(raw: redis.Redis, voices: VoiceStore, voice_id: str, ttl_s: int) -> dict[str, Any]:
    meta = voices.get(voice_id)
    if meta is None:
        raise RequestRejected(f"voice_id: no voice {voice_id!r}", 404)
    fields: dict[str, Any] = {"ref_text": meta.get("ref_text")}
    if meta["status"] == VoiceStatus.ready.value:
        fields["reference_digest"] = _ensure_blob(raw, voices, meta, ttl_s)
    else:
        fields["voice_job_id"] = meta.get("job_id")
    return fields


def _ensure_blob(raw: redis.Redis, voices: VoiceStore, meta: dict[str, Any], ttl_s: int) -> str:
    digest = meta.get("reference_digest")
    if digest and blobs.refresh(raw, digest, ttl_s):
        return digest
    try:
        data = voices.reference_path(meta["voice_id"]).read_bytes()
    except FileNotFoundError:
        raise RequestRejected(
            f"voice_id: voice {meta['voice_id']}'s reference audio is missing from the data "
            "volume; clone it again",
            409,
        ) from None
    digest = blobs.put(raw, data, ttl_s)
    if meta.get("reference_digest") != digest:  # a voice from before digests, or a changed file
        voices.update(meta["voice_id"], reference_digest=digest)
    return digest
