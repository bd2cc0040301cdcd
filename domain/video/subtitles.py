"""Captions in a video's HLS: the subtitles playlist and the master's SUBTITLES group (CONTRACT 4a).

Pure text rules. The master keeps every line it had; the group ``"subs"``
holds one ``#EXT-X-MEDIA:TYPE=SUBTITLES`` entry per language (a language
added again replaces its entry), and every video variant (an
``#EXT-X-STREAM-INF`` with a RESOLUTION) names the group. The captions'
WebVTT carries ``X-TIMESTAMP-MAP``, so cue times on the source's timeline
meet the MPEG-TS timestamps of the video's segments (ffmpeg starts those at
1.4 s, not 0).
"""

from __future__ import annotations

import math
import re

from domain.video.playlists import CAPTIONS_FOLDER, VARIANT_PLAYLIST, VARIANT_TAG, master_variants, tag_attributes

GROUP = "subs"
CUES = "captions.vtt"
MPEG_TS_CLOCK = 90_000
_MEDIA = "#EXT-X-MEDIA:"
LANGUAGE_NAMES = {"ko": "한국어", "en": "English", "ja": "日本語", "zh": "中文", "es": "Español", "fr": "Français",
                  "de": "Deutsch", "vi": "Tiếng Việt", "th": "ไทย", "id": "Bahasa Indonesia"}


def folder(lang: str) -> str:
    """The folder of the captions in ``lang``, relative to the master: ``subs/ko``."""
    return f"{CAPTIONS_FOLDER}/{lang}"


def playlist_uri(lang: str) -> str:
    """The subtitles playlist's URI, relative to the master: ``subs/ko/index.m3u8``."""
    return f"{folder(lang)}/{VARIANT_PLAYLIST}"


def entry(lang: str) -> str:
    """The master's line for captions in ``lang``."""
    name = LANGUAGE_NAMES.get(lang, lang)
    return (f'{_MEDIA}TYPE=SUBTITLES,GROUP-ID="{GROUP}",LANGUAGE="{lang}",NAME="{name}",DEFAULT=NO,'
            f'AUTOSELECT=YES,URI="{playlist_uri(lang)}"')


def entries(master: str) -> list[str]:
    """The captions a master lists (its SUBTITLES entries of the group), as lines."""
    return [line.strip() for line in master.splitlines() if _is_subtitles(line)]


def with_subtitles(master: str, new_entries: list[str]) -> str:
    """``master`` listing ``new_entries`` besides the captions it already has (one per language,
    the new entry winning), every video variant naming the group."""
    kept = {_language(line): line for line in entries(master)}
    kept.update({_language(line): line for line in new_entries})
    lines = [line.rstrip() for line in master.splitlines() if line.strip() and not _is_subtitles(line)]
    media = [index for index, line in enumerate(lines) if line.startswith(_MEDIA)]
    variants = [index for index, line in enumerate(lines) if line.startswith(VARIANT_TAG)]
    if not variants:
        raise ValueError("the master playlist lists no variant")
    at = media[-1] + 1 if media else variants[0]
    lines[at:at] = [kept[lang] for lang in sorted(kept)]
    return "\n".join(_naming_group(line, bool(kept)) for line in lines) + "\n"


def first_variant(master: str) -> str | None:
    """The URI of the master's first video variant (the one with a RESOLUTION), if any."""
    return next((uri for uri, found in master_variants(master).items() if "RESOLUTION" in found), None)


def first_segment(media_playlist: str) -> str | None:
    """The URI of a media playlist's first segment, if any."""
    return next((line.strip() for line in media_playlist.splitlines()
                 if line.strip() and not line.startswith("#")), None)


def has_cues(vtt: str) -> bool:
    """True when the WebVTT text holds at least one cue (a timing line; cue text never holds ``-->``,
    since ``domain.ai.captions`` escapes ``>``)."""
    return any("-->" in line for line in vtt.splitlines())


def timed_cues(vtt: str, start_seconds: float) -> str:
    """The captions' WebVTT with the ``X-TIMESTAMP-MAP`` that puts cue time 0 at the video's first timestamp."""
    lines = vtt.split("\n")
    header, rest = (lines[0], lines[1:]) if lines[0].startswith("WEBVTT") else ("WEBVTT", ["", *lines])
    mapping = f"X-TIMESTAMP-MAP=MPEGTS:{round(start_seconds * MPEG_TS_CLOCK)},LOCAL:00:00:00.000"
    return "\n".join([header, mapping, *rest])


def playlist(duration_seconds: float) -> str:
    """The subtitles media playlist: one WebVTT segment covering the whole video."""
    seconds = max(duration_seconds, 0.001)
    return "\n".join([
        "#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{math.ceil(seconds)}", "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD", f"#EXTINF:{seconds:.3f},", CUES, "#EXT-X-ENDLIST",
    ]) + "\n"


def _is_subtitles(line: str) -> bool:
    if not line.strip().startswith(_MEDIA):
        return False
    found = tag_attributes(line.strip())
    return found.get("TYPE") == "SUBTITLES" and found.get("GROUP-ID") == f'"{GROUP}"'


def _language(line: str) -> str:
    return tag_attributes(line).get("LANGUAGE", '""').strip('"')


def _naming_group(line: str, has_captions: bool) -> str:
    if not line.startswith(VARIANT_TAG) or "RESOLUTION" not in tag_attributes(line):
        return line
    values = line[len(VARIANT_TAG):]
    values = re.sub(r',?SUBTITLES="[^"]*"', "", values)
    return VARIANT_TAG + values + (f',SUBTITLES="{GROUP}"' if has_captions else "")
