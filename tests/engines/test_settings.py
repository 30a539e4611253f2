import subprocess
import sys
from pathlib import Path

import pytest

from engines.errors import EngineConfigError
from engines.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("On", True),
        ("false", False),
        ("0", False),
        ("No", False),
        ("off", False),
        (" true ", True),
    ],
)
def test_low_vram_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("LOW_VRAM", raw)
    settings = load_settings()
    assert settings.low_vram is expected
    assert settings.raw("low_vram") == raw


def test_defaults():
    s = load_settings()
    assert (s.low_vram, s.f5tts_device, s.xtts_device, s.device_fallback_to_cpu) == (
        False,
        "auto",
        "auto",
        True,
    )
    assert (s.vram_offload, s.vram_reserve_mb) == ("cpu", 512)
    assert s.raw("low_vram") == "NOT_SET"
    assert s.xtts_dir == s.models_dir / "xtts"


@pytest.mark.parametrize(
    "var,value,fragment",
    [
        ("LOW_VRAM", "maybe", "accepted (case-insensitive): true/1/yes/on/false/0/no/off"),
        ("DEVICE_FALLBACK_TO_CPU", "sometimes", "accepted"),
        ("F5TTS_DEVICE", "gpu", "'auto', 'cuda' or 'cpu'"),
        ("XTTS_DEVICE", "tpu", "'auto', 'cuda' or 'cpu'"),
        ("VRAM_OFFLOAD", "disk", "'cpu' or 'none'"),
        ("VRAM_RESERVE_MB", "-5", "greater than or equal to 0"),
        ("VRAM_RESERVE_MB", "lots", "valid integer"),
    ],
)
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
    code = (
        "import sys, engines, engines.settings, engines.profiles, engines.errors;"
        "engines.load_settings(); engines.get_profile('f5tts_fast');"
        "heavy = [m for m in ('torch', 'f5_tts', 'TTS', 'torchaudio') if m in sys.modules];"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------- exact values and messages
def test_every_default():
    s = load_settings()
    assert (s.vram_release_timeout_s, s.models_dir) == (5.0, Path("/app/models"))
    assert (
        s.f5tts_ckpt_file,
        s.f5tts_vocab_file,
        s.f5tts_model_config,
        s.vocos_dir,
        s.xtts_model_dir,
    ) == (None, None, None, None, None)
    assert s.xtts_dir == Path("/app/models/xtts")


def test_xtts_model_dir_wins_over_models_dir():
    s = load_settings(models_dir="/m", xtts_model_dir="/x")
    assert s.xtts_dir == Path("/x")
    assert load_settings(models_dir="/m").xtts_dir == Path("/m/xtts")


@pytest.mark.parametrize(
    "field",
    ["f5tts_ckpt_file", "f5tts_vocab_file", "f5tts_model_config", "vocos_dir", "xtts_model_dir"],
)
def test_empty_path_settings_are_unset(monkeypatch, field):
    monkeypatch.setenv(field.upper(), "  ")
    assert getattr(load_settings(), field) is None
    monkeypatch.setenv(field.upper(), "/some/where")
    assert getattr(load_settings(), field) == Path("/some/where")


def test_choices_are_stripped_and_lowered(monkeypatch):
    monkeypatch.setenv("XTTS_DEVICE", " Cpu ")
    monkeypatch.setenv("F5TTS_DEVICE", "AUTO")
    s = load_settings()
    assert (s.xtts_device, s.f5tts_device) == ("cpu", "auto")


def test_lower_case_env_names_and_unknown_keys(monkeypatch):
    monkeypatch.setenv("low_vram", "yes")
    s = load_settings(not_a_setting="ignored")
    assert s.low_vram is True and not hasattr(s, "not_a_setting")


def test_overrides_win_and_are_kept_raw(monkeypatch):
    monkeypatch.setenv("LOW_VRAM", "false")
    s = load_settings(LOW_VRAM="on", vram_reserve_mb=0)
    assert s.low_vram is True and s.raw("low_vram") == "on" and s.raw("LOW_VRAM") == "on"
    assert s.vram_reserve_mb == 0 and s.raw("vram_reserve_mb") == "0"
    assert s.raw("xtts_device") == "NOT_SET"


@pytest.mark.parametrize(
    "value,expected",
    [(True, True), (False, False), (1, True), (0, False), ("YES", True), ("Off", False)],
)
def test_parse_bool_values(value, expected):
    from engines.settings import parse_bool

    assert parse_bool(value) is expected


def test_parse_bool_message():
    from engines.settings import ACCEPTED_BOOLS, parse_bool

    assert ACCEPTED_BOOLS == "true/1/yes/on/false/0/no/off"
    with pytest.raises(ValueError) as info:
        parse_bool("maybe")
    assert str(info.value) == (
        "invalid value 'maybe'; accepted (case-insensitive): true/1/yes/on/false/0/no/off"
    )


@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            {"low_vram": "maybe"},
            "LOW_VRAM: invalid value 'maybe'; accepted (case-insensitive): true/1/yes/on/false/0/no/off",
        ),
        (
            {"vram_reserve_mb": "lots"},
            "VRAM_RESERVE_MB: Input should be a valid integer, unable to parse string as an integer "
            "(got 'lots')",
        ),
        (
            {"vram_release_timeout_s": -1},
            "VRAM_RELEASE_TIMEOUT_S: Input should be greater than or equal to 0 (got -1)",
        ),
        (
            {"f5tts_device": "gpu", "vram_offload": "disk"},
            "F5TTS_DEVICE: Input should be 'auto', 'cuda' or 'cpu' (got 'gpu') (+1 more)",
        ),
        ({"xtts_device": None}, "XTTS_DEVICE: Input should be 'auto', 'cuda' or 'cpu' (got None)"),
    ],
)
def test_one_line_messages_exactly(overrides, message):
    with pytest.raises(EngineConfigError) as info:
        load_settings(**overrides)
    assert str(info.value) == message


