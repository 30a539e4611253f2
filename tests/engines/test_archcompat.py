"""CUDA's binary compatibility rule (engines.archcompat): GPU compute capability vs a torch arch list."""

from __future__ import annotations

import pytest

from engines.archcompat import INCOMPATIBLE, OK, UNKNOWN, check_arch, parse_arch, parse_cc

CU124 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
CU128 = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"]


@pytest.mark.parametrize(
    "cc, arch_list, status, via",
    [
        ((6, 1), CU124, OK, "sm_60"),  # GTX 1050 Ti: same major, lower minor
        ((8, 6), CU124, OK, "sm_86"),  # exact
        ((8, 9), CU124, OK, "sm_86"),  # Ada on Ampere SASS
        ((9, 0), CU124, OK, "sm_90"),
        ((12, 0), CU124, INCOMPATIBLE, None),  # Blackwell on a CUDA 12.4 build
        ((12, 0), CU128, OK, "sm_120"),
        ((12, 1), CU128, OK, "sm_120"),
        ((5, 0), CU128, INCOMPATIBLE, None),  # Maxwell dropped
        ((6, 1), CU128, INCOMPATIBLE, None),  # Pascal dropped
        ((3, 7), CU124, INCOMPATIBLE, None),  # Kepler
        ((8, 0), ["sm_86"], INCOMPATIBLE, None),  # SASS never runs on an older minor
        ((8, 6), ["sm_75", "compute_75"], OK, "compute_75"),  # PTX JIT forward
        ((7, 0), ["sm_75", "compute_75"], INCOMPATIBLE, None),  # PTX never runs backwards
        ((9, 0), ["sm_90a"], OK, "sm_90a"),
        ((10, 0), ["sm_90a"], INCOMPATIBLE, None),  # arch-specific: exactly 9.0
        ((8, 6), [], UNKNOWN, None),  # CPU torch: cannot tell
        ((8, 6), ["weird"], UNKNOWN, None),
    ],
)
def test_rule_table(cc, arch_list, status, via):
    verdict = check_arch(cc, arch_list)
    assert (verdict.status, verdict.via) == (status, via), verdict.reason


def test_native_code_is_preferred_over_jit():
    verdict = check_arch((12, 0), CU128)
    assert verdict.via == "sm_120" and "native code" in verdict.reason
    jit = check_arch((13, 0), CU128)
    assert jit.status == OK and jit.via == "compute_120" and "JIT" in jit.reason


def test_incompatible_reason_names_the_error_users_see():
    reason = check_arch((12, 0), CU124).reason
    assert "sm_120" in reason and "sm_90" in reason and "no kernel image is available" in reason


def test_parsing():
    assert parse_arch("sm_120").cc == (12, 0) and parse_arch("compute_90").kind == "compute"
    assert parse_arch("sm_90a").specific and parse_arch("SM_86").name == "sm_86"
    assert parse_arch("gfx90a") is None
    assert parse_cc("12.0") == (12, 0) and parse_cc("7") == (7, 0) and parse_cc("x.y") is None


def test_cuda_check_reports_the_arch_list():
    import json
    import subprocess
    import sys
    from pathlib import Path

    import torch

    proc = subprocess.run(
        [sys.executable, "-m", "engines.cuda_check", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    report = json.loads(proc.stdout)
    assert report["arch_list"] == torch.cuda.get_arch_list()
    if not torch.cuda.is_available():
        assert report["arch_list"] == [] and report["arch_compatible"] is None
    else:
        cc = torch.cuda.get_device_capability(0)
        assert report["arch_compatible"] is (check_arch(cc, report["arch_list"]).status == OK)
