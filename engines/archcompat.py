"""Can a torch build run on a GPU? Its ``torch.cuda.get_arch_list()`` against the GPU's compute
capability. Pure Python: the worker's CUDA report and the host CLI share it.

CUDA's binary compatibility rule: a GPU of compute capability X.Y runs

- SASS (``sm_XZ``, compiled machine code) of the same major version with Z <= Y (``sm_80`` runs
  on an 8.6 card), except the architecture-specific ``sm_90a``-style targets, which run only on
  exactly that version;
- PTX (``compute_AB``, intermediate code) of any version AB <= XY: the driver compiles it at
  load time (JIT; slow on first use, but it works).

Otherwise every kernel fails with "no kernel image is available for execution on the device":
a Blackwell card (12.0) on a CUDA 12.4 build, or an old card on a build that dropped it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

OK, INCOMPATIBLE, UNKNOWN = "ok", "incompatible", "unknown"

_ARCH = re.compile(r"^(sm|compute)_(\d+)([a-z]?)$")


@dataclass(frozen=True)
class Arch:
    kind: str  # "sm" (SASS) or "compute" (PTX)
    cc: tuple[int, int]
    specific: bool  # sm_90a: runs on exactly this compute capability

    @property
    def name(self) -> str:
        return f"{self.kind}_{self.cc[0]}{self.cc[1]}{'a' if self.specific else ''}"


@dataclass(frozen=True)
class ArchVerdict:
    status: str  # ok | incompatible | unknown
    reason: str
    via: Optional[str] = None  # the arch-list entry that runs it (ok only)


def parse_arch(entry: str) -> Optional[Arch]:
    """``sm_86`` -> SASS 8.6; ``compute_90`` -> PTX 9.0; ``sm_120`` -> 12.0. None: not an arch."""
    m = _ARCH.match(entry.strip().lower())
    if m is None:
        return None
    number = int(m.group(2))
    # "f" (family) targets run on the family like plain SASS; "a" only on the exact version.
    return Arch(m.group(1), (number // 10, number % 10), m.group(3) == "a")


def parse_cc(text: str) -> Optional[tuple[int, int]]:
    """``"8.6"`` -> (8, 6); None when it is not a compute capability."""
    major, _, minor = str(text or "").partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return None


def sm_name(cc: tuple[int, int]) -> str:
    return f"sm_{cc[0]}{cc[1]}"


def runs(arch: Arch, cc: tuple[int, int]) -> bool:
    """The rule for one arch-list entry."""
    if arch.kind == "compute":
        return arch.cc <= cc
    if arch.specific:
        return arch.cc == cc
    return arch.cc[0] == cc[0] and arch.cc[1] <= cc[1]


def check_arch(cc: tuple[int, int], arch_list: list[str]) -> ArchVerdict:
    """Whether a build with ``arch_list`` has kernels for a GPU of compute capability ``cc``."""
    archs = [a for a in (parse_arch(e) for e in arch_list or []) if a is not None]
    if not archs:
        return ArchVerdict(
            UNKNOWN,
            "cannot tell: torch reports no CUDA architectures (a CPU build, or CUDA unavailable)",
        )
    # Prefer native code over PTX JIT, and the newest entry that runs.
    for arch in sorted(archs, key=lambda a: (a.kind != "sm", -a.cc[0], -a.cc[1])):
        if runs(arch, cc):
            how = "PTX, compiled at load time (JIT)" if arch.kind == "compute" else "native code"
            return ArchVerdict(OK, f"{sm_name(cc)} runs the build's {arch.name} ({how})", arch.name)
    built = ", ".join(a.name for a in archs)
    return ArchVerdict(
        INCOMPATIBLE,
        f"{sm_name(cc)} is not in the build's architectures ({built}): "
        "'no kernel image is available for execution on the device'",
    )
