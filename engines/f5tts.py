"""F5-TTS engine on the f5_tts package's own loaders (load_model, load_vocoder, infer_batch_process).

Fixes the seed's engine that hard-coded ``self.device = 'cpu'``: the device comes from
``F5TTS_DEVICE`` through ``select_device``, and the model lives in the VRAM manager.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, cast

from engines.audio import load_reference
from engines.base import (
    ManagedEngine,
    SegmentSink,
    SynthesisResult,
    VoiceConditioning,
    emit_segments,
    finish_waveform,
    with_speed,
)
from engines.cuda_check import SMALL_GPU_GB
from engines.errors import EngineConfigError, ReferenceAudioError
from engines.precision import dtype_name, resolve_for_device
from engines.profiles import get_profile
from engines.quiet import library_output
from engines.segmenter import Packing, check_text, split_text
from engines.settings import EngineSettings

logger = logging.getLogger(__name__)

SAMPLE_RATE = 24000  # F5-TTS mel/vocos rate, fixed by the released models
MAX_REFERENCE_S = 12.0  # f5_tts clips longer references to ~12 s; longer only costs time
# Used only when no local path is configured (a host with internet access).
HUB_CKPT = "hf://SWivid/F5-TTS/F5TTS_v1_Base/model_1250000.safetensors"
DEFAULT_CONFIG = "F5TTS_v1_Base.yaml"
# f5_tts.infer_process sizes a pass to ~22 s of reference + generated audio (quality, not a cap).
PASS_SECONDS = 22.0
# The DiT text embedding's positional table (``precompute_max_pos``); used when the loaded
# backbone does not say. Reference + generated frames past it fail with a tensor size error.
DEFAULT_MAX_FRAMES = 8192
# f5_tts.infer_batch_process's own rule: under 10 bytes of text it generates at speed 0.3.
SHORT_TEXT_BYTES, SHORT_TEXT_SPEED = 10, 0.3


@dataclass(frozen=True)
class F5Window:
    """How much text one F5 pass takes, by infer_batch_process's duration rule:
    frames = ref_frames + ref_frames / ref_text_bytes * text_bytes / speed."""

    ref_frames: int  # reference audio, in mel frames (hop_length samples)
    ref_text: str  # as infer_batch_process sees it (it appends a space after a 1-byte char)
    ref_seconds: float
    speed: float
    max_frames: int

    @property
    def max_bytes(self) -> int:
        """The ~22 s quality size f5_tts's own chunking uses (at least 20 bytes, as before)."""
        per_second = len(self.ref_text.encode("utf-8")) / self.ref_seconds
        return max(int(per_second * (PASS_SECONDS - self.ref_seconds) * self.speed), 20)

    def frames(self, segment: str) -> int:
        text_bytes = len(segment.encode("utf-8"))
        speed = SHORT_TEXT_SPEED if text_bytes < SHORT_TEXT_BYTES else self.speed
        ref_bytes = len(self.ref_text.encode("utf-8"))
        audio = self.ref_frames + int(self.ref_frames / ref_bytes * text_bytes / speed)
        # CFM.sample makes the duration at least the text token count + 1; pinyin conversion
        # yields at most two tokens (a space and a syllable) per character.
        return max(audio, 2 * (len(self.ref_text) + len(segment)) + 1)

    def fits(self, segment: str) -> bool:
        return (
            len(segment.encode("utf-8")) <= self.max_bytes
            and self.frames(segment) <= self.max_frames
        )

    def describe(self) -> str:
        return (
            f"F5-TTS's window ({self.max_frames} mel frames with a {self.ref_seconds:.1f} s "
            f"reference)"
        )


