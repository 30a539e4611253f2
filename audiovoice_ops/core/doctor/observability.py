"""Checklist "Observabilidade": /health, a fresh /admin/vram, VRAM back to baseline in LOW_VRAM."""

from __future__ import annotations

from audiovoice_ops.core.doctor.report import FAIL, PASS, SKIPPED, WARN, Check
from audiovoice_ops.core.doctor.sources import BASELINE_SLACK_MB, Sources, api_reason


def check_api_health(src: Sources) -> Check:
    title = "API /health answers"
    if not src.api_expected or src.health is None:
        return Check("api.health", "observability", title, SKIPPED, api_reason(src))
    if not src.health.ok:
        return Check("api.health", "observability", title, FAIL, src.health.error,
                     "avops status; avops logs api (check AVOPS_API_URL)")
    return Check("api.health", "observability", title, PASS, f"HTTP {src.health.status} in {src.health.latency_s:.3f}s")


def check_vram_endpoint(src: Sources, max_age_s: float) -> Check:
    title = "/admin/vram answers and is fresh"
    if not src.api_expected or src.vram is None:
        return Check("api.vram", "observability", title, SKIPPED, api_reason(src))
    if not src.vram.ok:
        return Check("api.vram", "observability", title, FAIL, src.vram.error,
                     "check the API service (avops logs api) and AVOPS_API_URL/AVOPS_API_KEY")
    age = src.vram.data.get("age_seconds")
    if not isinstance(age, (int, float)):
        return Check("api.vram", "observability", title, WARN, "answer has no age_seconds", "update the API service")
    if age > max_age_s:
        return Check("api.vram", "observability", title, WARN, f"stats are {age:.0f}s old (> {max_age_s:g}s)",
                     "the worker stopped publishing VRAM stats: avops logs celery")
    return Check("api.vram", "observability", title, PASS, f"{age:.1f}s old")


def check_vram_baseline(src: Sources) -> Check:
    title = "VRAM back to baseline after the last job (LOW_VRAM)"
    stats = src.stats
    if stats is None:
        return Check("vram.baseline", "observability", title, SKIPPED, api_reason(src))
    if not stats.get("low_vram_mode"):
        return Check("vram.baseline", "observability", title, SKIPPED, "worker is not in LOW_VRAM mode")
    models = stats.get("resident_models") or []
    if any(m.get("in_use") for m in models):
        return Check("vram.baseline", "observability", title, SKIPPED, "a job is running now; try again when idle")
    stuck = [m.get("key") for m in models if m.get("device") == "cuda" and not m.get("parked")]
    if stuck:
        return Check("vram.baseline", "observability", title, FAIL,
                     f"model(s) still on the GPU after their job: {', '.join(map(str, stuck))}",
                     "the worker did not unload: check VRAM_OFFLOAD and the worker logs (avops logs celery)")
    allocated = stats.get("allocated_mb") or 0.0
    if allocated > BASELINE_SLACK_MB:
        return Check("vram.baseline", "observability", title, WARN,
                     f"no model on the GPU but {allocated:,.0f} MB still allocated",
                     "a leak outside the VRAM manager: restart the worker (avops restart celery)")
    return Check("vram.baseline", "observability", title, PASS, f"{allocated:,.0f} MB allocated, no model on the GPU")
