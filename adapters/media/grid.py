"""Where a part of a long video lies on the whole video's grids (pure rules, no process work).

The renditions have a constant frame rate, so every frame of the whole
video has an index; the storyboard has one tile per interval. A part owns a
run of each, and every frame and tile belongs to exactly one part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from adapters.media.storyboard import cue_count
from domain.video.model import MediaInfo, VideoPart

# ffmpeg's own choice when a source says nothing about its frame rate.
FALLBACK_FRAME_RATE = Fraction(25)
# The MPEG-TS clock, in which the single pass's muxer rounds its shift up.
_TS_CLOCK = 90_000

@dataclass(frozen=True)
class PartWindow:
    """Where a part lies on the whole video's frame grid and storyboard grid.

    Parameters:
      first_frame: the index of the part's first frame on the grid of the
        renditions' constant frame rate.
      frames: how many frames the part has; None for the last part.
      start: when its first frame is shown, in seconds of the outputs'
        timeline (``first_frame`` / rate).
      first_tile: the number of its first storyboard tile.
      tiles: how many tiles it writes (0: none).
    """

    first_frame: int
    frames: int | None
    start: Fraction
    first_tile: int
    tiles: int


def frame_rate(info: MediaInfo) -> Fraction:
    """The renditions' constant frame rate for a probed source.

    Parameters:
      info: the probe's result.
    """
    return Fraction(info.frame_rate) if info.frame_rate else FALLBACK_FRAME_RATE


def part_window(part: VideoPart, rate: Fraction, interval_ms: int | None, duration_seconds: float) -> PartWindow:
    """The frames and tiles ``part`` owns.

    Parameters:
      part: the part.
      rate: the renditions' frame rate (``frame_rate``).
      interval_ms: the storyboard's milliseconds per tile (``storyboard.interval_ms``
        of the whole video), None for no storyboard.
      duration_seconds: the whole video's duration (the storyboard's last
        tile is the last part's).

    A part owns the grid's frames from the first one at or after its start
    to the next part's first, and the tiles whose middle instant
    ((n + 1/2) x interval) lies in its range of source time; the last part
    the tiles from there to the storyboard's last.
    """
    first = math.ceil(part.start_seconds * rate)
    end = None if part.duration_seconds is None else part.start_seconds + part.duration_seconds
    frames = None if end is None else math.ceil(end * rate) - first
    first_tile, tiles = 0, 0
    if interval_ms is not None:
        first_tile, tiles = owned_tiles(part.start_seconds, part.duration_seconds, interval_ms)
        if tiles is None:
            tiles = max(cue_count(duration_seconds, interval_ms) - first_tile, 0)
    return PartWindow(first_frame=first, frames=frames, start=Fraction(first) / rate, first_tile=first_tile, tiles=tiles)


def owned_tiles(start_seconds: int, duration_seconds: int | None, interval_ms: int) -> tuple[int, int | None]:
    """The first storyboard tile a part owns and how many (None: all from there, for the last part).

    Parameters:
      start_seconds: the part's start.
      duration_seconds: its length, None for the last part.
      interval_ms: milliseconds per tile.

    Tile n shows the middle of its interval, (n + 1/2) x interval; the part
    whose range holds that instant owns it.
    """
    first = _first_tile_from(start_seconds, interval_ms)
    if duration_seconds is None:
        return first, None
    return first, _first_tile_from(start_seconds + duration_seconds, interval_ms) - first


def mux_shift(rate: Fraction, video_delay_frames: int, audio_priming: Fraction | None) -> Fraction:
    """How much later than the source every stream of the outputs starts, in seconds.

    Parameters:
      rate: the renditions' frame rate.
      video_delay_frames: how many frames before its first presentation
        x264 starts decoding (its B-frame reordering delay).
      audio_priming: how long the AAC encoder's priming lasts (its first
        packet starts that much before the audio), None without audio.

    What the single pass's muxer does to keep every timestamp at or after 0
    (avoid_negative_ts), on the MPEG-TS clock, rounded up as it rounds.
    """
    delays = [Fraction(video_delay_frames) / rate, audio_priming or Fraction(0)]
    return Fraction(max(math.ceil(delay * _TS_CLOCK) for delay in delays), _TS_CLOCK)


def _first_tile_from(seconds: int, interval_ms: int) -> int:
    # The smallest n with (n + 1/2) * interval >= seconds, in integers.
    return max(0, -(-(2000 * seconds - interval_ms) // (2 * interval_ms)))
