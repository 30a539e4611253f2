"""Fixtures for engines/ tests: isolated settings env, tiny models on disk, reference audio.

No test downloads anything: HF_HUB_OFFLINE=1 and the models are built by
``engines.testing.build_tiny_models`` with the libraries' own classes.
"""

from __future__ import annotations

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ENGINE_ENV = (
    "LOW_VRAM",
    "F5TTS_DEVICE",
    "XTTS_DEVICE",
    "DEVICE_FALLBACK_TO_CPU",
    "VRAM_OFFLOAD",
    "VRAM_RESERVE_MB",
    "VRAM_RELEASE_TIMEOUT_S",
    "MODELS_DIR",
    "F5TTS_CKPT_FILE",
    "F5TTS_VOCAB_FILE",
    "F5TTS_MODEL_CONFIG",
    "VOCOS_DIR",
    "XTTS_MODEL_DIR",
    "FP16",
    "F5TTS_FP16",
    "XTTS_FP16",
)


@pytest.fixture(autouse=True)
def clean_engine_env(monkeypatch):
    """Every test starts from defaults, whatever the developer's shell exports."""
    for name in ENGINE_ENV:
        monkeypatch.delenv(name, raising=False)
    yield
    from engines.settings import get_settings

    get_settings.cache_clear()
    import engines.vram as vram

    vram._manager = None


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    from engines.testing import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny_models"))


@pytest.fixture
def make_settings(tiny_models):
    """Settings pointing at the tiny models; keyword overrides win (lower-case field names)."""
    from engines.settings import load_settings

    def make(**overrides):
        paths = {k.lower(): v for k, v in tiny_models.items()}
        return load_settings(**{**paths, **overrides})

    return make


@pytest.fixture(scope="session")
def ref_wav(tmp_path_factory):
    from engines.testing import write_test_wav

    return write_test_wav(
        tmp_path_factory.mktemp("audio") / "ref.wav", seconds=2.0, sample_rate=22050
    )
