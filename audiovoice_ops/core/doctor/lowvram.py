"""Checklist "LOW_VRAM" and "F5-TTS em CUDA": .env, container and worker agree; F5-TTS on the GPU."""

from __future__ import annotations

from typing import Any

from audiovoice_ops.core.doctor.report import FAIL, PASS, SKIPPED, WARN, Check
from audiovoice_ops.core.doctor.sources import Sources, api_reason
from audiovoice_ops.core.envfacts import low_vram_or_none


def check_low_vram(src: Sources) -> Check:
    title = "LOW_VRAM agrees: .env, worker container, worker's mode"
    if src.worker is None:
        return Check(
            "low_vram.agree", "low_vram", title, SKIPPED, "no worker service in the compose file"
        )
    values: dict[str, Any] = {".env": src.project.env.low_vram_raw}
    views = src.inventory.services.get(src.worker, []) if src.inventory else []
    running = [v for v in views if v.running]
    if running:
        values["container"] = running[0].env.get("LOW_VRAM")
    if src.stats is not None:
        values["worker mode"] = src.stats.low_vram_mode
    seen = ", ".join(f"{k}={'unset' if v is None else str(v).lower()}" for k, v in values.items())
    if len(values) == 1:
        return Check(
            "low_vram.agree",
            "low_vram",
            title,
            SKIPPED,
            f"{seen}; nothing to compare with (worker not running, API not answering)",
        )
    bools = {k: low_vram_or_none(v) for k, v in values.items()}
    if len(set(bools.values())) > 1:
        return Check(
            "low_vram.agree",
            "low_vram",
            title,
            FAIL,
            f"disagree: {seen}",
            f"avops restart {src.worker} (recreates it with the .env value)",
        )
    return Check("low_vram.agree", "low_vram", title, PASS, seen)


def check_f5tts_cuda(src: Sources) -> Check:
    title = "F5-TTS runs on CUDA when a GPU is present"
    if src.gpu is None or not src.gpu.available or not src.gpu.gpus:
        reason = src.gpu.error if src.gpu is not None and src.gpu.error else "no GPU"
        return Check("f5tts.cuda", "f5tts", title, SKIPPED, f"no GPU on this host ({reason})")
    if src.stats is None:
        return Check("f5tts.cuda", "f5tts", title, SKIPPED, api_reason(src))
    stats = src.stats
    f5_device = next(
        (resident.device for resident in stats.resident_models if "f5" in resident.key.lower()),
        None,
    )
    device = stats.device
    if device != "cuda" or not stats.available:
        return Check(
            "f5tts.cuda",
            "f5tts",
            title,
            FAIL,
            f"the worker's engine device is {device!r} though the host has a GPU",
            "avops check-gpu (driver, NVIDIA Container Toolkit, GPU reservation)",
        )
    if stats.cpu_fallbacks:
        return Check(
            "f5tts.cuda",
            "f5tts",
            title,
            WARN,
            f"device cuda, but {stats.cpu_fallbacks} CPU fallback(s) so far",
            f"look for CUDA OOM in the worker logs (avops logs {src.worker_or()}); consider LOW_VRAM=true",
        )
    where = f"; f5tts resident on {f5_device}" if f5_device else ""
    return Check("f5tts.cuda", "f5tts", title, PASS, f"worker device cuda{where}")
