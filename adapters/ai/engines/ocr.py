"""The ``ocr`` engine: Tesseract, offline, Korean and English by default.

Input: a PNG, JPEG or TIFF image (every frame of a multi-page TIFF) or a PDF
(pages rendered with pdfium). Result: the full text, and per page its text
and Tesseract's mean word confidence. Runs inside the engine sandbox.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.ai.spec import EngineSpec, Report
from adapters.messages import SafeKey
from domain.errors import InvalidMessage, LimitExceeded, TransientError, UnsupportedMedia

PDF_DPI = 200
# Tesseract reads small print far better enlarged (one measured page: 5.7% of
# characters wrong at 32 px, 1.9% at 64 px); pages smaller than this are doubled.
UPSCALE_BELOW_PIXELS = 2500
MAX_PAGES = 200
MAX_PIXELS = 60_000_000  # per page; larger images are refused, not OCRed for minutes
LANG = r"^[a-z][a-z_]{2,}(\+[a-z][a-z_]{2,})*$"
DEFAULT_LANGUAGES = ("kor", "eng")
DEBIAN_PACKAGES = "apt-get install tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng"


class OcrPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file_key: SafeKey
    lang: str = Field("kor+eng", pattern=LANG)
    first_page: int | None = Field(None, ge=1)
    last_page: int | None = Field(None, ge=1)
    # Tesseract's page segmentation mode; 6 ("one uniform block of text")
    # reads mixed Korean and English lines best on our measurements, 3 is
    # Tesseract's own automatic layout analysis for multi-column pages.
    psm: int = Field(6, ge=3, le=13)

    @model_validator(mode="after")
    def _range(self) -> OcrPayload:
        if self.first_page and self.last_page and self.last_page < self.first_page:
            raise ValueError("last_page must not be before first_page")
        return self


class OcrPage(BaseModel):
    page: int
    text: str
    confidence: float | None  # mean word confidence 0-100; None when no word was found


class OcrResult(BaseModel):
    text: str
    lang: str
    pages: list[OcrPage]


def run(source: Path | None, payload: dict[str, Any], report: Report) -> dict[str, Any]:
    import pytesseract  # only in the sandbox: the worker never imports it

    options = OcrPayload.model_validate(payload)
    _check_tesseract(pytesseract, options.lang)
    pages = list(_pages(source, options))
    results = []
    for done, (number, image) in enumerate(pages, start=1):
        text, confidence = _read_page(pytesseract, image, options)
        results.append(OcrPage(page=number, text=text, confidence=confidence))
        report(done / len(pages), f"page {done} of {len(pages)}")
    full = "\n\n".join(page.text for page in results)
    return OcrResult(text=full, lang=options.lang, pages=results).model_dump()


def missing_prerequisites() -> list[str]:
    """What this machine lacks for the default languages: the tesseract program, or its Korean/English data."""
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        return [f"Tesseract is not installed ({DEBIAN_PACKAGES})"]
    try:
        listed = subprocess.run([tesseract, "--list-langs"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return [f"Tesseract does not run ({DEBIAN_PACKAGES})"]
    installed = {line.strip() for line in listed.splitlines()[1:]}
    return [f"Tesseract's {code} data is not installed (apt-get install tesseract-ocr-{code})"
            for code in DEFAULT_LANGUAGES if code not in installed]


def _check_tesseract(pytesseract, lang: str) -> None:
    if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
        raise TransientError(f"Tesseract is not installed on this worker ({DEBIAN_PACKAGES})")
    installed = set(pytesseract.get_languages(config=""))
    missing = [code for code in lang.split("+") if code not in installed]
    if missing:
        raise InvalidMessage(f"the OCR language {'+'.join(missing)!r} is not installed on this worker")


def _pages(source: Path | None, options: OcrPayload) -> Iterator[tuple[int, Any]]:
    if source is None:
        raise UnsupportedMedia("the OCR job has no input file")
    with open(source, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"%PDF"):
        yield from _pdf_pages(source, options)
    elif head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")):
        yield from _image_pages(source, options)
    else:
        raise UnsupportedMedia("the file is not a PNG, JPEG, TIFF or PDF")


def _selected(count: int, options: OcrPayload) -> range:
    first = options.first_page or 1
    last = min(options.last_page or count, count)
    if first > count:
        raise InvalidMessage(f"first_page is {first} but the document has {count} page(s)")
    if last - first + 1 > MAX_PAGES:
        raise LimitExceeded(f"{last - first + 1} pages were asked for; at most {MAX_PAGES} are read per job")
    return range(first, last + 1)


def _image_pages(source: Path, options: OcrPayload) -> Iterator[tuple[int, Any]]:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        image = Image.open(source)
        pages = _selected(getattr(image, "n_frames", 1), options)
        for number in pages:
            image.seek(number - 1)
            frame = image.convert("L")  # decodes: a corrupt file fails here
            yield number, frame
    except Image.DecompressionBombError:
        raise LimitExceeded(f"the image is larger than {MAX_PIXELS:,} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnsupportedMedia("the image could not be decoded; it may be truncated or corrupt") from None


def _pdf_pages(source: Path, options: OcrPayload) -> Iterator[tuple[int, Any]]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(source)
    except pdfium.PdfiumError:
        raise UnsupportedMedia("the PDF could not be opened; it may be damaged or encrypted") from None
    with document:
        for number in _selected(len(document), options):
            page = document[number - 1]
            width, height = page.get_size()
            if width * height * (PDF_DPI / 72) ** 2 > MAX_PIXELS:
                raise LimitExceeded(f"page {number} is too large to render at {PDF_DPI} dpi")
            yield number, page.render(scale=PDF_DPI / 72, grayscale=True).to_pil()


def _read_page(pytesseract, image, options: OcrPayload) -> tuple[str, float | None]:
    """The page's text, and the mean confidence of its words.

    Two Tesseract runs: its plain-text output keeps Korean words whole, while
    its word table (the only source of confidences) splits them into pieces.
    """
    config = f"--psm {options.psm}"
    if max(image.size) < UPSCALE_BELOW_PIXELS:
        from PIL import Image

        image = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
    text = pytesseract.image_to_string(image, lang=options.lang, config=config)
    data = pytesseract.image_to_data(image, lang=options.lang, config=config, output_type=pytesseract.Output.DICT)
    confidences = [
        float(confidence) for word, confidence in zip(data["text"], data["conf"])
        if word.strip() and float(confidence) >= 0
    ]
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    mean = round(sum(confidences) / len(confidences), 2) if confidences else None
    return "\n".join(lines), mean


SPEC = EngineSpec(
    job_type="ocr",
    payload=OcrPayload,
    result=OcrResult,
    entry="adapters.ai.engines.ocr:run",
    timeout_seconds=600,
    memory_mb=2048,
    prerequisites=missing_prerequisites,
)
