"""The fp16 policy: when a model runs in half precision. One rule for the engines, the worker's
CUDA report (``engines.cuda_check``) and the host CLI (``avops check-gpu``).

Pure Python, no ML library at the top: avops imports it on hosts without torch.

``FP16`` (global) and ``F5TTS_FP16`` / ``XTTS_FP16`` (per engine, empty = the global value) take
``auto``, ``on`` or ``off``. ``auto`` is fp16 only where it helps and works: tensor cores (compute
capability >= 7.0) and not the GTX 16xx family (Turing TU116/TU117), where fp16 gives NaN or
garbage (ComfyUI's model_management turns it off there: "FP16 is just broken on these cards").
CPU is always fp32, whatever the setting.
"""

from __future__ import annotations

import logging
from typing import Literal, Optional

logger = logging.getLogger(__name__)

Fp16Setting = Literal["auto", "on", "off"]
FP16_CHOICES: tuple[str, ...] = ("auto", "on", "off")
FP16_MIN_CC = (7, 0)  # tensor cores: fp16 gives no speed-up below Volta
# Turing without tensor cores (TU116/TU117, cc 7.5) and their mobile/workstation siblings,
# matched in the device name as ComfyUI does.
BROKEN_FP16_CC = (7, 5)
BROKEN_FP16_NAMES = (
    "1660",
    "1650",
    "1630",
    "T500",
    "T550",
    "T600",
    "MX550",
    "MX450",
    "CMP 30HX",
    "T2000",
    "T1000",
    "T1200",
)
FLOAT16, FLOAT32 = "float16", "float32"

_warned: set[tuple[str, str]] = set()  # (engine, message): each warning once per process


def format_cc(cc: tuple[int, int]) -> str:
    return f"{cc[0]}.{cc[1]}"


def fp16_broken(cc: tuple[int, int], device_name: str) -> bool:
    """A GTX 16xx-class card: compute capability 7.5 but fp16 is broken on it."""
    return tuple(cc) == BROKEN_FP16_CC and any(
        part in (device_name or "") for part in BROKEN_FP16_NAMES
    )


def fp16_supported(cc: tuple[int, int], device_name: str) -> tuple[bool, str]:
    """Whether fp16 helps and works on this GPU, and why (one line)."""
    if tuple(cc) < FP16_MIN_CC:
        return False, (
            f"compute capability {format_cc(cc)} < {format_cc(FP16_MIN_CC)}: "
            "no tensor cores, fp16 brings no benefit, keep fp32"
        )
    if fp16_broken(cc, device_name):
        return False, (
            f"{device_name} (GTX 16xx class, TU116/TU117): fp16 is broken on these cards, keep fp32"
        )
    return True, f"compute capability {format_cc(cc)} has tensor cores: fp16 is worth it"


def effective_setting(global_setting: str, engine_setting: Optional[str]) -> str:
    """The engine's own setting when given, else the global ``FP16``."""
    return engine_setting or global_setting


def resolve_fp16(
    setting: str,
    device: str,
    cc: Optional[tuple[int, int]] = None,
    device_name: str = "",
    engine: str = "",
) -> bool:
    """Whether ``engine`` runs in fp16 on ``device`` (``cuda``/``cpu``) with this GPU."""
    if setting not in FP16_CHOICES:
        raise ValueError(f"fp16 setting must be one of {', '.join(FP16_CHOICES)}: {setting!r}")
    if device != "cuda":
        if setting == "on":
            _warn_once(engine, f"{engine or 'engine'}: FP16=on ignored on {device}: fp32 on CPU")
        return False
    if setting == "off":
        return False
    ok, why = (False, "unknown GPU") if cc is None else fp16_supported(cc, device_name)
    if setting == "on":
        if not ok:
            _warn_once(engine, f"{engine or 'engine'}: FP16=on honoured, but {why}")
        return True
    return ok


def resolve_for_device(setting: str, device: str, engine: str = "") -> bool:
    """``resolve_fp16`` for the current process's GPU 0 (imports torch only for ``cuda``)."""
    if device != "cuda":
        return resolve_fp16(setting, device, engine=engine)
    import torch

    cc = torch.cuda.get_device_capability(0)
    return resolve_fp16(setting, device, cc, torch.cuda.get_device_name(0), engine)


def dtype_name(fp16: bool) -> str:
    return FLOAT16 if fp16 else FLOAT32


def _warn_once(engine: str, message: str) -> None:
    if (engine, message) not in _warned:
        _warned.add((engine, message))
        logger.warning(message)
