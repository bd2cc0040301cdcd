"""WebVTT text shared by the captions (AI kind) and the chapters (video kind): cue times and escaping."""

from __future__ import annotations


def cue_time(seconds: float, decimal: str = ".") -> str:
    """A cue time, ``HH:MM:SS.mmm`` (WebVTT) or with ``decimal`` "," (SubRip)."""
    millis = max(round(seconds * 1000), 0)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def vtt_escape(line: str) -> str:
    """A WebVTT cue line with its markup characters escaped."""
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
