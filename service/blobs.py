"""Audio between the API and the workers, by content digest, through Redis: workers need no
shared filesystem, so one on another host runs any job with only ``REDIS_URL``.

* The API puts an upload (bounded by MAX_UPLOAD_MB) and, for each synthesis job, the voice's
  reference (refreshed at every submission: a Redis wiped since is filled again from the data
  volume, which stays the durable copy of everything a user uploaded).
* A worker fetches a blob into its own cache directory (``WorkerCache``, keyed by digest and
  checked against it), where its per-voice conditioning caches live too; it puts its results
  (a validated reference, an output WAV) back as blobs, and the API writes them to the data
  volume it owns (``service.settle``).

Why Redis: it is already the one service every worker reaches (broker and job store), with
credentials and TLS in the remote mode; a blob is at most MAX_UPLOAD_MB or one job's WAV, and
every blob expires. Why digests: a reference used by many jobs travels once per worker, and a
corrupted copy is detected instead of cloned from.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Optional

import redis

from service.storage import atomic_write_bytes

logger = logging.getLogger(__name__)

KEY_PREFIX = "avops:blob:"


class BlobMissing(Exception):
    """The blob expired or Redis lost it: the job cannot run as submitted."""


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key(digest: str) -> str:
    return KEY_PREFIX + digest


def put(client: redis.Redis, data: bytes, ttl_s: int) -> str:
    """Store ``data`` under its digest (once: the same content is not written again, only its
    expiry pushed back); returns the digest."""
    digest = digest_of(data)
    with client.pipeline(transaction=False) as pipe:
        pipe.set(key(digest), data, ex=ttl_s, nx=True)
        pipe.expire(key(digest), ttl_s)
        pipe.execute()
    return digest


def refresh(client: redis.Redis, digest: str, ttl_s: int) -> bool:
    """Push the expiry back; False when the blob is gone (the caller puts it again)."""
    return bool(client.expire(key(digest), ttl_s))


def get(client: redis.Redis, digest: str) -> Optional[bytes]:
    data = client.get(key(digest))
    if data is None:
        return None
    if not isinstance(data, bytes) or digest_of(data) != digest:
        raise BlobMissing(f"blob {digest[:12]}: content does not match its digest")
    return data


def delete(client: redis.Redis, digest: str) -> None:
    client.delete(key(digest))


class WorkerCache:
    """A worker's local copies of blobs, and what it derives from them (conditioning), in one
    directory bounded by ``max_mb`` (least recently used files go first)."""

    def __init__(self, root: Path, max_mb: float) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_mb * 2**20)

    def path(self, name: str) -> Path:
        return self.root / name

    def fetch(self, client: redis.Redis, digest: str, suffix: str) -> Path:
        """The blob as a local file (``<digest><suffix>``), fetched from Redis if not cached."""
        path = self.path(digest + suffix)
        if path.is_file():
            os.utime(path)  # recently used: pruned last
            return path
        data = get(client, digest)
        if data is None:
            raise BlobMissing(
                f"audio {digest[:12]} is no longer in Redis (expired, or Redis was reset): "
                "submit the request again"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        self.prune(keep=path)
        return path

    def prune(self, keep: Optional[Path] = None) -> None:
        files = sorted(
            (p for p in self.root.iterdir() if p.is_file() and p != keep),
            key=lambda p: p.stat().st_mtime,
        )
        total = sum(p.stat().st_size for p in files) + (keep.stat().st_size if keep else 0)
        for old in files:
            if total <= self.max_bytes:
                break
            total -= old.stat().st_size
            old.unlink(missing_ok=True)
            logger.info("worker cache: removed %s (over WORKER_CACHE_MB)", old.name)
