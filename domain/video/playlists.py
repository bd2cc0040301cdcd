"""The names of a video's HLS files (CONTRACT 4 and 4a) and the attributes of playlist tags."""

from __future__ import annotations

import re

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
