"""Tiny F5-TTS and XTTS model directories for tests and benchmarks (no downloads).

``build_tiny_models(dest_dir)`` builds each model with the libraries' own classes
(f5_tts ``CFM`` + ``DiT``, ``vocos.Vocos``, coqui ``Xtts`` from ``XttsConfig``),
random weights, and saves them in the same on-disk layout as the official
releases, so the engines load them through exactly their production code path.
It returns the settings env vars pointing at them; e.g. in a service test::

    from engines.testing import build_tiny_models
    env = build_tiny_models(tmp_path / "models")
    monkeypatch.setenv(...) for each item, or subprocess env={**os.environ, **env}

Returned keys: F5TTS_CKPT_FILE, F5TTS_VOCAB_FILE, F5TTS_MODEL_CONFIG, VOCOS_DIR,
XTTS_MODEL_DIR, MODELS_DIR. Building both takes ~1-2 s on CPU and ~60 MB on disk
(the XTTS HiFi-GAN decoder and speaker encoder have fixed sizes). Seeds are fixed
so repeated builds are identical. Also ``write_test_wav`` for reference audio.
Requires the ``engines`` extra (torch, f5-tts, coqui-tts).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engines.registry import XTTS_LANGUAGES as REGISTERED_XTTS_LANGUAGES

# Small enough for ~1 s tests; dims must stay divisible by the head counts.
TINY_DIT_ARCH = dict(
    dim=64,
    depth=2,
    heads=2,
    ff_mult=2,
    text_dim=32,
    text_mask_padding=True,
    qk_norm=None,
    conv_layers=1,
    pe_attn_head=None,
    attn_backend="torch",
    attn_mask_enabled=False,
    checkpoint_activations=False,
)
# Space must be index 0 (f5_tts maps unknown characters to it).
TINY_VOCAB = [" "] + list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-")
# The languages of the released XTTS v2 config.json (declared once, in the registry).
XTTS_LANGUAGES = list(REGISTERED_XTTS_LANGUAGES)


def write_test_wav(
    path: Path,
    seconds: float = 2.0,
    sample_rate: int = 22050,
    channels: int = 1,
    freq: float = 220.0,
) -> Path:
    """A harmonic tone with a little noise: decodable, non-silent reference audio."""
    import soundfile as sf

    t = np.arange(int(seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(0)
    tone = 0.3 * np.sin(2 * np.pi * freq * t) + 0.1 * np.sin(2 * np.pi * 2 * freq * t)
    tone = (tone + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, sample_rate)
    return path


def _build_f5(dest: Path) -> dict[str, str]:
    import torch
    import yaml
    from safetensors.torch import save_file

    from engines._torchaudio import import_torchaudio

    import_torchaudio()
    from f5_tts.model import CFM, DiT

    f5_dir = dest / "f5tts"
    f5_dir.mkdir(parents=True, exist_ok=True)
    vocab_file = f5_dir / "vocab.txt"
    vocab_file.write_text("".join(ch + "\n" for ch in TINY_VOCAB), encoding="utf-8")
    config_file = f5_dir / "model.yaml"
    config = {
        "model": {
            "name": "F5TTS_tiny",
            "tokenizer": "custom",
            "backbone": "DiT",
            "arch": TINY_DIT_ARCH,
            "mel_spec": {
                "target_sample_rate": 24000,
                "n_mel_channels": 100,
                "hop_length": 256,
                "win_length": 1024,
                "n_fft": 1024,
                "mel_spec_type": "vocos",
            },
        }
    }
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")

    torch.manual_seed(0)
    model = CFM(
        transformer=DiT(**TINY_DIT_ARCH, text_num_embeds=len(TINY_VOCAB), mel_dim=100),
        mel_spec_kwargs=dict(
            n_fft=1024,
            hop_length=256,
            win_length=1024,
            n_mel_channels=100,
            target_sample_rate=24000,
            mel_spec_type="vocos",
        ),
        vocab_char_map={c: i for i, c in enumerate(TINY_VOCAB)},
    )
    # Same layout as the official model_*.safetensors: EMA weights, "ema_model." prefix.
    state = {f"ema_model.{k}": v.contiguous() for k, v in model.state_dict().items()}
    ckpt_file = f5_dir / "model_tiny.safetensors"
    save_file(state, str(ckpt_file))

    vocos_dir = dest / "vocos"
    _build_vocos(vocos_dir)
    return {
        "F5TTS_CKPT_FILE": str(ckpt_file),
        "F5TTS_VOCAB_FILE": str(vocab_file),
        "F5TTS_MODEL_CONFIG": str(config_file),
        "VOCOS_DIR": str(vocos_dir),
    }


def _build_vocos(vocos_dir: Path) -> None:
    import torch
    import yaml
    from vocos import Vocos

    vocos_dir.mkdir(parents=True, exist_ok=True)
    # Same file names and class paths as charactr/vocos-mel-24khz, smaller backbone.
    cfg = {
        "feature_extractor": {
            "class_path": "vocos.feature_extractors.MelSpectrogramFeatures",
            "init_args": {
                "sample_rate": 24000,
                "n_fft": 1024,
                "hop_length": 256,
                "n_mels": 100,
                "padding": "center",
            },
        },
        "backbone": {
            "class_path": "vocos.models.VocosBackbone",
            "init_args": {
                "input_channels": 100,
                "dim": 32,
                "intermediate_dim": 64,
                "num_layers": 1,
            },
        },
        "head": {
            "class_path": "vocos.heads.ISTFTHead",
            "init_args": {"dim": 32, "n_fft": 1024, "hop_length": 256, "padding": "center"},
        },
    }
    (vocos_dir / "config.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    torch.manual_seed(0)
    vocos = Vocos.from_hparams(str(vocos_dir / "config.yaml"))
    torch.save(vocos.state_dict(), vocos_dir / "pytorch_model.bin")


def _build_xtts(dest: Path) -> dict[str, str]:
    import torch

    from engines._torchaudio import import_torchaudio

    import_torchaudio()
    from importlib.resources import files

    from tokenizers import Tokenizer
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts, XttsArgs

    xtts_dir = dest / "xtts"
    xtts_dir.mkdir(parents=True, exist_ok=True)
    # BPE vocab from the tokenizer coqui-tts ships, plus the [START] and [lang]
    # special tokens XTTS's VoiceBpeTokenizer expects.
    tok = Tokenizer.from_file(
        str(files("TTS").joinpath("tts/utils/assets/tortoise/tokenizer.json"))
    )
    tok.add_special_tokens(["[START]"] + [f"[{lang}]" for lang in XTTS_LANGUAGES])
    tok.save(str(xtts_dir / "vocab.json"))

    args = XttsArgs(
        gpt_layers=2,
        gpt_n_model_channels=32,
        gpt_n_heads=2,
        decoder_input_dim=32,
        # Random weights rarely sample the stop token: bound generation length.
        gpt_max_audio_tokens=24,
        gpt_max_text_tokens=402,
        gpt_max_prompt_tokens=70,
        gpt_num_audio_tokens=1026,
        gpt_start_audio_token=1024,
        gpt_stop_audio_token=1025,
        gpt_use_perceiver_resampler=True,
        gpt_code_stride_len=1024,
    )
    config = XttsConfig(model_args=args, languages=XTTS_LANGUAGES)
    model = Xtts(config)
    model.tokenizer = __import__(
        "TTS.tts.layers.xtts.tokenizer", fromlist=["VoiceBpeTokenizer"]
    ).VoiceBpeTokenizer(vocab_file=str(xtts_dir / "vocab.json"))
    torch.manual_seed(0)
    model.init_models()  # sizes the GPT text embedding from the vocab
    torch.save({"model": model.state_dict(), "config": config.to_dict()}, xtts_dir / "model.pth")
    config.save_json(str(xtts_dir / "config.json"))
    return {"XTTS_MODEL_DIR": str(xtts_dir)}


def build_tiny_models(dest_dir) -> dict[str, str]:
    """Build tiny F5-TTS (+Vocos) and XTTS models under ``dest_dir``.

    Returns the engine settings env vars that point at them (see module docstring).
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    env = {"MODELS_DIR": str(dest)}
    env.update(_build_f5(dest))
    env.update(_build_xtts(dest))
    (dest / "tiny_models.json").write_text(json.dumps(env, indent=2), encoding="utf-8")
    return env


