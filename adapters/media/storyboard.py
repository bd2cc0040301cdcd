"""Scrubbing previews (CONTRACT 4a): ``storyboard.vtt`` and ``storyboard/sprite_NNN.jpg``.

The ladder's ffmpeg run writes one small PNG tile per interval (see
``ladder.TileOutput``); this module lays them out on JPEG sprite sheets with
Pillow and writes the WebVTT file whose cues point at them with ``#xywh=``
fragments, the format video.js, Plyr and Mux read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from domain.webvtt import cue_time

VTT_NAME = "storyboard.vtt"
SPRITE_FOLDER = "storyboard"
TILE_WIDTH = 160
COLUMNS = 10
ROWS = 10
BASE_INTERVAL_MS = 5000
# With one tile every 5 s, 500 s fill one sheet; longer videos get 100 tiles
# spread evenly over their length instead.
MAX_TILES = COLUMNS * ROWS
JPEG_QUALITY = 80


def interval_ms(duration_seconds: float) -> int:
    """Milliseconds of video per tile: 5 s, or duration / 100 for videos longer than 500 s.

    Parameters:
      duration_seconds: the video's duration.

    Rounded up to the millisecond, so a long video never needs a 101st tile.
    """
    duration_ms = duration_seconds * 1000
    if duration_ms <= BASE_INTERVAL_MS * MAX_TILES:
        return BASE_INTERVAL_MS
    return math.ceil(duration_ms / MAX_TILES)


def cue_count(duration_seconds: float, interval: int) -> int:
    """How many cues (and tiles) the storyboard of a video has: one per interval begun, at least one.

    Parameters:
      duration_seconds: the video's duration.
      interval: milliseconds per tile (``interval_ms``).
    """
    return max(math.ceil(max(round(duration_seconds * 1000), 1) / interval), 1)


def sprite_name(sheet: int) -> str:
    """The file name of sprite sheet number ``sheet`` (from 0).

    Parameters:
      sheet: the sheet's index.
    """
    return f"sprite_{sheet:03d}.jpg"


def write_storyboard(tiles: Sequence[Path], out_dir: Path, *, duration_seconds: float, interval: int) -> Path:
    """Lay ``tiles`` out on sprite sheets and write the VTT; return ``out_dir/storyboard.vtt``.

    Parameters:
      tiles: the tile images in time order, tile k showing the interval
        starting at k * ``interval``.
      out_dir: where ``storyboard.vtt`` and the ``storyboard/`` folder go.
      duration_seconds: the video's duration; the cues cover [0, duration]
        without gaps.
      interval: milliseconds per tile (``interval_ms``).

    Cues past the last tile (a video stream that ends before the audio does)
    show the last tile. Raises ValueError when there is no tile.
    """
    if not tiles:
        raise ValueError("no storyboard tile was written")
    duration = max(round(duration_seconds * 1000), 1)
    cues = cue_count(duration_seconds, interval)
    used = list(tiles[:cues])
    size = _tile_size(used[0])
    folder = out_dir / SPRITE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for sheet, start in enumerate(range(0, len(used), MAX_TILES)):
        _write_sheet(used[start : start + MAX_TILES], size, folder / sprite_name(sheet))

    lines = ["WEBVTT", ""]
    width, height = size
    for cue in range(cues):
        tile = min(cue, len(used) - 1)
        sheet, place = divmod(tile, MAX_TILES)
        row, column = divmod(place, COLUMNS)
        begin, end = cue * interval, min((cue + 1) * interval, duration)
        lines += [
            f"{cue_time(begin / 1000)} --> {cue_time(end / 1000)}",
            f"{SPRITE_FOLDER}/{sprite_name(sheet)}#xywh={column * width},{row * height},{width},{height}",
            "",
        ]
    vtt = out_dir / VTT_NAME
    vtt.write_text("\n".join(lines), encoding="utf-8")
    return vtt


def _tile_size(first: Path) -> tuple[int, int]:
    with Image.open(first) as image:
        return image.size


def _write_sheet(tiles: Sequence[Path], size: tuple[int, int], dest: Path) -> None:
    width, height = size
    columns = min(len(tiles), COLUMNS)
    rows = math.ceil(len(tiles) / COLUMNS)
    sheet = Image.new("RGB", (columns * width, rows * height))
    for index, path in enumerate(tiles):
        with Image.open(path) as tile:
            # A source that changes frame size midway gives tiles of another
            # height; every cell of a sheet must have the same size.
            image = tile.convert("RGB")
            if image.size != size:
                image = image.resize(size)
            row, column = divmod(index, COLUMNS)
            sheet.paste(image, (column * width, row * height))
    sheet.save(dest, "JPEG", quality=JPEG_QUALITY, optimize=True)
