"""The engine registry: every TTS engine, declared by metadata, importable without torch.

The API validates requests (engine names, profiles, languages, what a voice needs) from this
module alone; the worker builds engines from it (``engines.get_engine``), importing an engine's
module only then. Adding an engine: its module (a ``ManagedEngine`` subclass whose ``name`` is
the registered one), one ``EngineSpec`` in ``ENGINES`` below, and its quality profiles in
``engines/profiles.py`` (plain data the API validates against).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Optional

from engines.errors import EngineConfigError
from engines.profiles import DEFAULT_PROFILE, profile_names

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
    languages: Optional[tuple[str, ...]] = None  # None: no list of its own (SUPPORTED_LANGUAGES)

    @property
    def profiles(self) -> list[str]:
        return profile_names(self.name)

    @property
    def default_profile(self) -> str:
        return DEFAULT_PROFILE[self.name]

    def supports(self, language: str) -> bool:
        return self.languages is None or base_language(language) in self.languages

    def load_class(self) -> type:
        module, _, cls = self.engine_class.partition(":")
        return getattr(importlib.import_module(module), cls)


ENGINES: tuple[EngineSpec, ...] = (
    # f5_tts would transcribe a reference without text with a Whisper model from the hub: not
    # offline-safe, so the transcript is required.
    EngineSpec("f5tts", "F5-TTS", "engines.f5tts:F5TtsEngine", "f5tts_device", needs_ref_text=True),
    EngineSpec(
        "xtts",
        "XTTS",
        "engines.xtts:XttsEngine",
        "xtts_device",
        needs_ref_text=False,
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
