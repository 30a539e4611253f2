"""The text segmenter: rules on examples, and the no-loss contract on any text (hypothesis)."""

import re
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.errors import SynthesisError
from engines.segmenter import check_text, collapse, split_text


def char_limit(n):
    return lambda segment: len(segment) <= n


def byte_limit(n):
    return lambda segment: len(segment.encode("utf-8")) <= n


def texts(spans_text, segments):
    return [spans_text[s.start : s.end] for s in segments]


def assert_contract(text, segments, fits):
    """Every non-whitespace character in exactly one segment, in order; only whitespace between."""
    pos = 0
    for seg in segments:
        assert seg.start < seg.end
        assert text[pos : seg.start].strip() == "", "non-whitespace text fell between segments"
        span = text[seg.start : seg.end]
        assert span == span.strip()
        assert seg.text == collapse(span)
        assert fits(seg.text)
        pos = seg.end
    assert text[pos:].strip() == ""
    assert "".join("".join(s.text.split()) for s in segments) == "".join(text.split())


def test_sentences_first_then_packed():
    text = "One two three. Four five six! Seven eight nine? Ten."
    assert [s.text for s in split_text(text, char_limit(14))] == [
        "One two three.",
        "Four five six!",
        "Seven eight",
        "nine? Ten.",
    ]
    # Short sentences are packed together up to the limit.
    assert [s.text for s in split_text(text, char_limit(29))] == [
        "One two three. Four five six!",
        "Seven eight nine? Ten.",
    ]
    assert [s.text for s in split_text(text, char_limit(1000))] == [text]


def test_clauses_before_words():
    text = "alpha beta, gamma delta; epsilon zeta"
    assert [s.text for s in split_text(text, char_limit(12))] == [
        "alpha beta,",
        "gamma delta;",
        "epsilon zeta",
    ]


def test_words_then_hard_cut():
    assert [s.text for s in split_text("aaaa bbbb cccc", char_limit(9))] == ["aaaa bbbb", "cccc"]
    assert [s.text for s in split_text("a" * 10, char_limit(4))] == ["aaaa", "aaaa", "aa"]


def test_full_width_punctuation_needs_no_space():
    text = "今日は晴れです。明日は雨です。"
    assert [s.text for s in split_text(text, char_limit(8))] == [
        "今日は晴れです。",
        "明日は雨です。",
    ]


def test_line_breaks_are_sentence_breaks_and_whitespace_collapses():
    text = "Title line\n\nBody   text here"
    segments = split_text(text, char_limit(16))
    assert [s.text for s in segments] == ["Title line", "Body text here"]
    assert texts(text, segments) == ["Title line", "Body   text here"]


def test_hard_cut_keeps_grapheme_clusters():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one cluster, 5 code points
    text = "x" + family * 3
    segments = split_text(text, char_limit(6))
    assert [s.text for s in segments] == ["x" + family, family, family]
    # A cluster longer than the limit is cut at code points rather than failing.
    assert (
        "".join(s.text for s in split_text("e" + "\u0301" * 9, char_limit(4))) == "e" + "\u0301" * 9
    )


def test_unfittable_character_fails_with_reason():
    with pytest.raises(SynthesisError, match=r"character 2 \('é'\) cannot be spoken within 1 byte"):
        split_text("ab\u00e9", byte_limit(1), "1 byte")


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("", "empty text"),
        ("   \n\t", "empty text"),
        (None, "empty text"),
        ("\ud800abc", "lone surrogate U+D800 at character 0"),
        ("ok \udfff", "lone surrogate U+DFFF at character 3"),
        ("\U0001f600" * 50, "nothing to speak"),
        ("?!... ,;", "nothing to speak"),
        ("\u2605\u2605 -- \U0001f44d", "nothing to speak"),
    ],
)
def test_rejected_text(text, fragment):
    with pytest.raises(SynthesisError, match=re.escape(fragment)):
        check_text(text)
    with pytest.raises(SynthesisError, match=re.escape(fragment)):
        split_text(text, char_limit(100))


def test_digits_and_letters_in_any_script_are_speakable():
    for text in ("42", "Ωμέγα", "مرحبا", "नमस्ते", "안녕", "…and 🙂"):
        assert check_text(text) == text


