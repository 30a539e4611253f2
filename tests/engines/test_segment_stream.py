"""Segment-by-segment synthesis (the ``on_segment`` sink speech streams use), through the real
engines with tiny models: the pieces arrive in order, one per segment, and concatenate to exactly
the waveform ``synthesize`` returns (what POST /jobs writes); a sink that raises stops synthesis
after that segment (a cancelled request), and the VRAM manager still applies LOW_VRAM."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engines.audio import JOIN_PAUSE_S, join_segments, segment_piece
from engines.errors import SynthesisError
from engines.segmenter import Packing, check_text, split_text
from engines.vram import VramManager

# Longer than one window of either engine (XTTS: 250 characters for en), so several segments.
TEXT = " ".join(
    [
        "The first sentence is here. A second one follows it. The third sentence is a "
        "little longer than the others. And a fourth ends the paragraph."
    ]
    * 3
)
REF_TEXT = "this is the reference clip."


@pytest.fixture(scope="module")
def engines(tiny_models, ref_wav):
    """Both engines in LOW_VRAM mode (each job loads and unloads), with a prepared voice each."""
    from engines import get_engine
    from engines.settings import load_settings

    settings = load_settings(
        **{k.lower(): v for k, v in tiny_models.items()},
        low_vram=True,
        f5tts_device="cpu",
        xtts_device="cpu",
    )
    built = {}
    for name in ("xtts", "f5tts"):
        manager = VramManager(settings)
        engine = get_engine(name, settings=settings, vram_manager=manager)
        built[name] = (
            engine,
            engine.prepare_voice(ref_wav, ref_text=REF_TEXT, language="en"),
            manager,
        )
    return built


def test_pieces_concatenate_to_the_join():
    rng = np.random.default_rng(1)
    waves = [rng.uniform(-1, 1, n).astype(np.float32) for n in (500, 3, 2400, 0, 77)]
    for count in range(1, len(waves) + 1):
        joined = join_segments(waves[:count], 24000)
        pieces = [segment_piece(w, 24000, i, count) for i, w in enumerate(waves[:count])]
        assert np.array_equal(np.concatenate(pieces), joined)
    # after the first, each piece starts with the pause that separates it from the one before
    assert len(segment_piece(waves[0], 24000, 1, 2)) == len(waves[0]) + int(JOIN_PAUSE_S * 24000)


@pytest.mark.parametrize("name", ["xtts", "f5tts"])
def test_segments_stream_in_order_and_join_to_the_result(engines, name):
    engine, voice, _ = engines[name]
    got = []
    result = engine.synthesize(
        TEXT,
        voice,
        language="en",
        on_segment=lambda i, n, samples, sr: got.append((i, n, samples, sr)),
    )
    assert len(got) >= 2, "a text past the window should make several segments"
    assert [i for i, *_ in got] == list(range(len(got)))
    assert {n for _, n, _, _ in got} == {len(got)}
    assert {sr for *_, sr in got} == {result.sample_rate}
    assert np.array_equal(np.concatenate([s for _, _, s, _ in got]), result.waveform)


class Stop(Exception):
    pass


@pytest.mark.parametrize("name", ["xtts", "f5tts"])
def test_a_raising_sink_stops_after_that_segment(engines, name):
    engine, voice, manager = engines[name]
    calls = []

    def sink(index, count, samples, sample_rate):
        calls.append(index)
        if index == 0:
            raise Stop

    def residency():
        stats = manager.stats()
        return stats["unloads"], [
            (m["key"], m["device"], m["parked"], m["in_use"]) for m in stats["resident_models"]
        ]

    before = residency()
    engine.synthesize("One finished job.", voice, language="en")
    after_job = residency()
    with pytest.raises(Stop):
        engine.synthesize(TEXT, voice, language="en", on_segment=sink)
    assert calls == [0]  # no second segment was synthesized
    after_stop = residency()
    # LOW_VRAM: a stopped synthesis leaves the model where a finished job leaves it
    assert after_stop[0] - after_job[0] == after_job[0] - before[0]
    assert after_stop[1] == after_job[1]
    assert all(in_use == 0 for *_, in_use in after_stop[1])  # the stop released the model


@pytest.mark.parametrize("name", ["xtts", "f5tts"])
def test_speed_reaches_the_engine(engines, name):
    engine, voice, _ = engines[name]
    slow = engine.synthesize("A short sentence to time.", voice, language="en", speed=0.5)
    fast = engine.synthesize("A short sentence to time.", voice, language="en", speed=2.0)
    assert slow.duration_s > fast.duration_s


# --------------------------------------------------------------------------- short first segment


def test_a_stream_starts_with_the_first_sentence_alone():
    text = "Hi there. " + "This sentence and the next ones fit one window together. " * 4

    def fits(s: str) -> bool:
        return len(s) <= 400

    assert len(split_text(text, fits)) == 1  # a job: as long as the window allows
    streamed = split_text(text, fits, packing=Packing.SHORT_FIRST)
    assert [s.text for s in streamed][0] == "Hi there."
    assert len(streamed) == 2
    by_sentence = split_text(text, fits, packing=Packing.SENTENCES)
    assert [s.text for s in by_sentence] == ["Hi there."] + [
        "This sentence and the next ones fit one window together."
    ] * 4
    assert split_text("Hi. ... Then more.", fits, packing=Packing.SENTENCES)[0].text == "Hi. ..."
    # an opening ellipsis is not a sentence of its own
    assert split_text("... and then it began. Next.", fits, packing=Packing.SHORT_FIRST)[
        0
    ].text.startswith("...")


@given(
    text=st.text(st.sampled_from("ab .!?\n,é。"), max_size=300),
    window=st.integers(4, 60),
    packing=st.sampled_from(Packing),
)
@settings(max_examples=300, deadline=None)
def test_every_packing_keeps_the_segmenter_contract(text, window, packing):
    def fits(s: str) -> bool:
        return len(s) <= window

    try:
        check_text(text)
    except SynthesisError:
        return
    segments = split_text(text, fits, packing=packing)
    assert "".join("".join(s.text.split()) for s in segments) == "".join(text.split())
    assert all(fits(s.text) for s in segments)
    assert all(a.end <= b.start for a, b in zip(segments, segments[1:], strict=False))