class FakeGpu:
    """A simulated GPU for the VRAM manager (same interface as vram.TorchCudaBackend).

    Memory is held by live ``FakeGpuModel`` instances on "cuda" and given back only
    when they are garbage-collected, so a leaked reference shows up as memory that
    never comes back - the same failure mode as real VRAM.
    """

    def __init__(self, total_mb: float = 1000.0) -> None:
        import torch

        self.total_mb = total_mb
        self.allocated = 0.0
        self.oom_errors = (torch.cuda.OutOfMemoryError,)
        self.empty_cache_calls = 0

    def available(self) -> bool:
        return True

    def mem_get_info(self) -> tuple[float, float]:
        return self.total_mb - self.allocated, self.total_mb

    def allocated_mb(self) -> float:
        return self.allocated

    def reserved_mb(self) -> float:
        return self.allocated

    def empty_cache(self) -> None:
        self.empty_cache_calls += 1

    def alloc(self, size_mb: float) -> None:
        import torch

        if self.allocated + size_mb > self.total_mb:
            raise torch.cuda.OutOfMemoryError(
                f"CUDA out of memory. Tried to allocate {size_mb:.0f} MiB "
                f"({self.total_mb - self.allocated:.0f} MiB free)"
            )
        self.allocated += size_mb


class FakeGpuModel:
    """A model whose ``.to(device)`` returns a copy, like tensors moving between devices."""

    def __init__(self, size_mb: float, gpu: FakeGpu, device: str = "cpu") -> None:
        import weakref

        self.size_mb, self.gpu, self.device = size_mb, gpu, device
        if device == "cuda":
            gpu.alloc(size_mb)
            weakref.finalize(self, _fake_release, gpu, size_mb)

    def to(self, device: str) -> "FakeGpuModel":
        return self if device == self.device else FakeGpuModel(self.size_mb, self.gpu, device)


def _fake_release(gpu: FakeGpu, size_mb: float) -> None:
    gpu.allocated -= size_mb