def test_long_text_is_fast():
    text = ("word " * 2000) + ("x" * 20000) + ("frase, " * 2000)
    start = time.perf_counter()
    segments = split_text(text, char_limit(250))
    assert time.perf_counter() - start < 5
    assert_contract(text, segments, char_limit(250))


# Text built from the characters that drive the rules, plus anything else Unicode has.
RULE_CHARS = list(" \n\t.!?…,;:—。！？，、\"'”)") + [
    "a",
    "Z",
    "7",
    "é",
    "\u0301",
    "\u200d",
    "\U0001f600",
    "語",
    "\u00a0",
]
any_text = st.one_of(
    st.text(st.sampled_from(RULE_CHARS), max_size=400),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
    st.lists(
        st.sampled_from(["Hello there.", "word", " ", "\n", ", ", "! ", "x" * 30, "🙂"]),
        max_size=60,
    ).map("".join),
)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=any_text,
    limit=st.integers(min_value=1, max_value=80),
    measure=st.sampled_from(["chars", "bytes"]),
)
def test_every_character_in_exactly_one_fitting_segment(text, limit, measure):
    fits = char_limit(limit) if measure == "chars" else byte_limit(max(limit, 4))
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        with pytest.raises(SynthesisError):
            split_text(text, fits)
        return
    assert_contract(text, split_text(text, fits), fits)


# ---------------------------------------------------------------- the engines' real windows
def f5_window(ref_seconds, ref_text):
    from engines.f5tts import F5Window

    return F5Window(int(ref_seconds * 24000) // 256, ref_text, ref_seconds, 1.0, 8192)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(text=any_text, ref_seconds=st.floats(1.0, 12.0), ref_chars=st.integers(3, 300))
def test_f5_segments_fit_its_frame_cap(text, ref_seconds, ref_chars):
    """Any text, any reference: every pass within 8192 frames, or a clear error, never a loss."""
    window = f5_window(ref_seconds, "r" * (ref_chars - 2) + ". ")
    try:
        segments = split_text(text, window.fits, window.describe())
    except SynthesisError as exc:
        assert re.search(
            r"nothing to (speak|synthesize)|cannot be spoken within F5-TTS.s window", str(exc)
        )
        return
    assert_contract(text, segments, window.fits)
    assert all(window.frames(s.text) <= 8192 for s in segments)


def test_f5_frame_cap_binds_for_a_short_reference_text():
    """12 s of reference read as 3 bytes: under 10 bytes f5 runs at speed 0.3, which would pass
    8192 frames; the window knows, so such a pass is never sent."""
    window = f5_window(12.0, "a. ")
    assert window.frames("abcdefghi") > 8192 and not window.fits("abcdefghi")
    segments = split_text("abcdefghi", window.fits, window.describe())
    assert all(window.fits(s.text) for s in segments)


@pytest.fixture(scope="module")
def xtts_tokenizer_model(tiny_models):
    from types import SimpleNamespace

    from engines._torchaudio import import_torchaudio

    import_torchaudio()
    from TTS.tts.layers.xtts.tokenizer import VoiceBpeTokenizer

    tokenizer = VoiceBpeTokenizer(vocab_file=tiny_models["XTTS_MODEL_DIR"] + "/vocab.json")
    return SimpleNamespace(tokenizer=tokenizer, args=SimpleNamespace(gpt_max_text_tokens=402))


@settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(
        any_text,
        st.lists(
            st.sampled_from(["12345", "3.5", "$7", "Dr.", "word", " ", ", ", "1st"]), max_size=200
        ).map("".join),
    ),
    lang=st.sampled_from(["en", "pt", "de"]),
)
def test_xtts_segments_fit_chars_and_tokens(xtts_tokenizer_model, text, lang):
    """Any text (numbers expand to many tokens): within the character limit and the token cap."""
    from engines.xtts import xtts_window

    fits, limit = xtts_window(xtts_tokenizer_model, lang)
    try:
        segments = split_text(text, fits, limit)
    except SynthesisError as exc:
        assert re.search(r"nothing to (speak|synthesize)", str(exc))
        return
    assert_contract(text, segments, fits)
    tokenizer = xtts_tokenizer_model.tokenizer
    for seg in segments:
        assert len(seg.text.lower()) <= tokenizer.char_limits[lang]
        assert len(tokenizer.encode(seg.text.lower(), lang)) < 402
