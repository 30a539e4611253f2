"""Quality profiles: plain data, importable without torch (the API validates names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from engines.errors import SynthesisError


@dataclass(frozen=True)
class F5Profile:
    name: str
    nfe_step: int  # flow-matching ODE steps: the main speed/quality knob
    cfg_strength: float = 2.0
    sway_sampling_coef: float = -1.0
    speed: float = 1.0
    engine: str = "f5tts"


@dataclass(frozen=True)
class XttsProfile:
    name: str
    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float = 10.0
    length_penalty: float = 1.0
    speed: float = 1.0
    engine: str = "xtts"


Profile = Union[F5Profile, XttsProfile]

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        F5Profile("f5tts_fast", nfe_step=16),
        F5Profile("f5tts_balanced", nfe_step=32),
        F5Profile("f5tts_quality", nfe_step=64),
        # Lower temperature/top_p: steadier prosody, fewer artefacts, at some expressiveness.
        XttsProfile("xtts_fast", temperature=0.75, top_p=0.85, top_k=50),
        XttsProfile("xtts_balanced", temperature=0.7, top_p=0.8, top_k=40),
        XttsProfile(
            "xtts_quality", temperature=0.65, top_p=0.75, top_k=30, repetition_penalty=12.0
        ),
    )
}

DEFAULT_PROFILE = {"f5tts": "f5tts_balanced", "xtts": "xtts_balanced"}


def profile_names(engine: Optional[str] = None) -> list[str]:
    return [n for n, p in PROFILES.items() if engine is None or p.engine == engine]


def get_profile(name: Optional[str], engine: Optional[str] = None) -> Profile:
    """Look a profile up by name (None: the engine's default); wrong engine is an error."""
    if name is None:
        if engine is None:
            raise SynthesisError("profile: a name is required when no engine is given")
        name = DEFAULT_PROFILE[engine]
    profile = PROFILES.get(name)
    if profile is None or (engine is not None and profile.engine != engine):
        raise SynthesisError(
            f"profile: unknown profile {name!r} for engine {engine or 'any'}; "
            f"accepted: {', '.join(profile_names(engine))}"
        )
    return profile
