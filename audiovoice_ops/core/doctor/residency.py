"""Checklist "Observabilidade": a model whose keep-alive ran out has left the GPU.

The worker publishes its state the moment a model leaves the GPU, so a published state that
still shows an idle model on the GPU past its expiry (beyond ``EXPIRY_GRACE_S``) means the
keep-alive timer did not run: VRAM another tool was promised stays taken.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from audiovoice_ops.core.doctor.report import FAIL, PASS, SKIPPED, Check
from audiovoice_ops.core.doctor.sources import Sources, api_reason

EXPIRY_GRACE_S = 5.0  # the timer's own latency plus the publish round trip

TITLE = "idle models leave the GPU when their keep-alive runs out"


def check_keep_alive_expiry(src: Sources) -> Check:
    if not src.api_expected or src.models is None:
        return _check(SKIPPED, api_reason(src))
    if not src.models.ok:
        return _check(SKIPPED, f"/admin/models: {src.models.error}")
    workers = src.models.parsed.workers
    if not workers:
        return _check(SKIPPED, "no worker has published its models")
    now = datetime.now(timezone.utc)
    overdue = [line for w in workers for m in w.models if (line := _overdue(w.worker, m, now))]
    if overdue:
        return _check(
            FAIL,
            "; ".join(overdue),
            f"avops models unload ENGINE frees it now; then avops logs {src.worker_or()} "
            "(look for 'keep-alive expiry failed')",
        )
    on_gpu = sum(m.state == "gpu" for w in workers for m in w.models)
    return _check(PASS, f"{len(workers)} worker(s), {on_gpu} model(s) on the GPU, none overdue")


def _overdue(worker: str, model: Any, now: datetime) -> str | None:
    """Why this idle GPU model should have left by now, or None."""
    if model.state != "gpu" or model.in_use:
        return None
    if model.keep_alive_s == 0:
        return f"{model.engine} on {worker} is idle on the GPU with a keep-alive of 0"
    if model.expires_at is None:
        return None
    late = (now - datetime.fromisoformat(model.expires_at)).total_seconds()
    if late > EXPIRY_GRACE_S:
        return f"{model.engine} on {worker} is still on the GPU {late:.0f}s past its keep-alive"
    return None


def _check(status: str, reason: str, fix: str | None = None) -> Check:
    return Check("vram.keep_alive", "observability", TITLE, status, reason, fix)
