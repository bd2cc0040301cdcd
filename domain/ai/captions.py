"""Caption layout: timed words -> cues a player shows -> WebVTT and SRT text.

Pure rules, no I/O. The style follows the common subtitle guides: a cue is
on screen for at most 7 s, holds at most 2 lines, and a line holds at most
42 characters of Latin text or 16 of Korean, Japanese or Chinese (whose
characters are twice as wide and read more slowly per character).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from domain.webvtt import cue_time, vtt_escape

MAX_CUE_SECONDS = 7.0
MAX_LINES = 2
LATIN_LINE_CHARS = 42
CJK_LINE_CHARS = 16
# A pause this long between two words ends the cue: the next words belong to a new thought.
PAUSE_SECONDS = 1.5
CJK_LANGUAGES = frozenset({"ko", "ja", "zh", "yue"})


@dataclass(frozen=True)
class TimedWord:
    """A word and when it is spoken; ``text`` keeps the recognizer's leading space,
    ``probability`` is the recognizer's confidence in it (None: not known)."""

    start: float
    end: float
    text: str
    probability: float | None = None


@dataclass(frozen=True)
class TimedSegment:
    """A stretch of speech; ``words`` may be empty when no word timing is known."""

    start: float
    end: float
    text: str
    words: tuple[TimedWord, ...] = ()


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]


def line_limit(lang: str | None, text: str = "") -> int:
    """Characters per line for captions in ``lang`` (or, unknown, in the script of ``text``)."""
    if lang:
        return CJK_LINE_CHARS if lang in CJK_LANGUAGES else LATIN_LINE_CHARS
    return CJK_LINE_CHARS if any(_is_wide(ch) for ch in text) else LATIN_LINE_CHARS


def build_cues(segments: Iterable[TimedSegment], max_chars: int) -> list[Cue]:
    """Lay the segments' words out as cues within the limits above.

    Parameters:
      segments: the transcript in time order.
      max_chars: characters per line (see ``line_limit``).

    A segment starts a new cue. Within it, the words are split into the
    fewest cues that keep the limits (and never run across a pause), and
    among those the split with even cues that end at punctuation where
    possible, so no cue is left holding a lonely last word. Cues never
    overlap and always last a moment.
    """
    cues: list[Cue] = []
    for segment in segments:
        words = list(_fitting([w for w in (segment.words or _spread(segment)) if w.text.strip()], max_chars))
        cues += [_cue(words[start:end], max_chars) for start, end in _split(words, max_chars)]
    return _untangled(cues)


def to_webvtt(cues: Sequence[Cue]) -> str:
    """A WebVTT file (UTF-8 text) of ``cues``."""
    blocks = ["WEBVTT"]
    for cue in cues:
        text = "\n".join(vtt_escape(line) for line in cue.lines)
        blocks.append(f"{cue_time(cue.start, '.')} --> {cue_time(cue.end, '.')}\n{text}")
    return "\n\n".join(blocks) + "\n"


def to_srt(cues: Sequence[Cue]) -> str:
    """A SubRip file of ``cues``, numbered from 1."""
    blocks = [
        f"{number}\n{cue_time(cue.start, ',')} --> {cue_time(cue.end, ',')}\n" + "\n".join(cue.lines)
        for number, cue in enumerate(cues, start=1)
    ]
    return "\n\n".join(blocks) + ("\n" if blocks else "")


# A cue holds at most 2 x 42 characters: no more words than that are ever tried together.
_MAX_WORDS_PER_CUE = 2 * LATIN_LINE_CHARS // 2 + 1
_ENDS_CLAUSE = tuple(".,!?;:。、，！？")


