"""A slide's heading, read from one frame: where its line is, and what Tesseract reads there.

The heading is the first line of text from the top of the slide's heading zone
(its top 40%), unless a line below it is clearly larger (then the largest). Text
lines are found from the frame's edges (rows where many pixels are edges, in
runs as tall as a line); the line is cropped, made dark on light (slide
headings are often white on a coloured band, which Tesseract misses) and read
as one line (``--psm 7``: on a single line the default layout analysis often
finds nothing).
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

log = logging.getLogger(__name__)

ZONE_HEIGHT = 0.4  # the share of the frame, from the top, where a heading is looked for
EDGE_LEVEL = 48  # FIND_EDGES response above which a pixel is an edge
TEXT_ROW = 0.01  # share of a row's pixels that are edges for the row to hold text
LINE_GAP = 2  # rows without text a line may have (between a heading's letters and its accents)
LINE_HEIGHT = (0.012, 0.2)  # a text line's height, as shares of the frame's height
LARGER = 0.75  # the first line this large against the zone's largest is the heading
READ_HEIGHT = 48  # lines are enlarged to at least this many pixels for Tesseract
UNSURE = 80  # a Latin word read with less confidence beside Hangul may be a misread syllable
SIGNATURE_SIZE = (32, 8)
IMAGE_WIDTH = 160  # the chapter image's width (CONTRACT 4c)


@dataclass(frozen=True)
class Heading:
    """What was read: the text, Tesseract's mean word confidence (0-100) and the line's height
    as a share of the frame's height; all empty when no line was found or read."""

    text: str = ""
    confidence: float = 0.0
    height: float = 0.0


class HeadingReader:
    """Reads slide headings with Tesseract.

    Parameters:
      languages: Tesseract's languages, ``kor+eng`` as the OCR engine's.
      timeout_seconds: the limit on one Tesseract run.
    """

    def __init__(self, languages: str = "kor+eng", *, timeout_seconds: float = 30) -> None:
        self.languages = languages
        self.timeout_seconds = timeout_seconds
        self._usable: bool | None = None

    def usable(self) -> bool:
        """Whether Tesseract and the languages are installed (looked up once; logged when not)."""
        if self._usable is None:
            from adapters.ai.engines.ocr import missing_prerequisites

            missing = missing_prerequisites()
            if missing:
                log.warning("slide headings cannot be read, so no chapters are made: %s", "; ".join(missing))
            self._usable = not missing
        return self._usable

    def read(self, frame: Image.Image) -> Heading:
        """The heading of a slide ``frame`` (any mode); an empty Heading when there is none.

        Parameters:
          frame: the whole frame.
        """
        gray = frame.convert("L")
        line = heading_line(gray)
        if line is None or not self.usable():
            return Heading()
        top, bottom = line[1], line[3]
        crop = _readable(gray, line)
        text, confidence, unsure = self._tesseract(crop, self.languages)
        if unsure and _has_hangul(text) and "kor" in self.languages.split("+"):
            # With English beside it, Tesseract reads a rare Hangul syllable as Latin letters
            # ("멱등한" as "oS st"); Korean alone gets the syllables, or most of them.
            text, confidence, _ = self._tesseract(crop, "kor")
        return Heading(text, confidence, (bottom - top) / gray.height) if text else Heading()

    def _tesseract(self, crop: Image.Image, languages: str) -> tuple[str, float, bool]:
        """The line's text, the mean word confidence, and whether a Latin word was read without confidence.

        One Tesseract run writes both its plain text (which keeps Korean words whole) and its word
        table (the only source of confidences, which may cut Korean words in pieces).
        """
        import pytesseract

        with tempfile.TemporaryDirectory(prefix="heading-") as folder:
            image, base = Path(folder) / "line.png", Path(folder) / "line"
            crop.save(image)
            try:
                pytesseract.pytesseract.run_tesseract(str(image), str(base), extension="txt", lang=languages,
                                                      config="--psm 7 -c tessedit_create_tsv=1",
                                                      timeout=self.timeout_seconds)
                text = base.with_suffix(".txt").read_text(encoding="utf-8")
                table = base.with_suffix(".tsv").read_text(encoding="utf-8")
            except (RuntimeError, OSError, pytesseract.TesseractError) as error:
                log.warning("Tesseract could not read a slide heading: %s", error)
                return "", 0.0, False
        rows = csv.DictReader(io.StringIO(table), delimiter="\t", quoting=csv.QUOTE_NONE)
        words = [(row["text"].strip(), float(row["conf"])) for row in rows
                 if (row.get("text") or "").strip() and _is_number(row.get("conf")) and float(row["conf"]) >= 0]
        if not words or not text.strip():
            return "", 0.0, False
        unsure = any(conf < UNSURE and not _has_hangul(word) and any(ch.isalpha() for ch in word)
                     for word, conf in words)
        return " ".join(text.split()), sum(conf for _, conf in words) / len(words), unsure


