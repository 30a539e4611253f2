"""The engine registry: every TTS engine, declared by metadata, importable without torch.

The API validates requests (engine names, profiles, languages, what a voice needs) from this
module alone; the worker builds engines from it (``engines.get_engine``), importing an engine's
module only then. Adding an engine: its module (a ``ManagedEngine`` subclass whose ``name`` is
the registered one) and one ``EngineSpec`` in ``ENGINES`` below, with its quality profiles
(plain data the API validates against), plus its device and model-path settings in
``engines/settings.py``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Optional

from engines.errors import EngineConfigError
from engines.profile_types import F5Profile, Profile, XttsProfile

# XTTS v2's languages (its config.json); a language tag is accepted when its base is listed.
XTTS_LANGUAGES = (
    "en",
    "es",
    "fr",
    "de",
    "it",
    "pt",
    "pl",
    "tr",
    "ru",
    "nl",
    "cs",
    "ar",
    "zh-cn",
    "ja",
    "hu",
    "ko",
    "hi",
)


@dataclass(frozen=True)
class EngineSpec:
    """What the API and the worker need to know about an engine before importing it."""

    name: str  # the job's `engine`, the VRAM manager's model key, the profiles' `engine`
    label: str  # for people: "F5-TTS"
    engine_class: str  # "module:Class", imported on first use (torch lives there)
    device_setting: str  # the EngineSettings field naming its device (auto|cuda|cpu)
    needs_ref_text: bool  # prepare_voice needs the transcript of the reference audio
    profiles: tuple[Profile, ...]  # its quality profiles, fastest first
    default_profile: str  # the one a job without a profile gets
    languages: Optional[tuple[str, ...]] = None  # None: no list of its own (SUPPORTED_LANGUAGES)

    @property
    def profile_names(self) -> list[str]:
        return [p.name for p in self.profiles]

    def supports(self, language: str) -> bool:
        return self.languages is None or base_language(language) in self.languages

    def load_class(self) -> type:
        module, _, cls = self.engine_class.partition(":")
        return getattr(importlib.import_module(module), cls)


ENGINES: tuple[EngineSpec, ...] = (
    # f5_tts would transcribe a reference without text with a Whisper model from the hub: not
    # offline-safe, so the transcript is required.
    EngineSpec(
        "f5tts",
        "F5-TTS",
        "engines.f5tts:F5TtsEngine",
        "f5tts_device",
        needs_ref_text=True,
        profiles=(
            F5Profile("f5tts_fast", nfe_step=16),
            F5Profile("f5tts_balanced", nfe_step=32),
            F5Profile("f5tts_quality", nfe_step=64),
        ),
        default_profile="f5tts_balanced",
    ),
    EngineSpec(
        "xtts",
        "XTTS",
        "engines.xtts:XttsEngine",
        "xtts_device",
        needs_ref_text=False,
        # Lower temperature/top_p: steadier prosody, fewer artefacts, at some expressiveness.
        profiles=(
            XttsProfile("xtts_fast", temperature=0.75, top_p=0.85, top_k=50),
            XttsProfile("xtts_balanced", temperature=0.7, top_p=0.8, top_k=40),
            XttsProfile(
                "xtts_quality", temperature=0.65, top_p=0.75, top_k=30, repetition_penalty=12.0
            ),
        ),
        default_profile="xtts_balanced",
        languages=XTTS_LANGUAGES,
    ),
)

_BY_NAME = {spec.name: spec for spec in ENGINES}
ENGINE_NAMES = tuple(_BY_NAME)


def normalize_name(name: str) -> str:
    """'F5-TTS', 'f5_tts', ' f5tts ' -> 'f5tts'."""
    return name.strip().lower().replace("-", "").replace("_", "")


def find_spec(name: str) -> Optional[EngineSpec]:
    return _BY_NAME.get(normalize_name(name))


def get_spec(name: str) -> EngineSpec:
    """The registered engine ``name`` (normalised); ``EngineConfigError`` naming the accepted ones."""
    spec = find_spec(name)
    if spec is None:
        raise EngineConfigError(
            f"engine: unknown engine {name!r}; accepted: {', '.join(ENGINE_NAMES)}"
        )
    return spec


def engines_for_voice(has_ref_text: bool) -> list[str]:
    """The engines a voice can be used with (a voice cloned without ref_text: not F5-TTS)."""
    return [spec.name for spec in ENGINES if has_ref_text or not spec.needs_ref_text]


def base_language(tag: str) -> str:
    """The part of a language tag engines list: 'pt-BR' -> 'pt'; 'zh-CN' -> 'zh-cn' (XTTS's name)."""
    tag = tag.strip().lower()
    return tag if tag == "zh-cn" else tag.split("-")[0]


def declared_languages() -> list[str]:
    """Every language some engine lists, in declaration order (SUPPORTED_LANGUAGES' default)."""
    seen: dict[str, None] = {}
    for spec in ENGINES:
        seen.update(dict.fromkeys(spec.languages or ()))
    return list(seen)


__all__ = [
    "ENGINES",
    "ENGINE_NAMES",
    "EngineSpec",
    "XTTS_LANGUAGES",
    "base_language",
    "declared_languages",
    "engines_for_voice",
    "find_spec",
    "get_spec",
    "normalize_name",
]
