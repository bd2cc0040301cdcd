"""Pure rules about a video's source and its HLS ladder."""

from __future__ import annotations

from collections.abc import Sequence

from domain.errors import LimitExceeded
from domain.video.model import MediaInfo, Rendition


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
