"""Quality profiles: every value the engines read, the defaults and the lookup rules."""

import pytest

from engines.errors import SynthesisError
from engines.profiles import (
    DEFAULT_PROFILE,
    PROFILES,
    F5Profile,
    XttsProfile,
    get_profile,
    profile_names,
)


def test_every_profile_value():
    assert PROFILES == {
        "f5tts_fast": F5Profile("f5tts_fast", 16, 2.0, -1.0, 1.0, "f5tts"),
        "f5tts_balanced": F5Profile("f5tts_balanced", 32, 2.0, -1.0, 1.0, "f5tts"),
        "f5tts_quality": F5Profile("f5tts_quality", 64, 2.0, -1.0, 1.0, "f5tts"),
        "xtts_fast": XttsProfile("xtts_fast", 0.75, 0.85, 50, 10.0, 1.0, 1.0, "xtts"),
        "xtts_balanced": XttsProfile("xtts_balanced", 0.7, 0.8, 40, 10.0, 1.0, 1.0, "xtts"),
        "xtts_quality": XttsProfile("xtts_quality", 0.65, 0.75, 30, 12.0, 1.0, 1.0, "xtts"),
    }


def test_defaults_of_the_dataclasses():
    f5 = F5Profile("x", nfe_step=8)
    assert (f5.cfg_strength, f5.sway_sampling_coef, f5.speed, f5.engine) == (
        2.0,
        -1.0,
        1.0,
        "f5tts",
    )
    xtts = XttsProfile("y", temperature=0.5, top_p=0.5, top_k=5)
    assert (xtts.repetition_penalty, xtts.length_penalty, xtts.speed, xtts.engine) == (
        10.0,
        1.0,
        1.0,
        "xtts",
    )


def test_profile_names_in_order():
    assert profile_names() == [
        "f5tts_fast",
        "f5tts_balanced",
        "f5tts_quality",
        "xtts_fast",
        "xtts_balanced",
        "xtts_quality",
    ]
    assert profile_names("f5tts") == ["f5tts_fast", "f5tts_balanced", "f5tts_quality"]
    assert profile_names("xtts") == ["xtts_fast", "xtts_balanced", "xtts_quality"]
    assert profile_names("bark") == []


def test_default_profile_per_engine():
    assert DEFAULT_PROFILE == {"f5tts": "f5tts_balanced", "xtts": "xtts_balanced"}
    assert get_profile(None, "f5tts") is PROFILES["f5tts_balanced"]
    assert get_profile(None, "xtts") is PROFILES["xtts_balanced"]


def test_lookup_with_and_without_engine():
    assert get_profile("xtts_quality") is PROFILES["xtts_quality"]
    assert get_profile("f5tts_fast", "f5tts") is PROFILES["f5tts_fast"]


@pytest.mark.parametrize(
    "name,engine,message",
    [
        (None, None, "profile: a name is required when no engine is given"),
        (
            "ultra",
            None,
            "profile: unknown profile 'ultra' for engine any; accepted: f5tts_fast, "
            "f5tts_balanced, f5tts_quality, xtts_fast, xtts_balanced, xtts_quality",
        ),
        (
            "xtts_fast",
            "f5tts",
            "profile: unknown profile 'xtts_fast' for engine f5tts; accepted: "
            "f5tts_fast, f5tts_balanced, f5tts_quality",
        ),
        (
            "f5tts_fast",
            "xtts",
            "profile: unknown profile 'f5tts_fast' for engine xtts; accepted: "
            "xtts_fast, xtts_balanced, xtts_quality",
        ),
    ],
)
def test_lookup_errors(name, engine, message):
    with pytest.raises(SynthesisError) as info:
        get_profile(name, engine)
    assert str(info.value) == message


@pytest.mark.parametrize("name", ["f5tts_fast", "xtts_fast"])
def test_profiles_are_immutable(name):
    """Profiles are shared by every job of the process: a job must not be able to change one."""
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES[name].speed = 2.0