def heading_line(gray: Image.Image) -> tuple[int, int, int, int] | None:
    """The box (left, top, right, bottom) of the heading's line in a grey frame, or None.

    Parameters:
      gray: the frame in mode L.
    """
    zone = gray.crop((0, 0, gray.width, max(round(gray.height * ZONE_HEIGHT), 1)))
    lines = text_lines(zone, frame_height=gray.height)
    if not lines:
        return None
    largest = max(bottom - top for _, top, _, bottom in lines)
    return next(box for box in lines if box[3] - box[1] >= LARGER * largest)


def text_lines(gray: Image.Image, *, frame_height: int) -> list[tuple[int, int, int, int]]:
    """Boxes (left, top, right, bottom) of the text lines of a grey image, top first.

    Parameters:
      gray: the image in mode L (a frame, or its heading zone).
      frame_height: the whole frame's height, which a line's height is measured against.
    """
    width, height = gray.size
    # The frame's own border is not an edge of anything.
    edges = gray.filter(ImageFilter.FIND_EDGES).crop((2, 2, width - 2, height - 2))
    edges = edges.point(lambda level: 255 if level > EDGE_LEVEL else 0)
    rows = edges.resize((1, edges.height), Image.Resampling.BOX).tobytes()
    runs, start, end, gap = [], None, 0, 0
    for y, level in enumerate(rows + bytes(LINE_GAP + 1)):
        if level >= TEXT_ROW * 255:
            start, end, gap = (y if start is None else start), y + 1, 0
        elif start is not None:
            gap += 1
            if gap > LINE_GAP:
                runs.append((start, end))
                start, gap = None, 0
    low, high = LINE_HEIGHT[0] * frame_height, LINE_HEIGHT[1] * frame_height
    boxes = []
    for top, bottom in runs:
        if not low <= bottom - top <= high:
            continue
        columns = edges.crop((0, top, edges.width, bottom)).resize((edges.width, 1), Image.Resampling.BOX).tobytes()
        inked = [x for x, level in enumerate(columns) if level]
        if inked:
            boxes.append((inked[0] + 2, top + 2, inked[-1] + 3, bottom + 2))
    return boxes


def signature(gray: Image.Image) -> str:
    """The heading zone's thumbnail (32 x 8 grey levels) in hex: compares slides whose heading is unread.

    Parameters:
      gray: the frame in mode L.
    """
    zone = gray.crop((0, 0, gray.width, max(round(gray.height * ZONE_HEIGHT), 1)))
    return zone.resize(SIGNATURE_SIZE, Image.Resampling.BOX).tobytes().hex()


def save_image(frame: Image.Image, dest: Path) -> tuple[int, int]:
    """Write the chapter's JPEG of ``frame``, 160 px wide; return its (width, height).

    Parameters:
      frame: the slide.
      dest: the JPEG to write.
    """
    height = max(round(frame.height * IMAGE_WIDTH / frame.width / 2) * 2, 2)
    frame.convert("RGB").resize((IMAGE_WIDTH, height), Image.Resampling.LANCZOS).save(dest, "JPEG", quality=85)
    return IMAGE_WIDTH, height


def _is_number(text: str | None) -> bool:
    try:
        float(text or "")
    except ValueError:
        return False
    return True


def _has_hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def _readable(gray: Image.Image, line: tuple[int, int, int, int]) -> Image.Image:
    """The line with a margin, dark text on a light ground, at least READ_HEIGHT pixels high."""
    left, top, right, bottom = line
    margin = bottom - top
    crop = gray.crop((max(left - margin, 0), max(top - margin // 2, 0),
                      min(right + margin, gray.width), min(bottom + margin // 2, gray.height)))
    histogram = crop.histogram()
    if sum(level * count for level, count in enumerate(histogram)) < 128 * crop.width * crop.height:
        crop = ImageOps.invert(crop)
    if bottom - top < READ_HEIGHT:
        factor = READ_HEIGHT / (bottom - top)
        crop = crop.resize((round(crop.width * factor), round(crop.height * factor)), Image.Resampling.LANCZOS)
    return crop
