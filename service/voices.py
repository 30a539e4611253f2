"""Voice storage on the data volume: ``<DATA_DIR>/voices/<voice_id>/``.

Each voice directory holds ``voice.json`` (metadata), the upload as received
(``upload.<ext>``) and, once the worker validated it, ``reference.wav`` (mono,
trimmed). Metadata lives on disk, not in Redis, so voices survive a Redis wipe and
``avops rebuild``. Ids are generated UUIDs; the client's filename never becomes a path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Optional, Union

from service.jobs import now_iso
from service.schemas import VoiceInfo, VoiceStatus
from service.storage import atomic_write_bytes

_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
META = "voice.json"
INCOMING = ".incoming"  # uploads being streamed in; not a voice id, so never listed
REFERENCE = "reference.wav"


def valid_id(value: str) -> bool:
    return bool(_ID_RE.match(value or ""))


class VoiceStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def dir(self, voice_id: str) -> Path:
        if not valid_id(voice_id):  # never join an unchecked string into a path
            raise KeyError(voice_id)
        return self.root / voice_id

    def incoming_path(self) -> Path:
        """A fresh temp path on the data volume for streaming an upload into (same filesystem
        as the voices, so ``create`` can rename it into place)."""
        incoming = self.root / INCOMING
        incoming.mkdir(parents=True, exist_ok=True)
        return incoming / f"{uuid.uuid4().hex}.part"

    def create(
        self,
        name: str,
        language: str,
        ref_text: Optional[str],
        upload: Union[bytes, Path],
        ext: str,
        job_id: str,
        info: dict[str, Any],
        owner: Optional[str] = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A new voice under a generated id; ``upload`` is the audio's bytes or a file that is
        moved into the voice's directory. ``ext`` comes from content sniffing, never from the
        client's filename. ``owner`` and ``extra`` are stored in the metadata as given.

        All or nothing: if any step fails (a full disk while writing ``voice.json``...), the
        voice's directory is removed again before the error propagates."""
        if ext not in ("wav", "flac", "ogg", "aiff", "mp3"):
            raise ValueError(f"unexpected upload extension {ext!r}")
        voice_id = str(uuid.uuid4())
        vdir = self.root / voice_id
        vdir.mkdir(parents=True, exist_ok=False)
        try:
            if isinstance(upload, Path):
                os.replace(upload, vdir / f"upload.{ext}")
            else:
                atomic_write_bytes(vdir / f"upload.{ext}", upload)
            meta = {
                "voice_id": voice_id,
                "name": name,
                "language": language,
                "ref_text": ref_text,
                "status": VoiceStatus.pending.value,
                "created_at": now_iso(),
                "job_id": job_id,
                "upload_file": f"upload.{ext}",
                "duration_s": info.get("duration_s"),
                "sample_rate": info.get("sample_rate"),
                "error": None,
                "owner": owner,
                **extra,
            }
            self.save(meta)
        except BaseException:
            shutil.rmtree(vdir, ignore_errors=True)
            raise
        return meta

    def save(self, meta: dict[str, Any]) -> None:
        atomic_write_bytes(self.dir(meta["voice_id"]) / META, json.dumps(meta, indent=2).encode())

    def get(self, voice_id: str) -> Optional[dict[str, Any]]:
        try:
            path = self.dir(voice_id) / META
            return json.loads(path.read_text(encoding="utf-8"))
        except (KeyError, FileNotFoundError, json.JSONDecodeError):
            return None

    def update(self, voice_id: str, **fields: Any) -> dict[str, Any]:
        meta = self.get(voice_id)
        if meta is None:
            raise KeyError(voice_id)
        meta.update(fields)
        self.save(meta)
        return meta

    def mark_failed(self, voice_id: str, reason: str) -> bool:
        """End a voice ``failed`` with ``reason``; False when it is gone. Its (partial)
        reference goes first: useless now, and on a full disk the space it held is what lets
        ``voice.json`` be rewritten."""
        try:
            self.reference_path(voice_id).unlink(missing_ok=True)
            self.update(voice_id, status=VoiceStatus.failed.value, error=reason)
        except KeyError:
            return False  # deleted meanwhile
        return True

    def list(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        metas = (self.get(p.name) for p in self.root.iterdir() if valid_id(p.name))
        return sorted((m for m in metas if m), key=lambda m: m["created_at"])

    def delete(self, voice_id: str) -> bool:
        if self.get(voice_id) is None:
            return False
        shutil.rmtree(self.dir(voice_id), ignore_errors=True)
        return True

    def upload_path(self, meta: dict[str, Any]) -> Path:
        return self.dir(meta["voice_id"]) / meta["upload_file"]

    def reference_path(self, voice_id: str) -> Path:
        return self.dir(voice_id) / REFERENCE


def to_info(meta: dict[str, Any]) -> VoiceInfo:
    return VoiceInfo(**{k: v for k, v in meta.items() if k in VoiceInfo.model_fields})