def _split(words: list[TimedWord], max_chars: int) -> list[tuple[int, int]]:
    """(start, end) word ranges of the best cues for one segment (dynamic programming)."""
    best: list[tuple[float, int]] = [(0.0, 0)] + [(float("inf"), 0)] * len(words)
    for end in range(1, len(words) + 1):
        for start in range(end - 1, max(end - _MAX_WORDS_PER_CUE, 0) - 1, -1):
            if start < end - 1 and (
                words[start + 1].start - words[start].end >= PAUSE_SECONDS
                or words[end - 1].end - words[start].start > MAX_CUE_SECONDS
            ):
                break  # adding earlier words only makes it longer or spans the pause
            lines = _layout(words[start:end], max_chars)
            if lines is None:
                break
            cost = best[start][0] + _cost(lines, words[end - 1], end == len(words), max_chars)
            if cost < best[end][0]:
                best[end] = (cost, start)
    ranges, end = [], len(words)
    while end > 0:
        start = best[end][1]
        ranges.append((start, end))
        end = start
    return ranges[::-1]


def _cost(lines: list[str], last: TimedWord, final: bool, max_chars: int) -> float:
    """Every cue costs 10 (fewest cues first); a part-empty cue a little more;
    a cue ending mid-clause a little more unless it ends the segment."""
    slack = 1 - sum(map(len, lines)) / (2 * max_chars)
    return 10 + slack * slack + (0 if final or last.text.rstrip().endswith(_ENDS_CLAUSE) else 0.5)


def _cue(group: list[TimedWord], max_chars: int) -> Cue:
    lines = _layout(group, max_chars)
    assert lines is not None  # a group is only ever grown while it fits
    start = group[0].start
    return Cue(start, min(max(group[-1].end, start), start + MAX_CUE_SECONDS), tuple(lines))


def _layout(words: Sequence[TimedWord], max_chars: int) -> list[str] | None:
    """The words as one line, or as two lines as even as can be; None if they do not fit."""
    whole = _join(words)
    if len(whole) <= max_chars:
        return [whole]
    best: list[str] | None = None
    for split in range(1, len(words)):
        first, second = _join(words[:split]), _join(words[split:])
        if len(first) <= max_chars and len(second) <= max_chars:
            if best is None or max(len(first), len(second)) < max(map(len, best)):
                best = [first, second]
    return best


def _join(words: Sequence[TimedWord]) -> str:
    return " ".join("".join(w.text for w in words).split())


def _fitting(words: list[TimedWord], max_chars: int) -> Iterable[TimedWord]:
    """Words as they are, except that a word longer than a line (a URL, a run of
    Chinese characters) is cut into line-long pieces sharing its time span."""
    for word in words:
        text = word.text.strip()
        if len(text) <= max_chars:
            yield word
            continue
        pieces = [text[i : i + max_chars] for i in range(0, len(text), max_chars)]
        step = (word.end - word.start) / len(pieces)
        for index, piece in enumerate(pieces):
            start = word.start + index * step
            yield TimedWord(start, start + step, " " + piece)


def _spread(segment: TimedSegment) -> list[TimedWord]:
    """Word timings guessed from the segment's span, shared out by length."""
    pieces = segment.text.split()
    total = sum(len(piece) for piece in pieces)
    if not total:
        return []
    span, at, words = max(segment.end - segment.start, 0.0), segment.start, []
    for piece in pieces:
        length = span * len(piece) / total
        words.append(TimedWord(at, at + length, " " + piece))
        at += length
    return words


def _untangled(cues: list[Cue]) -> list[Cue]:
    """Cues in order, each ending before the next starts, none shorter than a frame."""
    ordered = sorted(cues, key=lambda cue: cue.start)
    result: list[Cue] = []
    for index, cue in enumerate(ordered):
        start = max(cue.start, result[-1].end if result else 0.0)
        end = max(cue.end, start + 0.04)
        if index + 1 < len(ordered):
            end = min(end, max(ordered[index + 1].start, start + 0.04))
        result.append(Cue(round(start, 3), round(end, 3), cue.lines))
    return result


def _is_wide(ch: str) -> bool:
    code = ord(ch)
    return (
        0xAC00 <= code <= 0xD7A3  # Hangul syllables
        or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F  # Hangul jamo
        or 0x3040 <= code <= 0x30FF  # kana
        or 0x4E00 <= code <= 0x9FFF  # CJK ideographs
    )
