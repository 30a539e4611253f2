import json
import subprocess
import sys
from pathlib import Path

import pytest

from engines.device import select_device
from engines.errors import DeviceUnavailableError, EngineConfigError, SynthesisError
from engines.profiles import PROFILES, get_profile, profile_names


@pytest.mark.parametrize(
    "requested,fallback,cuda,expected",
    [
        ("auto", True, True, "cuda"),
        ("auto", True, False, "cpu"),
        ("auto", False, False, "cpu"),
        ("cuda", True, True, "cuda"),
        ("cuda", True, False, "cpu"),
        ("cuda:0", False, True, "cuda"),
        ("cpu", True, True, "cpu"),
        ("cpu", False, False, "cpu"),
        ("CPU", False, True, "cpu"),
    ],
)
def test_select_device_matrix(requested, fallback, cuda, expected):
    assert select_device(requested, fallback, cuda_available=cuda) == expected


def test_cuda_without_fallback_is_a_clear_error():
    with pytest.raises(DeviceUnavailableError, match="DEVICE_FALLBACK_TO_CPU=false"):
        select_device("cuda", False, cuda_available=False)


def test_cuda_fallback_warns(caplog):
    with caplog.at_level("WARNING"):
        assert select_device("cuda", True, cuda_available=False) == "cpu"
    assert "falling back to CPU" in caplog.text


def test_invalid_device_request():
    with pytest.raises(EngineConfigError):
        select_device("gpu", True, cuda_available=True)


def test_profiles():
    assert {n: PROFILES[n].nfe_step for n in profile_names("f5tts")} == {
        "f5tts_fast": 16,
        "f5tts_balanced": 32,
        "f5tts_quality": 64,
    }
    assert set(profile_names("xtts")) == {"xtts_fast", "xtts_balanced", "xtts_quality"}
    assert get_profile(None, "xtts").name == "xtts_balanced"
    with pytest.raises(SynthesisError, match="accepted: f5tts_fast"):
        get_profile("xtts_fast", "f5tts")
    with pytest.raises(SynthesisError):
        get_profile("ultra")


def test_cuda_check_json_cli():
    proc = subprocess.run(
        [sys.executable, "-m", "engines.cuda_check", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    import torch

    assert report["available"] is torch.cuda.is_available()
    assert report["torch_version"] == torch.__version__
    for key in (
        "device_name",
        "compute_capability",
        "total_vram_mb",
        "free_vram_mb",
        "cuda_version",
        "cudnn_version",
        "recommend_low_vram",
        "fp16_recommended",
    ):
        assert key in report


def test_check_cuda_logs(caplog):
    from engines.cuda_check import check_cuda

    with caplog.at_level("INFO", logger="engines.cuda_check"):
        report = check_cuda()
    assert caplog.records
    if not report.available:
        assert "CUDA not available" in caplog.text
