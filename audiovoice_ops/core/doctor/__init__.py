"""``avops doctor``: the seed's "Checklist Final de Validação" as checks.

Each check answers pass / warn / fail / skipped, with the reason and a one-line fix. Sources are
read once (compose model, Docker inventory, NVML, ``GET /health`` and ``GET /admin/vram``) and a
source that is missing turns the checks that need it into ``skipped`` (or ``fail`` where the
checklist requires the source: an unreachable Docker Engine fails the container checks).

One module per checklist group; ``run_doctor`` runs them in the checklist's order.
"""

from __future__ import annotations

from audiovoice_ops.core.doctor.containers import (
    check_containers,
    check_dangling_images,
    check_env_drift,
    check_health,
    check_orphans,
)
from audiovoice_ops.core.doctor.dockerfile import (
    check_base_image,
    check_gpu_reservation,
    check_healthchecks,
    classify_image,
    dockerfile_base_images,
    load_cuda_tags,
)
from audiovoice_ops.core.doctor.gpuarch import check_gpu_arch
from audiovoice_ops.core.doctor.hosts import check_worker_hosts
from audiovoice_ops.core.doctor.lowvram import check_f5tts_cuda, check_low_vram
from audiovoice_ops.core.doctor.observability import (
    check_api_health,
    check_vram_baseline,
    check_vram_endpoint,
)
from audiovoice_ops.core.doctor.ownership import check_unowned_voices
from audiovoice_ops.core.doctor.redisexposure import check_redis_exposure
from audiovoice_ops.core.doctor.report import (
    FAIL,
    PASS,
    SKIPPED,
    WARN,
    Check,
    DoctorReport,
)
from audiovoice_ops.core.doctor.residency import check_keep_alive_expiry
from audiovoice_ops.core.doctor.security import (
    check_api_auth,
    check_env_file_mode,
    check_public_bind,
    check_root_containers,
)
from audiovoice_ops.core.doctor.sources import DEFAULT_MAX_AGE_S, Sources, gather

__all__ = [
    "FAIL",
    "PASS",
    "SKIPPED",
    "WARN",
    "Check",
    "DoctorReport",
    "Sources",
    "classify_image",
    "dockerfile_base_images",
    "gather",
    "load_cuda_tags",
    "run_doctor",
]


def run_doctor(src: Sources, max_age_s: float = DEFAULT_MAX_AGE_S) -> DoctorReport:
    report = DoctorReport(project=src.stack.project)
    for check in (
        check_containers,
        check_health,
        check_orphans,
        check_worker_hosts,
        check_dangling_images,
        check_env_drift,
        check_low_vram,
        check_f5tts_cuda,
        check_gpu_arch,
        check_base_image,
        check_healthchecks,
        check_gpu_reservation,
        check_api_health,
    ):
        report.checks.append(check(src))
    report.checks.append(check_vram_endpoint(src, max_age_s))
    report.checks.append(check_vram_baseline(src))
    report.checks.append(check_keep_alive_expiry(src))
    for check in (
        check_api_auth,
        check_env_file_mode,
        check_public_bind,
        check_redis_exposure,
        check_root_containers,
        check_unowned_voices,
    ):
        report.checks.append(check(src))
    return report
