"""Split text into segments each engine can speak in one pass; the one place for that rule.

Both models have a hard window (XTTS: a per-language character limit and 400 text tokens;
F5-TTS: 8192 mel frames for reference + generated audio). A dubbing job is a paragraph, so
long text is split, each segment synthesised, and the waveforms joined (``engines.audio.
join_segments``).

Rules, in order of preference (the first that yields pieces that fit wins, per piece):

1. sentence boundaries: ``. ! ? …`` (and ``؟ । ॥``) followed by whitespace, the full-width
   ``。！？`` with or without it, and line breaks;
2. clause punctuation: ``, ; : – —`` followed by whitespace, and the full-width ``，；：、``;
3. whitespace between words;
4. a hard cut at the longest grapheme-cluster prefix that fits (code points only when a single
   cluster is itself too long).

Pieces are then packed greedily: neighbours are merged while the merged text still fits, so
segments are as long as the engine allows and prosody breaks stay where the text has them.

Contract (tested with hypothesis): every non-whitespace character of the input belongs to
exactly one segment, in order; segments are the input's own spans, with whitespace runs
collapsed to one space (``Segment.text``), and what lies between two segments is whitespace
only. Nothing is dropped: text that cannot be split to fit, lone surrogates, and text with
nothing to speak raise ``SynthesisError`` with the reason.

Text with no letter and no digit (only punctuation, symbols or emoji) is rejected, not
voiced: neither model has a deterministic reading of it (F5 maps unknown characters to a
pause, XTTS samples noise), so the job fails with a clear reason instead.

Why no spacy: coqui-tts's own splitter uses spacy's rule-based ``sentencizer``, which splits
on the same punctuation characters as rule 1 (no abbreviation model without a downloaded
pipeline), and would add spacy, thinc, blis and srsly (~100 MB) to the image. Packing makes a
wrong sentence break (``Dr. Smith``) harmless unless a segment ends exactly there.

Importable without torch: the API can call ``check_text`` at submission.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Optional, cast

import regex

from engines.errors import SynthesisError

Fits = Callable[[str], bool]  # does this (whitespace-collapsed) segment fit the engine's window?

# Boundaries are at the END of each match; the pieces either side are stripped of whitespace.
SENTENCE_BREAK = re.compile(r"[.!?…‼⁇⁈⁉؟।॥]+[\"'”’»)\]]*(?=\s)|[。！？]+[」』”’）]*|\n")
CLAUSE_BREAK = re.compile(r"[,;:–—]+[\"'”’»)\]]*(?=\s)|[，；：、]+")
WORD_BREAK = re.compile(r"\s+")
BREAKS = (SENTENCE_BREAK, CLAUSE_BREAK, WORD_BREAK)
GRAPHEME = regex.compile(r"\X")


@dataclass(frozen=True)
class Segment:
    start: int  # span in the input text: text[start:end], no leading/trailing whitespace
    end: int
    text: str  # the span with whitespace runs collapsed to one space: what the engine speaks


def collapse(text: str) -> str:
    return " ".join(text.split())


def check_text(text: Optional[str]) -> str:
    """The text stripped; SynthesisError if empty, not encodable, or with nothing to speak."""
    text = text or ""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # positions in the text as given
        raise SynthesisError(
            f"text: not valid Unicode (lone surrogate "
            f"U+{ord(text[exc.start]):04X} at character {exc.start})"
        ) from None
    text = text.strip()
    if not text:
        raise SynthesisError("text: nothing to synthesize (empty text)")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise SynthesisError(
            "text: nothing to speak (no letters or digits; punctuation, "
            "symbols and emoji alone are not voiced)"
        )
    return text


class Packing(enum.Enum):
    """How segments are packed. A job wants few, long segments; a stream wants its first audio
    after one sentence (the first segment is synthesized before anything is sent)."""

    WINDOW = "window"  # as long as the window allows (jobs)
    SHORT_FIRST = "short_first"  # the first sentence alone, then as long as the window allows
    SENTENCES = "sentences"  # one sentence per segment, split further only where it must


def split_text(
    text: str, fits: Fits, limit: str = "the engine's limit", packing: Packing = Packing.WINDOW
) -> list[Segment]:
    """Segments of ``text`` that each satisfy ``fits``; ``limit`` names it in errors."""
    check_text(text)
    whole = cast(Span, _strip(text, 0, len(text)))  # not None: check_text refused a blank text
    if packing == Packing.SHORT_FIRST:
        parts = _first_sentence(text, whole)
    elif packing == Packing.SENTENCES:
        parts = _sentences(text, whole)
    else:
        parts = [whole]
    spans = [span for part in parts for span in _segment(text, part, fits, 0, limit)]
    return [Segment(s, e, collapse(text[s:e])) for s, e in spans]


# ---------------------------------------------------------------------- internals
Span = tuple[int, int]


def _segment(text: str, span: Span, fits: Fits, level: int, limit: str) -> list[Span]:
    if fits(collapse(text[span[0] : span[1]])):
        return [span]
    if level == len(BREAKS):
        return _hard_cut(text, span, fits, limit)
    parts = _cut(text, span, BREAKS[level])
    if len(parts) == 1:
        return _segment(text, span, fits, level + 1, limit)
    pieces = [piece for part in parts for piece in _segment(text, part, fits, level + 1, limit)]
    return _pack(text, pieces, fits)


def _sentences(text: str, whole: Span) -> list[Span]:
    """The sentences of ``whole``; one with nothing to speak (a lone "...") joins its neighbour."""
    merged: list[Span] = []
    for part in _cut(text, whole, SENTENCE_BREAK):
        if merged and not _speakable(text, merged[-1]):
            merged[-1] = (merged[-1][0], part[1])
        elif merged and not _speakable(text, part):
            merged[-1] = (merged[-1][0], part[1])
        else:
            merged.append(part)
    return merged


def _speakable(text: str, span: Span) -> bool:
    return any(ch.isalnum() for ch in text[span[0] : span[1]])


def _first_sentence(text: str, whole: Span) -> list[Span]:
    """[first sentence, the rest], or [whole] when there is no second sentence or the first
    has nothing to speak (an opening "..." is no segment of its own)."""
    match = SENTENCE_BREAK.search(text, whole[0], whole[1])
    if match is None:
        return [whole]
    head, tail = _strip(text, whole[0], match.end()), _strip(text, match.end(), whole[1])
    if head is None or tail is None or not _speakable(text, head):
        return [whole]
    return [head, tail]


def _strip(text: str, start: int, end: int) -> Optional[Span]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _cut(text: str, span: Span, pattern: re.Pattern) -> list[Span]:
    """``span`` split after every match of ``pattern``; pieces stripped, empty ones dropped."""
    parts, pos = [], span[0]
    for match in pattern.finditer(text, span[0], span[1]):
        part = _strip(text, pos, match.end())
        if part:
            parts.append(part)
        pos = match.end()
    tail = _strip(text, pos, span[1])
    return parts + [tail] if tail else parts


def _pack(text: str, pieces: list[Span], fits: Fits) -> list[Span]:
    """Merge neighbouring pieces greedily while the merged span still fits."""
    packed = [pieces[0]]
    for piece in pieces[1:]:
        merged = (packed[-1][0], piece[1])
        if fits(collapse(text[merged[0] : merged[1]])):
            packed[-1] = merged
        else:
            packed.append(piece)
    return packed


def _hard_cut(text: str, span: Span, fits: Fits, limit: str) -> list[Span]:
    """Longest fitting prefixes at grapheme-cluster ends (code points inside a huge cluster)."""
    ends = [m.end() for m in GRAPHEME.finditer(text, span[0], span[1])]
    pieces, pos = [], span[0]
    while pos < span[1]:
        end = _longest_fit(text, pos, [e for e in ends if e > pos], fits)
        if end is None:  # one cluster alone is too long: fall back to code points
            end = _longest_fit(text, pos, list(range(pos + 1, span[1] + 1)), fits)
        if end is None:
            raise SynthesisError(
                f"text: character {pos} ({text[pos]!r}) cannot be spoken within {limit}"
            )
        piece = _strip(text, pos, end)
        if piece:
            pieces.append(piece)
        pos = end
    return pieces


def _longest_fit(text: str, pos: int, ends: list[int], fits: Fits) -> Optional[int]:
    """The largest end in ``ends`` (ascending) such that text[pos:end] fits, by bisection."""
    low, high, best = 0, len(ends) - 1, None
    while low <= high:
        mid = (low + high) // 2
        if fits(collapse(text[pos : ends[mid]])):
            best, low = ends[mid], mid + 1
        else:
            high = mid - 1
    return best
