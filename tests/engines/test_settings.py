import subprocess
import sys
from pathlib import Path

import pytest

from engines.errors import EngineConfigError
from engines.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw,expected", [
    ("true", True), ("TRUE", True), ("1", True), ("yes", True), ("On", True),
    ("false", False), ("0", False), ("No", False), ("off", False), (" true ", True),
])
def test_low_vram_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("LOW_VRAM", raw)
    settings = load_settings()
    assert settings.low_vram is expected
    assert settings.raw("low_vram") == raw


def test_defaults():
    s = load_settings()
    assert (s.low_vram, s.f5tts_device, s.xtts_device, s.device_fallback_to_cpu) == (False, "auto", "auto", True)
    assert (s.vram_offload, s.vram_reserve_mb) == ("cpu", 512)
    assert s.raw("low_vram") == "NOT_SET"
    assert s.xtts_dir == s.models_dir / "xtts"


@pytest.mark.parametrize("var,value,fragment", [
    ("LOW_VRAM", "maybe", "accepted (case-insensitive): true/1/yes/on/false/0/no/off"),
    ("DEVICE_FALLBACK_TO_CPU", "sometimes", "accepted"),
    ("F5TTS_DEVICE", "gpu", "'auto', 'cuda' or 'cpu'"),
    ("XTTS_DEVICE", "tpu", "'auto', 'cuda' or 'cpu'"),
    ("VRAM_OFFLOAD", "disk", "'cpu' or 'none'"),
    ("VRAM_RESERVE_MB", "-5", "greater than or equal to 0"),
    ("VRAM_RESERVE_MB", "lots", "valid integer"),
])
def test_invalid_settings_name_the_variable(monkeypatch, var, value, fragment):
    monkeypatch.setenv(var, value)
    with pytest.raises(EngineConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{var}: ")
    assert fragment in message
    assert "\n" not in message


def test_case_insensitive_choices(monkeypatch):
    monkeypatch.setenv("F5TTS_DEVICE", "CUDA")
    monkeypatch.setenv("VRAM_OFFLOAD", "None")
    s = load_settings()
    assert (s.f5tts_device, s.vram_offload) == ("cuda", "none")


def test_startup_log_line(monkeypatch, caplog):
    from engines.settings import get_settings

    monkeypatch.setenv("LOW_VRAM", "true")
    get_settings.cache_clear()
    with caplog.at_level("INFO", logger="engines.settings"):
        get_settings()
        get_settings()  # cached: logged once
    assert [r.getMessage() for r in caplog.records].count("LOW_VRAM env=true parsed=True") == 1


def test_import_engines_does_not_import_torch():
    code = ("import sys, engines, engines.settings, engines.profiles, engines.errors;"
            "engines.load_settings(); engines.get_profile('f5tts_fast');"
            "heavy = [m for m in ('torch', 'f5_tts', 'TTS', 'torchaudio') if m in sys.modules];"
            "print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
