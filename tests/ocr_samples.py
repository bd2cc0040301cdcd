"""Documents with known Korean and English text, rendered for the OCR tests."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from domain.video.chapters import edit_distance

FONT = "/usr/share/fonts/truetype/nanum/NanumGothic.ttf"  # Debian's fonts-nanum
PAGES = [
    ["안녕하세요 반갑습니다", "The quick brown fox jumps", "학생들은 수학 문제를 풉니다"],
    ["오늘의 숙제는 영어 단어 외우기", "Please submit your answers by Friday", "over the lazy dog 2026"],
    ["선생님께서 시험 결과를 알려주셨습니다", "Chapter 3 review questions", "정답은 다음 주에 공개됩니다"],
]


def render_page(lines: list[str], *, size: int = 32) -> Image.Image:
    font = ImageFont.truetype(FONT, size)
    image = Image.new("L", (1100, 40 + size * 2 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((40, 20 + size * 2 * index), line, font=font, fill=0)
    return image


def write_image(path: Path, lines: list[str], fmt: str) -> Path:
    render_page(lines).save(path, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return path


def write_multipage(path: Path, pages: list[list[str]], fmt: str) -> Path:
    """A multi-page TIFF or PDF; PDF pages are 200 dpi, as the engine renders them."""
    first, *rest = [render_page(lines) for lines in pages]
    extra = {"resolution": 200.0} if fmt == "PDF" else {}
    first.save(path, format=fmt, save_all=True, append_images=rest, **extra)
    return path


def expected(lines: list[str]) -> str:
    return "\n".join(lines)


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over characters, divided by the reference's length."""
    return edit_distance(reference, hypothesis) / max(len(reference), 1)
