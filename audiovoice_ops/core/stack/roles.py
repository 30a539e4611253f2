"""Which service plays which part: the TTS worker (GPU, LOW_VRAM) and the HTTP API.

Compose has no notion of roles, so they are found by name, with the worker's GPU reservation
as the last resort. Commands that look into "the worker" (doctor, check-gpu) and the fix texts
that name it all ask here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from audiovoice_ops.core.stack import Stack

WORKER_NAMES = ("celery", "worker")
API_NAMES = ("api", "audio-voice-api")


def worker_service(stack: Stack | None, explicit: str | None = None) -> str | None:
    """The worker: ``explicit``, else ``celery``/``worker``, else the first service reserving a GPU."""
    if stack is None:
        return explicit
    if explicit:
        stack.service(explicit)  # unknown: a clear error
        return explicit
    for name in WORKER_NAMES:
        if name in stack.services:
            return name
    for name, service in stack.services.items():
        if service.gpu_devices:
            return name
    return None


def api_service(stack: Stack) -> str | None:
    """The HTTP API service, or None when the stack has none by a known name."""
    return next((name for name in API_NAMES if name in stack.services), None)
