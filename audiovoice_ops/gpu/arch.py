"""Does the worker's torch build have kernels for the host's GPUs? The GPUs' compute capabilities
(NVML) against ``torch.cuda.get_arch_list()`` from the worker's ``engines.cuda_check`` report,
with the image variant that fixes a mismatch. Shared by ``avops check-gpu`` and ``avops doctor``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audiovoice_ops.gpu.variants import load_cuda_tags, load_variants, variants_for
from engines.archcompat import INCOMPATIBLE, OK, check_arch, parse_arch, parse_cc, sm_name

if TYPE_CHECKING:
    from audiovoice_ops.gpu.types import GpuSnapshot

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"


@dataclass
class ArchFinding:
    status: str  # pass | fail | skipped
    message: str
    fix: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def gpus_to_check(snapshot: GpuSnapshot | None, report: dict) -> list[tuple[str, tuple[int, int]]]:
    """(label, compute capability) of the host's GPUs; the worker's own device when NVML has none."""
    found = []
    for gpu in snapshot.gpus if snapshot is not None and snapshot.available else []:
        if gpu.compute_cap_tuple is not None:
            found.append((f"GPU {gpu.index} {gpu.name}", gpu.compute_cap_tuple))
    if not found:
        cc = parse_cc(report.get("compute_capability") or "")
        if cc is not None:
            found.append((str(report.get("device_name") or "the worker's GPU"), cc))
    return found


def assess(snapshot: GpuSnapshot | None, report: dict | None, no_report_reason: str) -> ArchFinding:
    """The verdict; ``no_report_reason`` says why there is no report (worker not running...)."""
    if report is None:
        return ArchFinding(SKIPPED, f"could not run: {no_report_reason}")
    torch_version = report.get("torch_version") or "?"
    if "arch_list" not in report:
        return ArchFinding(
            SKIPPED,
            "could not run: the worker's engines.cuda_check reports no arch_list "
            "(an image older than this avops)",
            "rebuild the worker image (avops rebuild)",
        )
    arch_list = [str(a) for a in report.get("arch_list") or []]
    details: dict[str, Any] = {"torch_version": torch_version, "arch_list": arch_list}
    gpus = gpus_to_check(snapshot, report)
    if not gpus:
        return ArchFinding(
            SKIPPED, "no GPU to compare with the worker's torch build", None, details
        )
    if not arch_list:
        return ArchFinding(
            SKIPPED,
            f"cannot tell: torch {torch_version} in the worker reports no CUDA architectures "
            "(a CPU build, or CUDA unavailable there)",
            None,
            details,
        )
    verdicts = [(label, cc, check_arch(cc, arch_list)) for label, cc in gpus]
    details["gpus"] = [
        {"gpu": label, "arch": sm_name(cc), "status": v.status, "via": v.via}
        for label, cc, v in verdicts
    ]
    built = f"torch {torch_version} (built for {', '.join(arch_list)})"
    broken = [(label, cc) for label, cc, v in verdicts if v.status == INCOMPATIBLE]
    if broken:
        names = "; ".join(f"{label} ({sm_name(cc)})" for label, cc in broken)
        return ArchFinding(
            FAIL,
            f"{built} has no kernels for {names}: "
            "'no kernel image is available for execution on the device'",
            advice([cc for _, cc in broken]),
            details,
        )
    runs = "; ".join(f"{label}: {v.reason}" for label, _, v in verdicts if v.status == OK)
    return ArchFinding(PASS, f"{built} runs here: {runs}", None, details)


def advice(ccs: list[tuple[int, int]]) -> str:
    """What fixes the GPUs of compute capabilities ``ccs``: the image variant to build, or why none."""
    data = load_cuda_tags()
    fixes = []
    for cc in dict.fromkeys(ccs):
        variants = variants_for(cc, data)
        if variants:
            best = variants[0]
            fixes.append(
                f"{sm_name(cc)} needs the {best.name} image variant (CUDA {best.cuda}, {best.gpus}): "
                f"set {best.env_lines()} in .env, then avops rebuild"
            )
        else:
            fixes.append(no_variant_advice(cc, data))
    return "; ".join(fixes)


def no_variant_advice(cc: tuple[int, int], data: dict) -> str:
    lowest = min(
        (a.cc for v in load_variants(data) for a in map(parse_arch, v.arch_list) if a is not None),
        default=(0, 0),
    )
    if cc < lowest:
        return (
            f"no avops image variant has kernels for {sm_name(cc)} (current torch builds dropped "
            "it): run the engines on CPU (F5TTS_DEVICE=cpu, XTTS_DEVICE=cpu in .env), or build "
            "with an older torch that still carries it (build args TORCH_INDEX_URL, TORCH_VERSION)"
        )
    return (
        f"no avops image variant has kernels for {sm_name(cc)} yet: build with a newer torch "
        "that lists it (build args BASE_IMAGE, TORCH_INDEX_URL, TORCH_VERSION)"
    )
