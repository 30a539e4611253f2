"""The GPU verification kit (bench/gpu_verify.sh + bench/gpu_verify.py) on this host.

On a host without CUDA every GPU step must skip with its reason and the rest pass, so CI keeps
the kit working until a GPU runs it; a failing step must make the exit code 1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
KIT_SCRIPT = REPO / "bench" / "gpu_verify.sh"
SNAPSHOT = REPO / "tests" / "gpu" / "snapshots" / "one_gpu_processes.json"
KIT_TIMEOUT_S = 120


def load_kit():
    spec = importlib.util.spec_from_file_location("gpu_verify", REPO / "bench" / "gpu_verify.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_verify"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


gv = load_kit()


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory):
    """``bash bench/gpu_verify.sh REPORT_DIR`` once, on this (CPU-only) host."""
    if torch.cuda.is_available():
        pytest.skip("GPU host: the kit runs its GPU steps (minutes); run bench/gpu_verify.sh")
    report_dir = tmp_path_factory.mktemp("gpu_verify")
    env = {k: v for k, v in os.environ.items() if k != "AVOPS_NVML_SNAPSHOT"}
    env.update(PYTHON=sys.executable, GPU_WHEELS=str(report_dir / "no_wheels"))
    proc = subprocess.run(
        ["bash", str(KIT_SCRIPT), str(report_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=KIT_TIMEOUT_S,
    )
    return proc, report_dir


def md_rows(markdown: str) -> list[list[str]]:
    rows = [line for line in markdown.splitlines() if line.startswith("| ")][2:]  # past the header
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_cpu_host_every_step_present_skipped_with_reason_or_passed(cpu_run):
    proc, report_dir = cpu_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((report_dir / "gpu_verify.json").read_text())
    assert [s["name"] for s in report["steps"]] == [gv.step_name(step) for step in gv.STEPS]
    for step in report["steps"]:
        assert step["status"] in ("pass", "skip"), step
        assert step["reason"].strip(), step
    statuses = {s["name"]: s["status"] for s in report["steps"]}
    # no CUDA here: the GPU steps skip, the install check and the two CLIs on real NVML run
    for gpu_step in ("cuda_tests", "unload_baseline", "swap_vs_reload", "keep_alive_expiry"):
        assert statuses[gpu_step] == "skip"
    assert statuses["install"] == statuses["check_gpu_cli"] == statuses["vram_cli"] == "pass"
    assert report["ok"] is True and report["exit_code"] == 0


def test_cpu_host_markdown_agrees_with_json_and_is_printed(cpu_run):
    proc, report_dir = cpu_run
    report = json.loads((report_dir / "gpu_verify.json").read_text())
    markdown = (report_dir / "gpu_verify.md").read_text()
    rows = md_rows(markdown)
    assert [(row[0], row[1]) for row in rows] == [(s["name"], s["status"]) for s in report["steps"]]
    for row, step in zip(rows, report["steps"], strict=True):
        assert row[2] == gv.cell(step["reason"])
    assert markdown.strip() in proc.stdout


def test_cuda_test_files_are_the_ones_that_skip_without_cuda():
    files = gv.cuda_test_files()
    assert "tests/engines/test_gpu.py" in files
    assert "tests/engines/test_gpu_verify.py" not in files  # mentions CUDA only to skip a run


def test_a_step_that_raises_fails_and_makes_exit_1(tmp_path):
    def step_fine(kit):
        return gv.passed("fine", "nothing to see")

    def step_broken(kit):
        raise RuntimeError("boom\nsecond line")

    kit = gv.Kit(tmp_path)
    try:
        results = gv.run_steps(kit, (step_fine, step_broken))
    finally:
        kit.close()
    assert [(r.name, r.status) for r in results] == [("fine", "pass"), ("broken", "fail")]
    assert results[1].reason == "RuntimeError: boom"
    assert gv.exit_code(results) == 1
    assert gv.exit_code(results[:1]) == 0
    markdown = gv.write_report(tmp_path, results, {"python": "3", "gpu": "test"})
    report = json.loads((tmp_path / "gpu_verify.json").read_text())
    assert report["exit_code"] == 1 and report["ok"] is False
    assert md_rows(markdown)[1][:3] == ["broken", "fail", "RuntimeError: boom"]


class RecordedGpuKit(gv.Kit):
    """A kit that believes it has a GPU, and a CLI reading a recorded NVML snapshot (or not)."""

    def __init__(self, report_dir: Path, snapshot: Path | None) -> None:
        super().__init__(report_dir)
        self.snapshot = snapshot

    def cuda(self):
        return True, "recorded GPU"

    def env(self):
        env = super().env()
        if self.snapshot is not None:
            env["AVOPS_NVML_SNAPSHOT"] = str(self.snapshot)
        return env


def test_cli_steps_pass_on_a_recorded_gpu_and_fail_when_nvml_disagrees(tmp_path):
    kit = RecordedGpuKit(tmp_path, SNAPSHOT)
    try:
        check, vram = gv.step_check_gpu_cli(kit), gv.step_vram_cli(kit)
    finally:
        kit.close()
    assert check.status == "pass", check
    assert check.figures["layers"]["host"]["status"] == "pass"
    assert vram.status == "pass" and "RTX 3050" in vram.reason, vram
    nvml = gv.nvml_used_mib()
    if nvml is not None and "error" not in nvml:
        return  # a real driver here: there is no blind NVML to disagree with
    blind = RecordedGpuKit(tmp_path, None)  # a "GPU" the real NVML here cannot see
    try:
        assert gv.step_check_gpu_cli(blind).status == "fail"
        assert gv.step_vram_cli(blind).status == "fail"
    finally:
        blind.close()


def test_import_stub_imports_passes_decorators_and_raises_on_use(tmp_path):
    gv.write_import_stubs(tmp_path, ["gpukit_fake_lib"])
    code = """
import sys
sys.path.append(sys.argv[1])
import gpukit_fake_lib
from gpukit_fake_lib.sub.deeper import jit, Base
from _gpukit_stub import StubUsed

@jit
def bare(): return 1

@jit(nopython=True, cache=True)
def configured(): return 2

class Child(Base):
    pass

assert bare() == 1 and configured() == 2
assert gpukit_fake_lib.__version__ == "0+gpukit.stub"
try:
    gpukit_fake_lib.signal.get_window("hann", 1024)(42)
except StubUsed as exc:
    print("raised:", exc)
"""
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "raised: gpukit_fake_lib.signal.get_window was called at run time" in proc.stdout


def test_cuda_tests_step_records_each_outcome_and_fails_on_a_failure(tmp_path, monkeypatch):
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "import pytest\n\n"
        "def test_ok():\n    pass\n\n"
        "def test_skipped():\n    pytest.skip('not here')\n\n"
        "def test_broken():\n    assert False\n"
    )
    monkeypatch.setattr(gv, "cuda_test_files", lambda: [str(sample)])
    kit = RecordedGpuKit(tmp_path, None)
    try:
        step = gv.step_cuda_tests(kit)
    finally:
        kit.close()
    assert step.status == "fail", step
    assert (step.figures["pass"], step.figures["skip"], step.figures["fail"]) == (1, 1, 1)
    assert sorted(step.figures["tests"].values()) == ["fail", "pass", "skip"]
    assert (tmp_path / "cuda_tests.log").read_text().count("test_broken") >= 1
