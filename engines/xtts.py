"""XTTS engine on coqui-tts's ``TTS.tts.models.xtts.Xtts``.

Loads with ``Xtts.load_checkpoint`` from a model directory (config.json, model.pth,
vocab.json, as released), conditions on reference audio decoded by soundfile (not
``Xtts.get_conditioning_latents``, which calls ``torchaudio.load``) and generates with
``Xtts.inference``.

Precision (FP16 / XTTS_FP16, engines.precision): fp16 is ``torch.autocast`` around inference,
not ``model.half()``. The weights stay fp32 (no VRAM saving), but coqui's code passes fp32
tensors into the model (cached voice latents, speaker embeddings, mel front-ends), which a
half-precision model rejects with dtype mismatches; autocast runs the matmuls and convolutions
in fp16 on the tensor cores and keeps the numerically sensitive ops (softmax, norms) in fp32.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Optional

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
from engines.errors import EngineConfigError, SynthesisError
from engines.precision import dtype_name, resolve_for_device
from engines.profiles import get_profile
from engines.quiet import library_output
from engines.segmenter import Fits, Packing, check_text, split_text
from engines.settings import EngineSettings

logger = logging.getLogger(__name__)

REFERENCE_SR = 22050  # XTTS conditioning encoders run at 22.05 kHz
MAX_REFERENCE_S = 30.0  # Xtts.get_conditioning_latents' default max_ref_length
GPT_COND_LEN_S = 6  # seconds per conditioning chunk (coqui default)
REQUIRED_FILES = ("config.json", "model.pth", "vocab.json")
DEFAULT_CHAR_LIMIT = 250  # VoiceBpeTokenizer.check_input_length's default for unlisted languages


class XttsEngine(ManagedEngine):
    name = "xtts"
    # Conditioning is a model pass worth keeping per voice (engines.voice_cache).
    caches_conditioning = True

    def __init__(
        self,
        settings: Optional[EngineSettings] = None,
        vram_manager: Any = None,
        device: Optional[str] = None,
    ) -> None:
        super().__init__(settings, vram_manager, device)
        self.model_dir = self._check_dir(self.settings.xtts_dir)
        self._languages = self._read_languages()
        # Compute precision of the last synthesis ("float16": autocast; "float32"). None until then.
        self.dtype: Optional[str] = None

    # ------------------------------------------------------------------ protocol

    def prepare_voice(
        self, ref_audio_path, ref_text: Optional[str] = None, language: Optional[str] = None
    ) -> VoiceConditioning:
        ref = load_reference(ref_audio_path, REFERENCE_SR, MAX_REFERENCE_S)

        def job(model, device: str):
            import torch

            audio = torch.from_numpy(ref.samples)[None]
            latents = model.get_gpt_cond_latents(
                audio, REFERENCE_SR, length=int(MAX_REFERENCE_S), chunk_length=GPT_COND_LEN_S
            )
            speaker = model.get_speaker_embedding(audio, REFERENCE_SR)
            # CPU copies: the voice outlives the model's stay on the GPU.
            return latents.detach().cpu(), speaker.detach().cpu()

        latents, speaker = self.vram.run(self.name, self._load, job, self.device, self._size_mb())
        return VoiceConditioning(
            self.name,
            {"gpt_cond_latent": latents, "speaker_embedding": speaker},
            str(ref_audio_path),
            ref_text,
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
        lang = self._check_language(language or voice.language or "en")
        start = time.perf_counter()
        timings: dict[str, float] = {}

        def job(model, device: str):
            timings["load_s"] = time.perf_counter() - start
            fits, limit = xtts_window(model, lang)
            # A stream goes sentence by sentence, as coqui's own splitter does: XTTS's voice
            # latents are computed once, so an extra pass costs little (F5, which re-reads its
            # reference every pass, only splits off the first sentence).
            packing = Packing.SENTENCES if on_segment else Packing.WINDOW
            segments = split_text(text, fits, limit, packing=packing)
            logger.debug("XttsEngine: %d characters in %d segments", len(text), len(segments))
            sample_rate = model.args.output_sample_rate
            precision = self._precision(device)

            def waves():
                for segment in segments:  # ours, so coqui's spacy-based splitting stays off
                    with library_output(logger), precision():
                        out = model.inference(
                            segment.text,
                            lang,
                            voice.data["gpt_cond_latent"],
                            voice.data["speaker_embedding"],
                            temperature=prof.temperature,
                            top_p=prof.top_p,
                            top_k=prof.top_k,
                            repetition_penalty=prof.repetition_penalty,
                            length_penalty=prof.length_penalty,
                            speed=prof.speed,
                            enable_text_splitting=False,
                        )
                    yield out["wav"]

            joined = emit_segments(waves(), sample_rate, len(segments), on_segment)
            return joined, device, sample_rate

        wave, device, sr = self.vram.run(self.name, self._load, job, self.device, self._size_mb())
        timings["total_s"] = time.perf_counter() - start
        timings["infer_s"] = timings["total_s"] - timings.get("load_s", 0.0)
        result = SynthesisResult(finish_waveform(wave), sr, device, timings)
        logger.info(
            "XttsEngine synthesis complete: duration=%.2fs bytes=%d device=%s low_vram=%s "
            "profile=%s took=%.2fs",
            result.duration_s,
            result.waveform.nbytes,
            device,
            self.settings.low_vram,
            prof.name,
            timings["total_s"],
        )
        return result

    # ------------------------------------------------------------------ internals
    def _precision(self, device: str):
        """A context factory for inference: fp16 autocast where engines.precision says so."""
        import contextlib
        import functools

        import torch

        fp16 = resolve_for_device(self.settings.fp16_setting(self.name), device, self.name)
        self.dtype = dtype_name(fp16)
        if not fp16:
            return contextlib.nullcontext
        return functools.partial(torch.autocast, device_type="cuda", dtype=torch.float16)

    def _load(self, device: str):
        from engines._torchaudio import import_torchaudio

        import_torchaudio()
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts

        config = XttsConfig()
        config.load_json(str(self.model_dir / "config.json"))
        model = Xtts(config)
        # Loads onto CPU (map_location=cpu), then one move to the target device.
        with library_output(logger):
            model.load_checkpoint(config, checkpoint_dir=str(self.model_dir), eval=True)
        return model.to(device)

    @staticmethod
    def _check_dir(model_dir: Path) -> Path:
        missing = [f for f in REQUIRED_FILES if not (Path(model_dir) / f).is_file()]
        if missing:
            raise EngineConfigError(
                f"XTTS_MODEL_DIR: {model_dir} lacks {', '.join(missing)} "
                "(set XTTS_MODEL_DIR or MODELS_DIR)"
            )
        return Path(model_dir)

    def _read_languages(self) -> list[str]:
        import json

        cfg = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        return list(cfg.get("languages") or [])

    def _check_language(self, language: str) -> str:
        lang = language.strip().lower()
        base = "zh-cn" if lang.startswith("zh") else lang.split("-")[0]
        if self._languages and base not in self._languages:
            raise SynthesisError(
                f"language: {language!r} not supported by this XTTS model; "
                f"accepted: {', '.join(self._languages)}"
            )
        return base

    def _size_mb(self) -> float:
        return (self.model_dir / "model.pth").stat().st_size / 2**20


def xtts_window(model, language: str) -> tuple[Fits, str]:
    """XTTS's window for ``language``: the tokenizer's per-language character limit and the
    GPT's text-token cap (``Xtts.inference`` asserts tokens < gpt_max_text_tokens), measured
    with the model's own tokenizer on the text as inference sees it (stripped, lower-cased).
    Number and abbreviation expansion can make a short text long in tokens; hence both."""
    tokenizer, base = model.tokenizer, language.split("-")[0]
    char_limit = tokenizer.char_limits.get(base, DEFAULT_CHAR_LIMIT)
    max_tokens = model.args.gpt_max_text_tokens

    def fits(segment: str) -> bool:
        sent = segment.strip().lower()
        # Characters first: cheap, and encode() logs a warning for text over the limit.
        return len(sent) <= char_limit and len(_encode(tokenizer, sent, base)) < max_tokens

    return (
        fits,
        f"XTTS's window for {language!r} ({char_limit} characters, {max_tokens - 1} tokens)",
    )


def _encode(tokenizer, text: str, language: str) -> list[int]:
    try:
        return tokenizer.encode(text, lang=language)
    except ImportError as exc:  # ja needs cutlet/fugashi, zh pypinyin: coqui-tts extras
        raise SynthesisError(
            f"language: {language!r} needs the Python package "
            f"{exc.name or exc} for XTTS, which is not installed"
        ) from None
    except NotImplementedError:  # num2words cannot expand digits in this language (e.g. hi)
        raise SynthesisError(
            f"text: XTTS cannot read the digits in this {language!r} text "
            "(no number expansion for it); write the numbers as words"
        ) from None
