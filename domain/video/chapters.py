"""Chapters of a lecture (CONTRACT 4c): which slide changes are chapters, and their titles.

Pure rules over the candidates an encode found (``Candidate``: where a slide
settled, what its heading reads). Detection knows nothing of chapters and this
module knows nothing of frames, so an encode in one pass and the stitching of
an encode in parts decide alike: ``decide`` takes the candidates of every
range of the video, in any order.

- The video has slides only if at least one candidate's heading is readable
  (slide-sized text that OCR read with confidence); otherwise: no chapters.
- A candidate opens a chapter only if its heading differs from the heading of
  the chapter it falls in (a build, a pointer or a moving picture-in-picture
  leaves the heading as it was). Readable headings compare by text (OCR's
  small slips allowed); otherwise by the heading zone's thumbnail.
- A chapter shorter than ``min_seconds`` joins the one before it (the first
  joins the next); the first chapter starts at 0.
- Title: the heading, one line, at most 80 characters; "Chapter N" when it
  cannot be read. Language from the script: Hangul ``ko``, Latin ``en``, else ``und``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace

CANDIDATES_FILE = "candidates.json"  # what one encode (or one part) found, beside its images
MIN_SECONDS = 20.0
MAX_TITLE = 80
# A heading is slide-sized text: its line at least this share of the frame's
# height (a 28 pt heading on a 720p slide is 5%; an editor's code line is 2%).
MIN_HEADING_HEIGHT = 0.03
# Tesseract's mean word confidence (0-100) below which a reading is noise.
MIN_CONFIDENCE = 50.0
# Two readings of one heading differ by at most this share of characters (a
# pointer over a letter, a JPEG artefact); two headings of a deck differ by more.
SAME_TEXT = 0.25
# Mean difference (0-255) of two heading-zone thumbnails of the same heading.
SAME_SIGNATURE = 12.0
_SPACE = re.compile(r"\s+")
# Marks OCR reads at a line's ends: bullets, rules, a frame's edge.
_EDGE_JUNK = "|_~=•·ㆍ-—–*>»«<'\"`,;:"


@dataclass(frozen=True)
class Candidate:
    """A slide that settled after a change (or opened a range), as detection saw it.

    Parameters:
      at: when the change happened, in seconds on the video's timeline (absolute, also in a part).
      heading: the heading's text as OCR read it ("" when nothing was read).
      confidence: OCR's mean word confidence of the heading, 0-100 (0 when nothing was read).
      height: the heading line's height as a share of the frame's height (0 when no line was found).
      signature: the heading zone's thumbnail, hex, grey levels (compares unreadable headings).
      image: the file name of the slide's JPEG (160 px wide), beside the candidates' file.
      image_width: that JPEG's width in pixels.
      image_height: that JPEG's height in pixels.
    """

    at: float
    heading: str = ""
    confidence: float = 0.0
    height: float = 0.0
    signature: str = ""
    image: str = ""
    image_width: int = 0
    image_height: int = 0


@dataclass(frozen=True)
class Chapter:
    """One chapter: its number (from 1), start, title and its language, and the slide's image."""

    number: int
    start: float
    title: str
    language: str
    image: str
    image_width: int
    image_height: int


def decide(candidates: Iterable[Candidate], *, duration_seconds: float, min_seconds: float = MIN_SECONDS) -> list[Chapter]:
    """The chapters of a video from the candidates of all its ranges; [] when it has no slides.

    Parameters:
      candidates: what detection found, in any order.
      duration_seconds: the video's duration (the last chapter ends there).
      min_seconds: the shortest chapter (CHAPTER_MIN_SECONDS); 0 keeps every one.
    """
    ordered = sorted((c for c in candidates if 0 <= c.at < max(duration_seconds, 0.001)), key=lambda c: c.at)
    if not any(readable(candidate) for candidate in ordered):
        return []
    openings: list[Candidate] = []
    for candidate in ordered:
        if not openings or not same_heading(candidate, openings[-1]):
            openings.append(candidate)
    kept = _join_short(openings, duration_seconds, min_seconds)
    return [
        Chapter(number, round(opening.at, 3), *_title(opening, number), opening.image, opening.image_width,
                opening.image_height)
        for number, opening in enumerate(kept, start=1)
    ]


