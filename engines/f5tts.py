"""F5-TTS engine on the f5_tts package's own loaders (load_model, load_vocoder, infer_batch_process).

Fixes the seed's engine that hard-coded ``self.device = 'cpu'``: the device comes from
``F5TTS_DEVICE`` through ``select_device``, and the model lives in the VRAM manager.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Optional


from engines.audio import load_reference
from engines.base import ManagedEngine, SynthesisResult, VoiceConditioning, check_text, finish_waveform
from engines.errors import EngineConfigError, ReferenceAudioError
from engines.profiles import get_profile
from engines.settings import EngineSettings

logger = logging.getLogger(__name__)

SAMPLE_RATE = 24000  # F5-TTS mel/vocos rate, fixed by the released models
MAX_REFERENCE_S = 12.0  # f5_tts clips longer references to ~12 s; longer only costs time
# Used only when no local path is configured (a host with internet access).
HUB_CKPT = "hf://SWivid/F5-TTS/F5TTS_v1_Base/model_1250000.safetensors"
DEFAULT_CONFIG = "F5TTS_v1_Base.yaml"
SMALL_GPU_GB = 6.0


class F5TtsEngine(ManagedEngine):
    name = "f5tts"
    device_setting = "f5tts_device"
    # Its conditioning is the reference audio itself: nothing worth caching.
    caches_conditioning = False

    def __init__(self, settings: Optional[EngineSettings] = None, vram_manager: Any = None,
                 device: Optional[str] = None) -> None:
        super().__init__(settings, vram_manager, device)
        self._warn_small_gpu()
        self._paths = self._resolve_paths()

    # ------------------------------------------------------------------ protocol

    def prepare_voice(self, ref_audio_path, ref_text: Optional[str] = None,
                      language: Optional[str] = None) -> VoiceConditioning:
        if not ref_text or not ref_text.strip():
            # f5_tts would transcribe with a Whisper model downloaded from the hub: not offline-safe.
            raise ReferenceAudioError("ref_text: F5-TTS needs the transcript of the reference audio")
        ref = load_reference(ref_audio_path, SAMPLE_RATE, MAX_REFERENCE_S)
        text = _punctuate(ref_text.strip())
        return VoiceConditioning(self.name, {"samples": ref.samples, "sample_rate": SAMPLE_RATE},
                                 str(ref_audio_path), text, language, ref.duration_s)

    def synthesize(self, text: str, voice: VoiceConditioning, language: Optional[str] = None,
                   profile: Optional[str] = None) -> SynthesisResult:
        text = check_text(text)
        prof = get_profile(profile, self.name)
        start = time.perf_counter()
        timings: dict[str, float] = {}

        def job(model, device: str):
            timings["load_s"] = time.perf_counter() - start
            return self._infer(model, device, text, voice, prof)

        wave, device = self.vram.run(self.name, self._load, job, self.device, self._size_mb())
        timings["total_s"] = time.perf_counter() - start
        timings["infer_s"] = timings["total_s"] - timings.get("load_s", 0.0)
        result = SynthesisResult(finish_waveform(wave), SAMPLE_RATE, device, timings)
        logger.info("F5TtsEngine synthesis complete: duration=%.2fs bytes=%d device=%s "
                    "low_vram=%s profile=%s took=%.2fs", result.duration_s, result.waveform.nbytes,
                    device, self.settings.low_vram, prof.name, timings["total_s"])
        return result

    # ------------------------------------------------------------------ internals
    def _infer(self, model, device: str, text: str, voice: VoiceConditioning, prof):
        import torch

        from engines._torchaudio import import_torchaudio

        import_torchaudio()
        from f5_tts.infer.utils_infer import chunk_text, infer_batch_process

        if device == "cpu" and next(model.parameters()).dtype == torch.float16:
            model.float()  # after an OOM fallback: fp16 kernels are slow or missing on CPU
        audio = torch.from_numpy(voice.data["samples"])[None]
        ref_s = audio.shape[-1] / SAMPLE_RATE
        # Same chunk size rule as f5_tts.infer_process: keep each batch under ~22 s of audio.
        max_chars = int(len(voice.ref_text.encode("utf-8")) / ref_s * (22 - ref_s) * prof.speed)
        batches = chunk_text(text, max_chars=max(max_chars, 20))
        wave, _, _ = next(infer_batch_process(
            (audio, SAMPLE_RATE), voice.ref_text, batches, model["cfm"], model["vocoder"],
            mel_spec_type="vocos", nfe_step=prof.nfe_step, cfg_strength=prof.cfg_strength,
            sway_sampling_coef=prof.sway_sampling_coef, speed=prof.speed, device=device,
            progress=None))
        return wave, device

    def _load(self, device: str):
        """Build CFM + Vocos through f5_tts's own loaders; one module so it moves as one."""
        import torch
        from hydra.utils import get_class
        from omegaconf import OmegaConf

        from engines._torchaudio import import_torchaudio

        import_torchaudio()
        from f5_tts.infer.utils_infer import load_model, load_vocoder

        ckpt, vocab, config, vocos_dir = self._paths
        cfg = OmegaConf.load(config)
        model_cls = get_class(f"f5_tts.model.{cfg.model.backbone}")
        cfm = load_model(model_cls, OmegaConf.to_container(cfg.model.arch, resolve=True), ckpt,
                         mel_spec_type=cfg.model.mel_spec.mel_spec_type, vocab_file=vocab,
                         device=device)
        vocoder = load_vocoder("vocos", is_local=vocos_dir is not None,
                               local_path=str(vocos_dir or ""), device=device)
        return torch.nn.ModuleDict({"cfm": cfm.eval(), "vocoder": vocoder})

    def _resolve_paths(self) -> tuple[str, str, str, Optional[Path]]:
        s = self.settings
        for var, path in (("F5TTS_CKPT_FILE", s.f5tts_ckpt_file), ("F5TTS_VOCAB_FILE", s.f5tts_vocab_file),
                          ("F5TTS_MODEL_CONFIG", s.f5tts_model_config)):
            if path is not None and not Path(path).is_file():
                raise EngineConfigError(f"{var}: file not found: {path}")
        if s.vocos_dir is not None and not (Path(s.vocos_dir) / "config.yaml").is_file():
            raise EngineConfigError(f"VOCOS_DIR: no config.yaml in {s.vocos_dir}")
        if s.f5tts_ckpt_file is None or s.vocos_dir is None:
            logger.warning("F5TTS_CKPT_FILE/VOCOS_DIR not set: official weights will be fetched "
                           "from the model hub on first load (fails offline)")
        ckpt = str(s.f5tts_ckpt_file) if s.f5tts_ckpt_file else HUB_CKPT
        vocab = str(s.f5tts_vocab_file) if s.f5tts_vocab_file else ""  # "" = f5_tts's own vocab
        config = str(s.f5tts_model_config) if s.f5tts_model_config else _packaged_config()
        return ckpt, vocab, config, s.vocos_dir

    def _size_mb(self) -> Optional[float]:
        ckpt = self.settings.f5tts_ckpt_file
        return Path(ckpt).stat().st_size / 2**20 if ckpt else None

    def _warn_small_gpu(self) -> None:
        if self.device != "cuda" or self.settings.low_vram:
            return
        import torch

        total_gb = torch.cuda.get_device_properties(0).total_memory / 2**30
        if total_gb < SMALL_GPU_GB:
            logger.warning("small GPU (%.2f GB) without LOW_VRAM: set LOW_VRAM=true to avoid OOM",
                           total_gb)


def _packaged_config() -> str:
    from importlib.resources import files

    return str(files("f5_tts").joinpath(f"configs/{DEFAULT_CONFIG}"))


def _punctuate(text: str) -> str:
    # f5_tts's own preprocessing: the reference text must end with a sentence break.
    if not text.endswith((". ", "。")):
        text = text + (" " if text.endswith(".") else ". ")
    return text
