"""The quality-profile types: plain data, importable without torch. Each engine declares its
profiles in its registration (``engines/registry.py``); ``engines/profiles.py`` looks them up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


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
