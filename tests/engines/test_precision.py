"""The fp16 policy (engines.precision): the rule, its settings, and the engines applying it."""

from __future__ import annotations

import logging

import pytest

from engines import precision
from engines.errors import EngineConfigError
from engines.precision import fp16_supported, resolve_fp16
from engines.settings import load_settings

FP16_ENV = ("FP16", "F5TTS_FP16", "XTTS_FP16")


@pytest.fixture(autouse=True)
def fresh_warnings():
    precision._warned.clear()  # each test sees its own once-only warnings (conftest clears FP16*)


@pytest.mark.parametrize(
    "setting, device, cc, name, expected",
    [
        ("auto", "cuda", (6, 1), "NVIDIA GeForce GTX 1050 Ti", False),
        ("auto", "cuda", (7, 5), "NVIDIA GeForce GTX 1660 SUPER", False),
        ("auto", "cuda", (7, 5), "GeForce GTX 1650", False),
        ("auto", "cuda", (7, 5), "NVIDIA T1000 8GB", False),
        ("auto", "cuda", (7, 5), "NVIDIA GeForce RTX 2060", True),
        ("auto", "cuda", (7, 5), "Tesla T4", True),
        ("auto", "cuda", (7, 0), "Tesla V100-SXM2-16GB", True),
        ("auto", "cuda", (8, 6), "NVIDIA GeForce RTX 3050 Laptop GPU", True),
        ("auto", "cuda", (12, 0), "NVIDIA GeForce RTX 5090", True),
        ("auto", "cpu", None, "", False),
        ("on", "cpu", None, "", False),  # never on CPU
        ("on", "cuda", (6, 1), "NVIDIA GeForce GTX 1050 Ti", True),  # honoured, with a warning
        ("on", "cuda", (7, 5), "NVIDIA GeForce GTX 1660 SUPER", True),
        ("off", "cuda", (8, 6), "NVIDIA GeForce RTX 3090", False),
        ("off", "cuda", (12, 0), "NVIDIA GeForce RTX 5090", False),
    ],
)
def test_rule_table(setting, device, cc, name, expected):
    assert resolve_fp16(setting, device, cc, name) is expected


def test_reasons_name_the_cause():
    assert "< 7.0" in fp16_supported((6, 1), "NVIDIA GeForce GTX 1050 Ti")[1]
    ok, why = fp16_supported((7, 5), "NVIDIA GeForce GTX 1660 SUPER")
    assert not ok and "GTX 16xx" in why and "1660 SUPER" in why
    assert fp16_supported((8, 9), "NVIDIA GeForce RTX 4090") == (
        True,
        "compute capability 8.9 has tensor cores: fp16 is worth it",
    )


def test_warnings_once(caplog):
    with caplog.at_level(logging.WARNING, logger="engines.precision"):
        for _ in range(3):
            assert resolve_fp16("on", "cpu", engine="f5tts") is False
            assert resolve_fp16("on", "cuda", (6, 1), "GTX 1050 Ti", engine="xtts") is True
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "f5tts: FP16=on ignored on cpu: fp32 on CPU",
        "xtts: FP16=on honoured, but compute capability 6.1 < 7.0: no tensor cores, "
        "fp16 brings no benefit, keep fp32",
    ]


def test_resolve_refuses_unknown_setting():
    with pytest.raises(ValueError, match="auto, on, off"):
        resolve_fp16("yes", "cuda", (8, 6), "RTX 3090")


# ---------------------------------------------------------------------------- settings
@pytest.mark.parametrize(
    "env, f5, xtts",
    [
        ({}, "auto", "auto"),
        ({"FP16": "OFF"}, "off", "off"),
        ({"FP16": " on ", "XTTS_FP16": "off"}, "on", "off"),
        ({"FP16": "off", "F5TTS_FP16": "Auto", "XTTS_FP16": ""}, "auto", "off"),
        ({"FP16": ""}, "auto", "auto"),
    ],
)
def test_settings_from_env(monkeypatch, env, f5, xtts):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.fp16_setting("f5tts"), settings.fp16_setting("xtts")) == (f5, xtts)


