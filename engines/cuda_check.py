"""CUDA availability report, logged at worker startup.

``python -m engines.cuda_check --json`` prints the report (``avops check-gpu`` runs
this inside the worker container). Exit code 0 always: no GPU is a finding, not a crash.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict, dataclass, field
from typing import Optional

from engines.archcompat import INCOMPATIBLE, check_arch
from engines.precision import fp16_supported

logger = logging.getLogger(__name__)

# The one definition, also read by engines.f5tts and the host CLI (avops check-gpu): this module
# imports no ML library at the top, so avops can import it. The fp16 rule is engines.precision's,
# the architecture rule engines.archcompat's.
SMALL_GPU_GB = 6.0  # below this the seed recommends LOW_VRAM=true


@dataclass
class CudaReport:
    available: bool
    torch_version: Optional[str] = None
    cuda_version: Optional[str] = None
    cudnn_version: Optional[int] = None
    device_count: int = 0
    device_name: Optional[str] = None
    compute_capability: Optional[str] = None
    total_vram_mb: Optional[float] = None
    free_vram_mb: Optional[float] = None
    recommend_low_vram: bool = False
    fp16_recommended: bool = False
    # torch.cuda.get_arch_list(): the architectures this torch build has kernels for
    # (avops check-gpu compares them with the host's GPUs); empty on a CPU build.
    arch_list: list[str] = field(default_factory=list)
    arch_compatible: Optional[bool] = None  # device 0 against arch_list; None: cannot tell
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _probe() -> CudaReport:
    try:
        import torch
    except ImportError:
        return CudaReport(available=False, notes=["torch is not installed"])
    report = CudaReport(
        available=bool(torch.cuda.is_available()),
        torch_version=torch.__version__,
        cuda_version=torch.version.cuda,
    )
    if not report.available:
        report.notes.append("CUDA not available: models will run on CPU")
        return report
    report.cudnn_version = torch.backends.cudnn.version()
    report.device_count = torch.cuda.device_count()
    props = torch.cuda.get_device_properties(0)
    report.device_name = props.name
    report.compute_capability = f"{props.major}.{props.minor}"
    free, total = torch.cuda.mem_get_info(0)
    report.total_vram_mb = round(total / 2**20, 1)
    report.free_vram_mb = round(free / 2**20, 1)
    report.recommend_low_vram = total / 2**30 < SMALL_GPU_GB
    report.fp16_recommended, fp16_why = fp16_supported((props.major, props.minor), props.name)
    if report.recommend_low_vram:
        report.notes.append(
            f"small GPU ({total / 2**30:.2f} GB < {SMALL_GPU_GB:.0f} GB): set LOW_VRAM=true"
        )
    if not report.fp16_recommended:
        report.notes.append(fp16_why)
    _check_arch(report, torch, (props.major, props.minor))
    return report


def _check_arch(report: CudaReport, torch, cc: tuple[int, int]) -> None:
    report.arch_list = list(torch.cuda.get_arch_list())
    verdict = check_arch(cc, report.arch_list)
    report.arch_compatible = None if not report.arch_list else verdict.status != INCOMPATIBLE
    if verdict.status == INCOMPATIBLE:
        report.notes.append(f"torch {report.torch_version}: {verdict.reason}")


def check_cuda(log: bool = True) -> CudaReport:
    """Probe CUDA and (by default) log the findings like the seed's startup check."""
    report = _probe()
    if log:
        _log(report)
    return report


def _log(report: CudaReport) -> None:
    if not report.available:
        logger.warning(
            "CUDA not available (torch %s): models will run on CPU", report.torch_version
        )
        return
    logger.info(
        "CUDA available: %s (compute capability %s, CUDA %s, cuDNN %s, torch %s)",
        report.device_name,
        report.compute_capability,
        report.cuda_version,
        report.cudnn_version,
        report.torch_version,
    )
    logger.info("VRAM total: %.0f MB, free: %.0f MB", report.total_vram_mb, report.free_vram_mb)
    for note in report.notes:
        logger.warning(note)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engines.cuda_check", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = check_cuda(log=not args.json)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for key, value in report.to_dict().items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    sys.exit(main())
