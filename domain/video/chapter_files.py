"""The files of CONTRACT 4c: ``hls/chapters.json``, ``chapters.vtt`` and the master's SESSION-DATA line.

Pure text rules. ``chapters.json`` is Apple's JSON chapter format for HLS
(the document an ``#EXT-X-SESSION-DATA`` with DATA-ID
``com.apple.hls.chapters`` points at); each chapter's image is a JPEG in
``hls/chapters/``, its URL relative to the JSON. ``chapters.vtt`` (beside
``storyboard.vtt``) has one cue per chapter, for players that take chapter
tracks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from domain.video.chapters import Chapter
from domain.video.playlists import VARIANT_TAG, tag_attributes
from domain.webvtt import cue_time, vtt_escape

JSON_NAME = "chapters.json"  # in hls/, beside master.m3u8
VTT_NAME = "chapters.vtt"  # beside storyboard.vtt
IMAGE_FOLDER = "chapters"  # in hls/, beside chapters.json
DATA_ID = "com.apple.hls.chapters"
SESSION_DATA = f'#EXT-X-SESSION-DATA:DATA-ID="{DATA_ID}",URI="{JSON_NAME}"'
_IMAGE_NAME = re.compile(r"^chapter_\d{3,4}\.jpg$")


def image_name(number: int) -> str:
    """The file name of chapter ``number``'s image, in ``hls/chapters/``."""
    return f"chapter_{number:03d}.jpg"


def chapters_json(chapters: Sequence[Chapter]) -> str:
    """Apple's JSON chapters of ``chapters``, image URLs relative to the JSON."""
    entries = [
        {
            "chapter": chapter.number,
            "start-time": chapter.start,
            "titles": [{"language": chapter.language, "title": chapter.title}],
            "images": [{"image-category": "chapter", "pixel-width": chapter.image_width,
                        "pixel-height": chapter.image_height,
                        "url": f"{IMAGE_FOLDER}/{image_name(chapter.number)}"}],
        }
        for chapter in chapters
    ]
    return json.dumps(entries, ensure_ascii=False, indent=2) + "\n"


def listed_images(document: str) -> list[str]:
    """The image files (names in ``hls/chapters/``) a ``chapters.json`` lists; names of any other
    shape are left out, so nothing outside the chapters' folder is ever named."""
    try:
        entries = json.loads(document)
    except ValueError:
        return []
    names = []
    for entry in entries if isinstance(entries, list) else []:
        for image in entry.get("images", []) if isinstance(entry, dict) else []:
            url = image.get("url", "") if isinstance(image, dict) else ""
            folder, _, name = str(url).partition("/")
            if folder == IMAGE_FOLDER and _IMAGE_NAME.match(name):
                names.append(name)
    return names


def chapters_vtt(chapters: Sequence[Chapter], duration_seconds: float) -> str:
    """WebVTT with one cue per chapter, from its start to the next one's (the last to the end)."""
    lines = ["WEBVTT", ""]
    ends = [chapter.start for chapter in chapters[1:]] + [max(duration_seconds, chapters[-1].start + 0.001)]
    for chapter, end in zip(chapters, ends):
        lines += [str(chapter.number), f"{cue_time(chapter.start)} --> {cue_time(end)}", vtt_escape(chapter.title), ""]
    return "\n".join(lines)


def with_chapters(master: str, listed: bool) -> str:
    """``master`` with the chapters' SESSION-DATA line (``listed``) or without it, every other line kept."""
    lines = [line.rstrip() for line in master.splitlines() if line.strip() and not _is_chapters(line)]
    if listed:
        at = next((index for index, line in enumerate(lines)
                   if line.startswith(("#EXT-X-MEDIA:", VARIANT_TAG, "#EXT-X-SESSION-DATA:"))), len(lines))
        lines.insert(at, SESSION_DATA)
    return "\n".join(lines) + "\n"


def lists_chapters(master: str) -> bool:
    """Whether a master playlist lists the chapters."""
    return any(_is_chapters(line) for line in master.splitlines())


def _is_chapters(line: str) -> bool:
    line = line.strip()
    return line.startswith("#EXT-X-SESSION-DATA:") and tag_attributes(line).get("DATA-ID") == f'"{DATA_ID}"'