@pytest.mark.parametrize("name", FP16_ENV)
def test_invalid_setting_is_one_line_naming_the_variable(monkeypatch, name):
    monkeypatch.setenv(name, "half")
    with pytest.raises(EngineConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "'auto', 'on' or 'off'" in message
    assert "'half'" in message and "\n" not in message


def test_log_settings_shows_effective_values(monkeypatch, caplog):
    from engines.settings import log_settings

    monkeypatch.setenv("FP16", "off")
    monkeypatch.setenv("F5TTS_FP16", "on")
    with caplog.at_level(logging.INFO, logger="engines.settings"):
        log_settings(load_settings())
    assert "precision settings: FP16=off F5TTS_FP16=on XTTS_FP16=off" in caplog.text
    assert "LOW_VRAM env=" in caplog.text  # the existing lines stay


# ---------------------------------------------------------------------------- engines
@pytest.fixture
def engine_for(make_settings):
    from engines import get_engine
    from engines.vram import VramManager

    def make(name, **overrides):
        settings = make_settings(**overrides)
        return get_engine(name, settings=settings, vram_manager=VramManager(settings))

    return make


def test_f5_on_cpu_loads_fp32_even_with_fp16_on(engine_for, ref_wav, caplog):
    import torch

    engine = engine_for("f5tts", f5tts_device="cpu", fp16="on")
    with caplog.at_level(logging.INFO):
        with engine.vram.load_model(engine.name, engine._load, "cpu") as model:
            dtypes = {p.dtype for p in model["cfm"].parameters()}
    assert dtypes == {torch.float32}
    assert engine.dtype == "float32"
    assert "FP16=on ignored on cpu" in caplog.text
    assert "F5TtsEngine loaded on cpu in float32" in caplog.text
    voice = engine.prepare_voice(ref_wav, ref_text="reference.")
    result = engine.synthesize("Hello there.", voice, profile="f5tts_fast")
    assert result.device == "cpu" and engine.dtype == "float32"


def test_xtts_on_cpu_runs_fp32_with_fp16_on(engine_for, ref_wav):
    engine = engine_for("xtts", xtts_device="cpu", fp16="on")
    voice = engine.prepare_voice(ref_wav, language="en")
    result = engine.synthesize("Hello there.", voice, language="en", profile="xtts_fast")
    assert result.device == "cpu" and engine.dtype == "float32"


# ---------------------------------------------------------------------------- on a GPU
def _cuda_with_fp16():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA: torch.cuda.is_available() is False on this host")
    cc = torch.cuda.get_device_capability(0)
    ok, why = fp16_supported(cc, torch.cuda.get_device_name(0))
    if not ok:
        pytest.skip(f"this GPU is not an fp16 GPU for FP16=auto: {why}")
    return torch


@pytest.mark.gpu
@pytest.mark.parametrize("setting, expected", [("auto", "float16"), ("off", "float32")])
def test_f5_on_gpu_follows_fp16(engine_for, ref_wav, setting, expected):
    torch = _cuda_with_fp16()
    engine = engine_for(
        "f5tts", f5tts_device="cuda", device_fallback_to_cpu=False, f5tts_fp16=setting
    )
    with engine.vram.load_model(engine.name, engine._load, "cuda") as model:
        cfm_dtypes = {p.dtype for p in model["cfm"].parameters()}
        vocoder_dtypes = {p.dtype for p in model["vocoder"].parameters()}
        assert next(model["cfm"].parameters()).device.type == "cuda"
    assert cfm_dtypes == {getattr(torch, expected)}
    assert vocoder_dtypes == {torch.float32}  # f5_tts's vocoder stays fp32
    voice = engine.prepare_voice(ref_wav, ref_text="reference clip.")
    result = engine.synthesize("Hello from the GPU.", voice, profile="f5tts_fast")
    assert result.device == "cuda" and engine.dtype == expected and result.duration_s > 0.2
    engine.unload()


@pytest.mark.gpu
@pytest.mark.parametrize("setting, expected", [("auto", "float16"), ("off", "float32")])
def test_xtts_on_gpu_follows_fp16(engine_for, ref_wav, monkeypatch, setting, expected):
    torch = _cuda_with_fp16()
    engine = engine_for("xtts", xtts_device="cuda", device_fallback_to_cpu=False, fp16=setting)
    seen = []
    real_decoder = None

    def spy(model_self, *args, **kwargs):
        seen.append(torch.is_autocast_enabled("cuda"))
        return real_decoder(model_self, *args, **kwargs)

    from TTS.tts.models.xtts import Xtts

    real_decoder = Xtts.inference
    monkeypatch.setattr(Xtts, "inference", spy)
    voice = engine.prepare_voice(ref_wav, language="en")
    result = engine.synthesize("Hello from the GPU.", voice, language="en", profile="xtts_fast")
    assert result.device == "cuda" and engine.dtype == expected and result.duration_s > 0.2
    assert seen and set(seen) == {expected == "float16"}
    engine.unload()