def readable(candidate: Candidate) -> bool:
    """Whether the candidate's heading was read: slide-sized, confident, with at least two letters."""
    text = tidy(candidate.heading)
    return (candidate.height >= MIN_HEADING_HEIGHT and candidate.confidence >= MIN_CONFIDENCE
            and sum(ch.isalpha() for ch in text) >= 2)


def same_heading(a: Candidate, b: Candidate) -> bool:
    """Whether two candidates show the same heading: by text when both read, else by their thumbnails."""
    if readable(a) and readable(b):
        left, right = _folded(a.heading), _folded(b.heading)
        return edit_distance(left, right) <= SAME_TEXT * max(len(left), len(right), 1)
    return signature_distance(a.signature, b.signature) <= SAME_SIGNATURE


def signature_distance(a: str, b: str) -> float:
    """Mean absolute difference (0-255) of two thumbnails in hex; 255 when they cannot be compared."""
    try:
        left, right = bytes.fromhex(a), bytes.fromhex(b)
    except ValueError:
        return 255.0
    if not left or len(left) != len(right):
        return 255.0
    return sum(abs(x - y) for x, y in zip(left, right)) / len(left)


def tidy(text: str) -> str:
    """One line: whitespace collapsed, OCR's marks at both ends stripped, at most 80 characters."""
    line = _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip().strip(_EDGE_JUNK).strip()
    if len(line) <= MAX_TITLE:
        return line
    cut = line[: MAX_TITLE - 1]
    if " " in cut[MAX_TITLE // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def language_of(title: str) -> str:
    """``ko`` for Hangul, ``en`` for Latin letters, ``und`` for anything else."""
    if any(_is_hangul(ch) for ch in title):
        return "ko"
    if any(ch.isalpha() and "LATIN" in unicodedata.name(ch, "") for ch in title):
        return "en"
    return "und"


def dump_candidates(candidates: Sequence[Candidate]) -> str:
    """The candidates as JSON (what one encode or one part hands to the decision)."""
    return json.dumps([asdict(candidate) for candidate in candidates], ensure_ascii=False, indent=1)


def load_candidates(text: str) -> list[Candidate]:
    """Candidates from ``dump_candidates``'s JSON; ValueError naming what is wrong."""
    names = {field.name: field.type for field in fields(Candidate)}
    found = json.loads(text)
    if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
        raise ValueError("the candidates file is not a list of objects")
    candidates = []
    for item in found:
        values = {key: value for key, value in item.items() if key in names}
        if not isinstance(values.get("at"), (int, float)) or isinstance(values.get("at"), bool):
            raise ValueError(f"a candidate has no time: {item!r:.80}")
        candidates.append(Candidate(**values))
    return candidates


def _join_short(openings: list[Candidate], duration: float, min_seconds: float) -> list[Candidate]:
    """Chapters at least ``min_seconds`` long: a short one joins the one before (the first, the next)."""
    kept: list[Candidate] = []
    carried: float | None = None  # the start of short first chapters waiting for the next
    min_seconds = max(min_seconds, 0.001)  # never a chapter of no length
    for index, opening in enumerate(openings):
        end = openings[index + 1].at if index + 1 < len(openings) else duration
        start = opening.at if carried is None else carried
        if kept and (end - opening.at < min_seconds or same_heading(opening, kept[-1])):
            continue  # joins the chapter before (also when it comes back to that chapter's heading)
        if not kept and end - start < min_seconds and index + 1 < len(openings):
            carried = start
            continue
        kept.append(replace(opening, at=0.0 if not kept else start))
        carried = None
    return kept


def _title(opening: Candidate, number: int) -> tuple[str, str]:
    title = tidy(opening.heading) if readable(opening) else ""
    title = title or f"Chapter {number}"
    return title, language_of(title)


def _folded(text: str) -> str:
    return "".join(ch for ch in tidy(text).casefold() if ch.isalnum())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest characters inserted, deleted or replaced to turn ``a`` into ``b``."""
    previous = list(range(len(b) + 1))
    for i, left in enumerate(a, start=1):
        current = [i]
        for j, right in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (left != right)))
        previous = current
    return previous[-1]


def _is_hangul(ch: str) -> bool:
    code = ord(ch)
    return 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F
