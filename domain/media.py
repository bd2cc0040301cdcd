"""Pure rules about media: source keys, limits and the HLS ladder."""

from __future__ import annotations

import re
from collections.abc import Sequence

from domain.entities import MediaInfo, Rendition, VideoPart
from domain.errors import LimitExceeded, UnsafeKey

MAX_KEY_LENGTH = 1024
# Folders beside the renditions in hls/ (CONTRACT 4a), which no rendition may take.
AUDIO_FOLDER = "audio"
CAPTIONS_FOLDER = "subs"
RESERVED_RENDITION_NAMES = frozenset({AUDIO_FOLDER, CAPTIONS_FOLDER})
# The master playlist in hls/ and each rendition's (and group's) media playlist in its folder.
MASTER_PLAYLIST = "master.m3u8"
VARIANT_PLAYLIST = "index.m3u8"
VARIANT_TAG = "#EXT-X-STREAM-INF:"
# A part's attempt becomes a folder of every rendition (CONTRACT 4b).
_ATTEMPT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def tag_attributes(line: str) -> dict[str, str]:
    """The attributes of a playlist tag line (``#EXT-X-...:A=1,B="x"``), values as written (quotes kept)."""
    return dict(_ATTRIBUTE.findall(line.split(":", 1)[1] if ":" in line else ""))


def master_variants(master: str) -> dict[str, dict[str, str]]:
    """The attributes of each ``#EXT-X-STREAM-INF`` of a master playlist's text, by URI, in order."""
    variants: dict[str, dict[str, str]] = {}
    attributes: dict[str, str] | None = None
    for line in master.splitlines():
        line = line.strip()
        if line.startswith(VARIANT_TAG):
            attributes = tag_attributes(line)
        elif line and not line.startswith("#") and attributes is not None:
            variants[line] = attributes
            attributes = None
    return variants


def check_object_key(key: str) -> str:
    """Return ``key`` if it is a safe object key, else raise UnsafeKey."""
    if not key:
        raise UnsafeKey("file_key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise UnsafeKey(f"file_key is {len(key)} characters long; at most {MAX_KEY_LENGTH} are allowed")
    if key.startswith("/"):
        raise UnsafeKey("file_key must not start with '/'")
    if ".." in key.split("/"):
        raise UnsafeKey("file_key must not contain a '..' segment")
    if "\\" in key or any(ord(ch) < 32 for ch in key):
        raise UnsafeKey("file_key contains a backslash or a control character")
    return key


def check_prefix(key: str, allowed_prefixes: Sequence[str]) -> str:
    """Return ``key`` if it lies under one of ``allowed_prefixes`` (none: any key), else raise UnsafeKey."""
    if allowed_prefixes and not any(key.startswith(prefix) for prefix in allowed_prefixes):
        raise UnsafeKey(f"file_key is outside the allowed prefixes ({', '.join(allowed_prefixes)})")
    return key


def check_limits(info: MediaInfo, *, max_duration_seconds: float, max_height: int) -> None:
    """Raise LimitExceeded when a probed source is over a configured limit."""
    if info.duration_seconds > max_duration_seconds:
        raise LimitExceeded(
            f"the video is {info.duration_seconds:.0f} s long; the limit is {max_duration_seconds:.0f} s"
        )
    if info.height > max_height:
        raise LimitExceeded(f"the video is {info.height} px high; the limit is {max_height} px")


def plan_ladder(source_height: int, rungs: Sequence[Rendition]) -> list[Rendition]:
    """The renditions to encode for a source of ``source_height`` pixels.

    Every rung not above the source's height; when the source is below the
    lowest rung, one rendition at the source's own (even) height.
    """
    fitting = [rung for rung in sorted(rungs, key=lambda r: r.height) if rung.height <= source_height]
    if fitting:
        return fitting
    lowest = min(rungs, key=lambda r: r.height)
    height = max(2, source_height - source_height % 2)
    return [Rendition(name=f"{height}p", height=height, video_kbps=lowest.video_kbps, audio_kbps=lowest.audio_kbps)]


def check_attempt(attempt: str) -> str:
    """Return ``attempt`` if it is a safe folder name for a part's files (1-64 letters, digits, '-', '_')."""
    if not _ATTEMPT.fullmatch(attempt):
        raise ValueError(f"attempt {attempt[:80]!r} must be 1-64 letters, digits, '-' or '_'")
    return attempt


def plan_parts(duration_seconds: float, *, part_seconds: int, segment_seconds: int, attempt: str) -> list[VideoPart]:
    """The parts a video is encoded in: ``part_seconds`` of source time each from 0, the last one to the end.

    Parameters:
      duration_seconds: the source's duration (the probe's).
      part_seconds: the length of a part (VIDEO_PART_SECONDS), a positive
        multiple of ``segment_seconds``.
      segment_seconds: the HLS segment length (HLS_SEGMENT_SECONDS).
      attempt: the folder scoping this encode's files (``check_attempt``).

    A remainder shorter than one segment joins the part before it rather
    than costing an encode of its own. Raises ValueError for a part length
    that is not a multiple of the segment length, or an unsafe attempt.
    """
    if segment_seconds < 1 or part_seconds < segment_seconds or part_seconds % segment_seconds:
        raise ValueError(
            f"the part length ({part_seconds} s) must be a positive multiple of the segment length ({segment_seconds} s)"
        )
    check_attempt(attempt)
    starts = [0]
    while duration_seconds - (starts[-1] + part_seconds) >= segment_seconds:
        starts.append(starts[-1] + part_seconds)
    return [
        VideoPart(
            index=index,
            start_seconds=start,
            duration_seconds=part_seconds if index < len(starts) - 1 else None,
            first_segment=start // segment_seconds,
            attempt=attempt,
        )
        for index, start in enumerate(starts)
    ]


def default_ladder() -> list[Rendition]:
    return [
        Rendition("360p", 360, 800, 96),
        Rendition("720p", 720, 2800, 128),
        Rendition("1080p", 1080, 5000, 128),
    ]