def test_one_line_without_a_location_or_with_a_dict_input():
    from pydantic import BaseModel, ValidationError, model_validator

    from engines.settings import _one_line

    class Whole(BaseModel):
        a: int = 0

        @model_validator(mode="before")
        @classmethod
        def reject(cls, data):
            raise ValueError("whole model rejected")

    with pytest.raises(ValidationError) as info:
        Whole(a=1)
    # No field location: named "settings"; the dict input is not echoed.
    assert _one_line(info.value) == "settings: whole model rejected"


def test_settings_log_lines(caplog):
    from engines.settings import log_settings

    s = load_settings(
        low_vram="1",
        f5tts_device="cpu",
        xtts_device="cuda",
        device_fallback_to_cpu="no",
        vram_offload="none",
        vram_reserve_mb=256,
        models_dir="/models",
    )
    with caplog.at_level("INFO", logger="engines.settings"):
        log_settings(s)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "LOW_VRAM env=1 parsed=True"),
        (
            "INFO",
            "engine settings: F5TTS_DEVICE=cpu XTTS_DEVICE=cuda DEVICE_FALLBACK_TO_CPU=False "
            "VRAM_OFFLOAD=none VRAM_RESERVE_MB=256 MODEL_KEEP_ALIVE=0 MODELS_DIR=/models",
        ),
        (
            "INFO",
            "precision settings: FP16=auto F5TTS_FP16=auto XTTS_FP16=auto (auto: fp16 where it "
            "helps, never on CPU)",
        ),
    ]


def test_public_names():
    namespace = {}
    exec("from engines.settings import *", namespace)
    assert {
        "EngineSettings",
        "EngineConfigError",
        "get_settings",
        "load_settings",
        "parse_bool",
        "ACCEPTED_BOOLS",
    } <= set(namespace)
