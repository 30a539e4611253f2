"""Quality profiles, looked up by name: each engine declares its own in its registration
(``engines/registry.py``); plain data, importable without torch (the API validates names)."""

from __future__ import annotations

from typing import Optional

from engines.errors import SynthesisError
from engines.profile_types import F5Profile, Profile, XttsProfile
from engines.registry import ENGINES

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "F5Profile",
    "Profile",
    "XttsProfile",
    "get_profile",
    "profile_names",
]

PROFILES: dict[str, Profile] = {p.name: p for spec in ENGINES for p in spec.profiles}
DEFAULT_PROFILE: dict[str, str] = {spec.name: spec.default_profile for spec in ENGINES}


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
