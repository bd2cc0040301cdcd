"""What an encode of a part (or of the audio group) wrote, as data the stitching needs.

A part's segments are uploaded elsewhere before the video is stitched, so
the manifest carries everything the playlists and the master need: each
segment's name, duration (the muxer's own, from its playlist) and size, the
codec string and resolution the master lists, the storyboard tiles and the
first and last timestamps (to check the seams). ``to_json`` / ``from_json``
turn it into plain JSON for a message, a row or an object in storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from adapters.media.master import playlist_entries
from domain.video.playlists import master_variants

MANIFEST_VERSION = 1
# A manifest as plain JSON (``to_json``), the shape the media processor returns and takes.
ManifestJson = dict[str, Any]


@dataclass(frozen=True)
class Segment:
    """One media segment.

    Parameters:
      uri: its path relative to its rendition's folder, e.g.
        ``<attempt>/seg_00012.ts`` (what the rendition's playlist lists).
      seconds: its duration, as the muxer wrote it in ``#EXTINF``.
      size: its size in bytes.
    """

    uri: str
    seconds: float
    size: int


@dataclass(frozen=True)
class Track:
    """One rendition's (or the audio group's) output of a run.

    Parameters:
      name: the rendition's name (its folder), or ``audio``.
      codecs: the RFC 6381 codec string, unquoted (``avc1.64001f``, ``mp4a.40.2``).
      resolution: ``WIDTHxHEIGHT`` of a video rendition, "" for audio.
      segments: the segments in order.
      first_pts: the first presentation timestamp of its first segment, in
        seconds of the MPEG-TS clock; None when it wrote no segment.
      last_pts: the last presentation timestamp of its last segment.
      frames: how many frames (packets) its segments hold.
    """

    name: str
    codecs: str
    resolution: str
    segments: tuple[Segment, ...]
    first_pts: float | None
    last_pts: float | None
    frames: int

    def to_json(self) -> dict[str, Any]:
        """This track as plain JSON."""
        return {
            "name": self.name, "codecs": self.codecs, "resolution": self.resolution,
            "segments": [[segment.uri, segment.seconds, segment.size] for segment in self.segments],
            "first_pts": self.first_pts, "last_pts": self.last_pts, "frames": self.frames,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Track:
        """A track from ``to_json``'s output.

        Parameters:
          data: the JSON object.
        """
        return cls(
            name=str(data["name"]), codecs=str(data["codecs"]), resolution=str(data["resolution"]),
            segments=tuple(Segment(str(uri), float(seconds), int(size)) for uri, seconds, size in data["segments"]),
            first_pts=_optional_float(data["first_pts"]), last_pts=_optional_float(data["last_pts"]),
            frames=int(data["frames"]),
        )  # fmt: skip


@dataclass(frozen=True)
class Tile:
    """One storyboard tile a part wrote.

    Parameters:
      index: its number on the whole video's storyboard (tile n shows the
        interval starting at n x interval).
      name: its file name (in the part's tiles folder).
      start_seconds: where its interval starts in the video.
    """

    index: int
    name: str
    start_seconds: float


@dataclass(frozen=True)
class PartManifest:
    """What ``encode_part`` wrote for one part.

    Parameters:
      index: the part's index.
      start_seconds: its start in source seconds.
      duration_seconds: its length; None for the last part.
      first_segment: the number of its first segment.
      attempt: the folder scoping its files.
      frame_seconds: one frame of the renditions, in seconds.
      renditions: one track per rendition, in the ladder's order.
      tiles: its storyboard tiles, in order (empty without a storyboard).
      tile_interval_ms: the storyboard's milliseconds per tile; None without one.
    """

    index: int
    start_seconds: int
    duration_seconds: int | None
    first_segment: int
    attempt: str
    frame_seconds: float
    renditions: tuple[Track, ...]
    tiles: tuple[Tile, ...]
    tile_interval_ms: int | None

    def to_json(self) -> ManifestJson:
        """This manifest as plain JSON (``from_json`` reads it back)."""
        return {
            "version": MANIFEST_VERSION, "index": self.index, "start_seconds": self.start_seconds,
            "duration_seconds": self.duration_seconds, "first_segment": self.first_segment,
            "attempt": self.attempt, "frame_seconds": self.frame_seconds,
            "renditions": [track.to_json() for track in self.renditions],
            "tiles": [[tile.index, tile.name, tile.start_seconds] for tile in self.tiles],
            "tile_interval_ms": self.tile_interval_ms,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PartManifest:
        """A manifest from ``to_json``'s output; ValueError for another version.

        Parameters:
          data: the JSON object.
        """
        _check_version(data)
        duration = data["duration_seconds"]
        interval = data["tile_interval_ms"]
        return cls(
            index=int(data["index"]), start_seconds=int(data["start_seconds"]),
            duration_seconds=None if duration is None else int(duration),
            first_segment=int(data["first_segment"]), attempt=str(data["attempt"]),
            frame_seconds=float(data["frame_seconds"]),
            renditions=tuple(Track.from_json(track) for track in data["renditions"]),
            tiles=tuple(Tile(int(index), str(name), float(start)) for index, name, start in data["tiles"]),
            tile_interval_ms=None if interval is None else int(interval),
        )  # fmt: skip


@dataclass(frozen=True)
class AudioManifest:
    """What ``encode_audio`` wrote: the shared audio group.

    Parameters:
      attempt: the folder scoping its segments.
      track: the group's segments (``audio/<attempt>/seg_NNNNN.ts`` as
        ``<attempt>/seg_NNNNN.ts``), codec and timestamps.
    """

    attempt: str
    track: Track

    def to_json(self) -> ManifestJson:
        """This manifest as plain JSON (``from_json`` reads it back)."""
        return {"version": MANIFEST_VERSION, "attempt": self.attempt, "track": self.track.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AudioManifest:
        """A manifest from ``to_json``'s output; ValueError for another version.

        Parameters:
          data: the JSON object.
        """
        _check_version(data)
        return cls(attempt=str(data["attempt"]), track=Track.from_json(data["track"]))


def read_track(
    folder: Path, attempt: str, playlist: Path, master: Path | None, *, name: str, timeout_seconds: float
) -> Track:
    """The track ffmpeg wrote: segments from its media playlist, codecs and resolution from its master.

    Parameters:
      folder: the rendition's (or audio group's) folder; its segments are in
        ``folder/<attempt>/``.
      attempt: the attempt folder.
      playlist: ffmpeg's media playlist of this track (segment names and durations).
      master: ffmpeg's master playlist listing ``playlist`` (CODECS and
        RESOLUTION), None when there is none.
      name: the track's name.
      timeout_seconds: PyAV's timeout when reading the segments' timestamps.

    Raises ValueError when a segment the playlist lists is missing.
    """
    segments = []
    for uri, seconds in playlist_entries(playlist.read_text()):
        path = folder / attempt / Path(uri).name
        if not path.is_file():
            raise ValueError(f"{name}/{attempt}/{Path(uri).name} is listed but was not written")
        if path.stat().st_size == 0:
            # What ffmpeg leaves for an output that never got a frame (a part
            # after the end of the video stream): not a segment.
            path.unlink()
            continue
        segments.append(Segment(f"{attempt}/{path.name}", seconds, path.stat().st_size))
    attributes = master_variants(master.read_text()).get(playlist.name, {}) if master is not None else {}
    first, last, frames = _timestamps([folder / segment.uri for segment in segments], timeout_seconds)
    return Track(
        name=name,
        codecs=attributes.get("CODECS", "").strip('"'),
        resolution=attributes.get("RESOLUTION", ""),
        segments=tuple(segments),
        first_pts=first,
        last_pts=last,
        frames=frames,
    )


def _timestamps(segments: Sequence[Path], timeout_seconds: float) -> tuple[float | None, float | None, int]:
    # Demuxing only (no decoding): packet headers are enough for timestamps.
    first = last = None
    frames = 0
    for path in segments:
        with av.open(str(path), timeout=timeout_seconds) as container:
            stream = container.streams[0]
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue
                seconds = float(packet.pts * stream.time_base)
                first = seconds if first is None else min(first, seconds)
                last = seconds if last is None else max(last, seconds)
                frames += 1
    return first, last, frames


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _check_version(data: Mapping[str, Any]) -> None:
    if data.get("version") != MANIFEST_VERSION:
        raise ValueError(f"manifest version {data.get('version')!r}; this worker reads version {MANIFEST_VERSION}")
