"""The API brings a finished job's results onto the data volume it owns ("settling").

Workers write nothing to the data volume (service/blobs.py says why): a clone job ends
``completed`` with its validated reference as a blob, a synthesis job with its WAV as a blob.
The API settles a job the first time anyone looks at it (``GET /jobs/{id}``, its audio, its
voice) and, for jobs nobody looks at, from the queue of finished jobs the workers push and the
reaper drains. Settling is idempotent (atomic renames of identical content), so a reader and the
reaper settling the same job at once agree. A result that cannot be written (a full disk) or
that is gone (Redis reset) ends the job ``failed`` with the reason, and a clone's voice with it:
a job is never ``completed`` without its file.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import redis

from service import blobs
from service import jobs as jobstore
from service.schemas import JobMode, JobStatus, VoiceStatus
from service.storage import NO_SPACE_MESSAGE, atomic_write_bytes, is_no_space
from service.voices import VoiceStore

logger = logging.getLogger("service.settle")

FINISHED_KEY = "avops:settle"  # job ids the workers finished, for the reaper to settle
SETTLED = "settled"  # job field: its results are on the data volume
LOST_RESULT = "its result was lost before the API stored it (Redis reset or expired)"


class Settler:
    def __init__(
        self, store: jobstore.JobStore, voices: VoiceStore, raw: redis.Redis, outputs_dir: Path
    ) -> None:
        self.store, self.voices, self.raw, self.outputs_dir = store, voices, raw, outputs_dir

    def job(self, record: dict[str, Any]) -> dict[str, Any]:
        """Settle ``record`` if it is a finished, unsettled job; the record as it now stands."""
        if record.get(SETTLED) or record.get("status") != JobStatus.completed.value:
            return record
        if record.get("mode") == JobMode.clone.value:
            error = self._clone(record)
        elif record.get("output_digest"):
            error = self._output(record)
        else:
            error = None  # a speech request: its audio went to the client, nothing to store
        if error is None:
            self.store.update(record["job_id"], **{SETTLED: True})
        else:
            self.store.update(record["job_id"], status=JobStatus.failed.value, error=error)
            logger.warning("job %s failed while storing its result: %s", record["job_id"], error)
        return self.store.get(record["job_id"]) or record

    def voice(self, meta: dict[str, Any]) -> dict[str, Any]:
        """A pending voice whose clone job ended: settle that job (or fail the voice with the
        job's error); the voice as it now stands."""
        if meta.get("status") != VoiceStatus.pending.value or not meta.get("job_id"):
            return meta
        record = self.store.get(meta["job_id"]) or {}
        status = record.get("status")
        if status == JobStatus.completed.value:
            self.job(record)
        elif status in (JobStatus.failed.value, JobStatus.cancelled.value):
            self.voices.mark_failed(meta["voice_id"], record.get("error") or "validation failed")
        else:
            return meta
        return self.voices.get(meta["voice_id"]) or meta

    def drain(self, limit: int = 100) -> int:
        """Settle up to ``limit`` jobs the workers reported finished; how many were taken."""
        ids = self.store.r.lpop(FINISHED_KEY, limit) or []
        for job_id in ids:
            record = self.store.get(str(job_id))
            if record is not None:
                self.job(record)
        return len(ids)

    # ------------------------------------------------------------------ per kind
    def _output(self, record: dict[str, Any]) -> Optional[str]:
        digest = record["output_digest"]
        data = blobs.get(self.raw, digest)
        if data is None:
            return LOST_RESULT
        name = f"{record['job_id']}.wav"
        try:
            atomic_write_bytes(self.outputs_dir / name, data)
        except OSError as exc:
            return _write_error(exc)
        self.store.update(record["job_id"], output_file=name)
        blobs.delete(self.raw, digest)  # the data volume holds it now
        return None

    def _clone(self, record: dict[str, Any]) -> Optional[str]:
        voice_id = str(record.get("voice_id") or "")
        meta = self.voices.get(voice_id) if voice_id else None
        if meta is None or meta.get("status") != VoiceStatus.pending.value:
            return None  # deleted meanwhile, or settled by another reader
        data = blobs.get(self.raw, record.get("reference_digest") or "")
        error = LOST_RESULT if data is None else None
        if data is not None:
            try:
                atomic_write_bytes(self.voices.reference_path(voice_id), data)
            except OSError as exc:
                error = _write_error(exc)
        if error is not None:
            self.voices.mark_failed(voice_id, error)
            return error
        self.voices.update(
            voice_id,
            status=VoiceStatus.ready.value,
            error=None,
            duration_s=record.get("duration_s"),
            sample_rate=record.get("sample_rate"),
            reference_digest=record["reference_digest"],
        )
        return None


class SettlingVoices(VoiceStore):
    """The API's view of the voices: a pending voice whose clone job finished is settled the
    moment anyone reads it, so a client never sees ``pending`` after its job ``completed``."""

    def __init__(self, root: Path, settler_for: Any) -> None:
        super().__init__(root)
        self._settler_for = settler_for  # (plain VoiceStore) -> Settler, built on first need

    def get(self, voice_id: str) -> Optional[dict[str, Any]]:
        meta = super().get(voice_id)
        if meta is None or meta.get("status") != VoiceStatus.pending.value:
            return meta
        return self._settler_for(VoiceStore(self.root)).voice(meta)


def _write_error(exc: OSError) -> str:
    if is_no_space(exc):
        return NO_SPACE_MESSAGE
    raise exc  # anything else is a fault of this host: the caller's handler reports it