class F5TtsEngine(ManagedEngine):
    name = "f5tts"
    # Its conditioning is the reference audio itself: nothing worth caching.
    caches_conditioning = False

    def __init__(
        self,
        settings: Optional[EngineSettings] = None,
        vram_manager: Any = None,
        device: Optional[str] = None,
    ) -> None:
        super().__init__(settings, vram_manager, device)
        self._warn_small_gpu()
        self._paths = self._resolve_paths()
        # Precision of the CFM in the last load or synthesis ("float16"/"float32"; the vocoder
        # stays float32, as in f5_tts). None until the model is loaded.
        self.dtype: Optional[str] = None

    # ------------------------------------------------------------------ protocol

    def prepare_voice(
        self, ref_audio_path, ref_text: Optional[str] = None, language: Optional[str] = None
    ) -> VoiceConditioning:
        if not ref_text or not ref_text.strip():
            # f5_tts would transcribe with a Whisper model downloaded from the hub: not offline-safe.
            raise ReferenceAudioError(
                "ref_text: F5-TTS needs the transcript of the reference audio"
            )
        ref = load_reference(ref_audio_path, SAMPLE_RATE, MAX_REFERENCE_S)
        text = _punctuate(ref_text.strip())
        return VoiceConditioning(
            self.name,
            {"samples": ref.samples, "sample_rate": SAMPLE_RATE},
            str(ref_audio_path),
            text,
            language,
            ref.duration_s,
        )

    def synthesize(
        self,
        text: str,
        voice: VoiceConditioning,
        language: Optional[str] = None,
        profile: Optional[str] = None,
        speed: Optional[float] = None,
        on_segment: Optional[SegmentSink] = None,
    ) -> SynthesisResult:
        text = check_text(text)
        prof = with_speed(get_profile(profile, self.name), speed)
        start = time.perf_counter()
        timings: dict[str, float] = {}

        def job(model, device: str):
            timings["load_s"] = time.perf_counter() - start
            return self._infer(model, device, text, voice, prof, on_segment)

        wave, device = self.vram.run(self.name, self._load, job, self.device, self._size_mb())
        timings["total_s"] = time.perf_counter() - start
        timings["infer_s"] = timings["total_s"] - timings.get("load_s", 0.0)
        result = SynthesisResult(finish_waveform(wave), SAMPLE_RATE, device, timings)
        logger.info(
            "F5TtsEngine synthesis complete: duration=%.2fs bytes=%d device=%s "
            "low_vram=%s profile=%s took=%.2fs",
            result.duration_s,
            result.waveform.nbytes,
            device,
            self.settings.low_vram,
            prof.name,
            timings["total_s"],
        )
        return result

    # ------------------------------------------------------------------ internals
    def _infer(
        self,
        model,
        device: str,
        text: str,
        voice: VoiceConditioning,
        prof,
        on_segment: Optional[SegmentSink] = None,
    ):
        """One f5_tts pass per segment (ours, not f5_tts's chunk_text, which only splits at
        punctuation and can overflow the frame cap), joined by engines.audio.join_segments."""
        import torch

        from engines._torchaudio import import_torchaudio

        import_torchaudio()
        from f5_tts.infer.utils_infer import hop_length, infer_batch_process

        if device == "cpu" and next(model.parameters()).dtype == torch.float16:
            model.float()  # after an OOM fallback: fp16 kernels are slow or missing on CPU
        self.dtype = str(next(model["cfm"].parameters()).dtype).removeprefix("torch.")
        audio = torch.from_numpy(voice.data["samples"])[None]
        ref_text = cast(str, voice.ref_text)  # prepare_voice refuses a voice without its transcript
        window = self._window(model, audio.shape[-1], hop_length, ref_text, prof.speed)
        segments = split_text(
            text,
            window.fits,
            window.describe(),
            packing=Packing.SHORT_FIRST if on_segment else Packing.WINDOW,
        )
        logger.debug("F5TtsEngine: %d characters in %d segments", len(text), len(segments))

        def waves():
            for segment in segments:
                with library_output(logger):
                    wave, _, _ = next(
                        infer_batch_process(
                            (audio, SAMPLE_RATE),
                            voice.ref_text,
                            [segment.text],
                            model["cfm"],
                            model["vocoder"],
                            mel_spec_type="vocos",
                            nfe_step=prof.nfe_step,
                            cfg_strength=prof.cfg_strength,
                            sway_sampling_coef=prof.sway_sampling_coef,
                            speed=prof.speed,
                            device=device,
                            progress=None,
                        )
                    )
                yield wave

        return emit_segments(waves(), SAMPLE_RATE, len(segments), on_segment), device

    @staticmethod
    def _window(model, ref_samples: int, hop_length: int, ref_text: str, speed: float) -> F5Window:
        text_embed = getattr(model["cfm"].transformer, "text_embed", None)
        max_frames = getattr(text_embed, "precompute_max_pos", DEFAULT_MAX_FRAMES)
        if len(ref_text[-1].encode("utf-8")) == 1:
            ref_text += " "  # what infer_batch_process does before measuring it
        return F5Window(
            ref_samples // hop_length, ref_text, ref_samples / SAMPLE_RATE, speed, max_frames
        )

    def _load(self, device: str):
        """Build CFM + Vocos through f5_tts's own loaders; one module so it moves as one."""
        import torch
        from hydra.utils import get_class
        from omegaconf import OmegaConf

        from engines._torchaudio import import_torchaudio

        import_torchaudio()
        ckpt, vocab, config, vocos_dir = self._paths
        cfg = OmegaConf.load(config)
        with library_output(logger):  # f5_tts prints ~48 lines per load
            from f5_tts.infer.utils_infer import load_model, load_vocoder

            model_cls = get_class(f"f5_tts.model.{cfg.model.backbone}")
            # On "cpu" f5_tts loads fp32; on "cuda" it would choose fp16 itself (any cc >= 7,
            # GTX 16xx included), bypassing FP16. So: load on CPU, then one cast-and-move to our
            # precision, which also spares the GPU the fp32 checkpoint next to the fp16 copy.
            cfm = load_model(
                model_cls,
                OmegaConf.to_container(cfg.model.arch, resolve=True),
                ckpt,
                mel_spec_type=cfg.model.mel_spec.mel_spec_type,
                vocab_file=vocab,
                device="cpu",
            )
            vocoder = load_vocoder(
                "vocos",
                is_local=vocos_dir is not None,
                local_path=str(vocos_dir or ""),
                device=device,
            )
        fp16 = self._fp16(device, cfg.model.mel_spec.mel_spec_type)
        cfm = cfm.to(device=device, dtype=torch.float16 if fp16 else torch.float32)
        self.dtype = dtype_name(fp16)
        logger.info("F5TtsEngine loaded on %s in %s", device, self.dtype)
        return torch.nn.ModuleDict({"cfm": cfm.eval(), "vocoder": vocoder})

    def _fp16(self, device: str, mel_spec_type: str) -> bool:
        """engines.precision's decision for this engine and device (FP16, F5TTS_FP16)."""
        if mel_spec_type == "bigvgan":
            return False  # f5_tts keeps BigVGAN-conditioned models in fp32
        return resolve_for_device(self.settings.fp16_setting(self.name), device, self.name)

    def _resolve_paths(self) -> tuple[str, str, str, Optional[Path]]:
        s = self.settings
        for var, path in (
            ("F5TTS_CKPT_FILE", s.f5tts_ckpt_file),
            ("F5TTS_VOCAB_FILE", s.f5tts_vocab_file),
            ("F5TTS_MODEL_CONFIG", s.f5tts_model_config),
        ):
            if path is not None and not Path(path).is_file():
                raise EngineConfigError(f"{var}: file not found: {path}")
        if s.vocos_dir is not None and not (Path(s.vocos_dir) / "config.yaml").is_file():
            raise EngineConfigError(f"VOCOS_DIR: no config.yaml in {s.vocos_dir}")
        if s.f5tts_ckpt_file is None or s.vocos_dir is None:
            logger.warning(
                "F5TTS_CKPT_FILE/VOCOS_DIR not set: official weights will be fetched "
                "from the model hub on first load (fails offline)"
            )
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
            logger.warning(
                "small GPU (%.2f GB) without LOW_VRAM: set LOW_VRAM=true to avoid OOM", total_gb
            )


def _packaged_config() -> str:
    from importlib.resources import files

    return str(files("f5_tts").joinpath(f"configs/{DEFAULT_CONFIG}"))


def _punctuate(text: str) -> str:
    # f5_tts's own preprocessing: the reference text must end with a sentence break.
    if not text.endswith((". ", "。")):
        text = text + (" " if text.endswith(".") else ". ")
    return text
