"""Device selection: never hard-coded, always from settings + what torch reports."""

from __future__ import annotations

import logging
from typing import Optional

from engines.errors import DeviceUnavailableError, EngineConfigError

logger = logging.getLogger(__name__)

VALID_REQUESTS = ("auto", "cuda", "cpu")


def cuda_is_available() -> bool:
    try:
        import torch
    except ImportError:  # API-side installs have no torch: that is simply "no CUDA"
        return False
    return bool(torch.cuda.is_available())


def select_device(
    requested: str, fallback_to_cpu: bool = True, cuda_available: Optional[bool] = None
) -> str:
    """Resolve ``auto|cuda|cpu`` to ``cuda`` or ``cpu``.

    ``auto`` takes CUDA when available. ``cuda`` without CUDA falls back to CPU with
    a warning when allowed, else raises ``DeviceUnavailableError``. ``cuda_available``
    is injectable so the whole matrix is testable on a CPU-only host.
    """
    choice = (requested or "auto").strip().lower()
    if choice.startswith("cuda:"):
        choice = "cuda"  # a device index is for torch, not a different policy
    if choice not in VALID_REQUESTS:
        raise EngineConfigError(f"device: invalid value {requested!r}; accepted: auto/cuda/cpu")
    has_cuda = cuda_is_available() if cuda_available is None else cuda_available
    if choice == "cpu":
        return "cpu"
    if choice == "auto":
        return "cuda" if has_cuda else "cpu"
    if has_cuda:
        return "cuda"
    if fallback_to_cpu:
        logger.warning(
            "CUDA requested but not available: falling back to CPU (DEVICE_FALLBACK_TO_CPU=true)"
        )
        return "cpu"
    raise DeviceUnavailableError(
        "CUDA requested but not available and DEVICE_FALLBACK_TO_CPU=false; "
        "check the GPU with `python -m engines.cuda_check --json`"
    )
