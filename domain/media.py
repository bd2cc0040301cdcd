"""Pure rules about media: source keys, limits and the HLS ladder."""

from __future__ import annotations

import re
from collections.abc import Sequence

from domain.entities import MediaInfo, Rendition
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


def default_ladder() -> list[Rendition]:
    return [
        Rendition("360p", 360, 800, 96),
        Rendition("720p", 720, 2800, 128),
        Rendition("1080p", 1080, 5000, 128),
    ]
