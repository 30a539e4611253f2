"""Checklist "Observabilidade": /health, a fresh /admin/vram, VRAM back to baseline in LOW_VRAM."""

from __future__ import annotations

from typing import cast

from audiovoice_ops.core.doctor.report import FAIL, PASS, SKIPPED, WARN, Check
from audiovoice_ops.core.doctor.sources import BASELINE_SLACK_MB, Sources, api_reason


def check_api_health(src: Sources) -> Check:
    title = "API /health answers"
    if not src.api_expected or src.health is None:
        return Check("api.health", "observability", title, SKIPPED, api_reason(src))
    if not src.health.ok:
        # A failed ApiResult always carries its one-line error (core/apiclient.py).
        return Check(
            "api.health",
            "observability",
            title,
            FAIL,
            cast(str, src.health.error),
            f"avops status; avops logs {src.api_or()} (check AVOPS_API_URL)",
        )
    return Check(
        "api.health",
        "observability",
        title,
        PASS,
        f"HTTP {src.health.status} in {src.health.latency_s:.3f}s, status {src.health.parsed.status}",
    )


def check_vram_endpoint(src: Sources, max_age_s: float) -> Check:
    title = "/admin/vram answers and is fresh"
    if not src.api_expected or src.vram is None:
        return Check("api.vram", "observability", title, SKIPPED, api_reason(src))
    if not src.vram.ok:
        return Check(
            "api.vram",
            "observability",
            title,
            FAIL,
            cast(str, src.vram.error),  # as above
            f"check the API service (avops logs {src.api_or()}) and AVOPS_API_URL/AVOPS_API_KEY",
        )
    age = src.vram.parsed.age_seconds
    if age is None:
        return Check(
            "api.vram",
            "observability",
            title,
            WARN,
            "answer has no age_seconds",
            "update the API service",
        )
    if age > max_age_s:
        return Check(
            "api.vram",
            "observability",
            title,
            WARN,
            f"stats are {age:.0f}s old (> {max_age_s:g}s)",
            f"the worker stopped publishing VRAM stats: avops logs {src.worker_or()}",
        )
    return Check("api.vram", "observability", title, PASS, f"{age:.1f}s old")


def check_vram_baseline(src: Sources) -> Check:
    title = "VRAM back to baseline after the last job (LOW_VRAM)"
    stats = src.stats
    if stats is None:
        return Check("vram.baseline", "observability", title, SKIPPED, api_reason(src))
    if not stats.low_vram_mode:
        return Check(
            "vram.baseline", "observability", title, SKIPPED, "worker is not in LOW_VRAM mode"
        )
    models = stats.resident_models
    if any(resident.in_use for resident in models):
        return Check(
            "vram.baseline",
            "observability",
            title,
            SKIPPED,
            "a job is running now; try again when idle",
        )
    stuck = [
        resident.key for resident in models if resident.device == "cuda" and not resident.parked
    ]
    if stuck:
        return Check(
            "vram.baseline",
            "observability",
            title,
            FAIL,
            f"model(s) still on the GPU after their job: {', '.join(stuck)}",
            f"the worker did not unload: check VRAM_OFFLOAD and the worker logs (avops logs {src.worker_or()})",
        )
    allocated = stats.allocated_mb
    if allocated > BASELINE_SLACK_MB:
        return Check(
            "vram.baseline",
            "observability",
            title,
            WARN,
            f"no model on the GPU but {allocated:,.0f} MB still allocated",
            f"a leak outside the VRAM manager: restart the worker (avops restart {src.worker_or()})",
        )
    return Check(
        "vram.baseline",
        "observability",
        title,
        PASS,
        f"{allocated:,.0f} MB allocated, no model on the GPU",
    )
