"""Voice conditioning cached on disk, computed once per voice instead of once per job.

XTTS conditions on a reference clip through a model pass (GPT latents + speaker embedding): seconds
of GPU time, and under LOW_VRAM a model load of its own. The result is small CPU tensors, so the
worker keeps it next to the voice's ``reference.wav``. The cache is keyed by the reference file's
digest and a format number: a replaced reference or a new format recomputes, a damaged file is
ignored (and rewritten). The cache is an optimisation only: when it cannot be written (a full disk,
a read-only volume) the job goes on with the conditioning it computed, and no partial file stays.
Engines whose conditioning is the reference audio itself (F5-TTS) declare
``caches_conditioning = False`` and are passed straight through.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

from engines.base import TtsEngine, VoiceConditioning

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


def prepare_voice_cached(
    engine: TtsEngine,
    ref_audio_path: Path,
    cache_path: Path,
    ref_text: Optional[str] = None,
    language: Optional[str] = None,
) -> VoiceConditioning:
    """``engine.prepare_voice`` through the on-disk cache at ``cache_path``."""
    if not getattr(engine, "caches_conditioning", False):
        return engine.prepare_voice(ref_audio_path, ref_text=ref_text, language=language)
    digest = file_digest(ref_audio_path)
    cached = load_conditioning(cache_path, engine.name, digest)
    if cached is not None:
        logger.info("voice conditioning for %s read from cache %s", engine.name, cache_path.name)
        return replace(
            cached,
            ref_audio_path=str(ref_audio_path),
            ref_text=ref_text or cached.ref_text,
            language=language or cached.language,
        )
    voice = engine.prepare_voice(ref_audio_path, ref_text=ref_text, language=language)
    try:
        save_conditioning(voice, cache_path, digest)
    except Exception as exc:  # noqa: BLE001  (torch reports a full disk as its own RuntimeError)
        logger.warning(
            "voice conditioning cache %s not written, continuing without it: %s",
            cache_path.name,
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
    return voice


def save_conditioning(voice: VoiceConditioning, path: Path, source_digest: str) -> None:
    import torch

    payload: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "engine": voice.engine,
        "source_sha256": source_digest,
        "data": voice.data,
        "ref_text": voice.ref_text,
        "language": voice.language,
        "ref_duration_s": voice.ref_duration_s,
    }
    # Unique temp name (two workers may write the same voice), renamed into place: a concurrent
    # reader never sees half a file; removed on every error path, so a failure leaves nothing.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_conditioning(path: Path, engine: str, source_digest: str) -> Optional[VoiceConditioning]:
    """The cached conditioning, or None when absent, stale, for another engine, or unreadable."""
    if not path.is_file():
        return None
    import torch

    try:
        # weights_only: tensors and plain containers only, never arbitrary pickled objects.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (a damaged cache is recomputed, not fatal)
        logger.warning("ignoring unreadable voice cache %s: %s", path, exc)
        return None
    if (
        payload.get("format") != FORMAT_VERSION
        or payload.get("engine") != engine
        or payload.get("source_sha256") != source_digest
    ):
        return None
    return VoiceConditioning(
        engine,
        payload["data"],
        "",
        payload.get("ref_text"),
        payload.get("language"),
        float(payload.get("ref_duration_s") or 0.0),
    )


def file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()
