"""Checklist "GPU": the worker's torch build has kernels for the host's GPUs (a Blackwell card on a
CUDA 12.4 build, or an old card on a build that dropped it, fails every job with "no kernel image
is available"). The verdict and the image-variant advice are ``audiovoice_ops.gpu.arch``'s."""

from __future__ import annotations

from audiovoice_ops.core.doctor.report import Check
from audiovoice_ops.core.doctor.sources import Sources

TITLE = "the worker's torch build runs the host's GPUs"


def check_gpu_arch(src: Sources) -> Check:
    from audiovoice_ops.gpu.arch import assess
    from audiovoice_ops.gpu.check import check_container

    if src.gpu is None or not src.gpu.available or not src.gpu.gpus:
        reason = src.gpu.error if src.gpu is not None and src.gpu.error else "no GPU"
        return Check("gpu.arch", "gpu", TITLE, "skipped", f"no GPU on this host ({reason})")
    # Runs `python -m engines.cuda_check --json` in the worker, as avops check-gpu does.
    container = check_container(src.project, host_has_gpu=True)
    report = container.details.get("cuda_check")
    finding = assess(src.gpu, report, container.message)
    return Check("gpu.arch", "gpu", TITLE, finding.status, finding.message, finding.fix)
