"""Stitching a video encoded in parts: playlists, master and storyboard from the parts' manifests.

Pure file work: the segments are already uploaded elsewhere, so sizes and
durations come from the manifests (``adapters.media.manifest``), never from
disk. The outputs have the single pass's shape: each rendition's
``index.m3u8`` lists ``<attempt>/seg_NNNNN.ts`` in order (VOD, ENDLIST,
INDEPENDENT-SEGMENTS, the target duration ffmpeg would write), the master is
``master.master_text`` with rates measured from the segments (audio
included), the storyboard is ``storyboard.write_storyboard`` over every
part's tiles.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from adapters.media.grid import owned_tiles
from adapters.media.manifest import AudioManifest, PartManifest, Segment, Track
from adapters.media.master import AAC_LC, Rate, Variant, master_text, segments_rate
from adapters.media.storyboard import write_storyboard
from domain.video.model import Rendition
from domain.video.playlists import AUDIO_FOLDER, MASTER_PLAYLIST, VARIANT_PLAYLIST

log = logging.getLogger(__name__)
_NUMBER = re.compile(r"seg_(\d+)\.ts$")


def media_playlist(segments: Sequence[Segment], *, video: bool = True) -> str:
    """A VOD media playlist listing ``segments`` in order, as ffmpeg's hls muxer writes one.

    Parameters:
      segments: the rendition's segments (URIs relative to the playlist).
      video: a video rendition's (``#EXT-X-INDEPENDENT-SEGMENTS``: each
        starts on a keyframe); the audio group's has no such line, as
        ffmpeg writes it.

    ``#EXT-X-TARGETDURATION`` is the longest segment rounded to the nearest
    second (RFC 8216; ffmpeg's rule). Raises ValueError for no segment.
    """
    if not segments:
        raise ValueError("a media playlist needs at least one segment")
    target = 0
    for segment in segments:
        if target <= segment.seconds:
            target = round(segment.seconds)
    lines = [
        "#EXTM3U", "#EXT-X-VERSION:6", f"#EXT-X-TARGETDURATION:{max(target, 1)}", "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD", *(["#EXT-X-INDEPENDENT-SEGMENTS"] if video else []),
    ]  # fmt: skip
    for segment in segments:
        lines += [f"#EXTINF:{segment.seconds:f},", segment.uri]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def ordered_parts(parts: Sequence[PartManifest]) -> list[PartManifest]:
    """The parts in order, checked to be one attempt's complete, contiguous set.

    Parameters:
      parts: every part's manifest, in any order (a duplicate delivery may
        have written one twice: equal copies are one).

    Raises ValueError naming what is wrong: a missing or doubled index, two
    attempts, a range that does not follow the previous one, a part other
    than the last one open-ended.
    """
    by_index: dict[int, PartManifest] = {}
    for part in parts:
        if part.index in by_index and by_index[part.index] != part:
            raise ValueError(f"part {part.index} has two different manifests")
        by_index[part.index] = part
    ordered = [by_index[index] for index in sorted(by_index)]
    if not ordered or [part.index for part in ordered] != list(range(len(ordered))):
        raise ValueError(f"the parts are not 0 to {len(ordered) - 1}: {sorted(by_index)[:20]}")
    attempts = {part.attempt for part in ordered}
    if len(attempts) != 1:
        raise ValueError(f"the parts belong to {len(attempts)} attempts")
    for previous, part in zip(ordered, ordered[1:]):
        if previous.duration_seconds is None or part.start_seconds != previous.start_seconds + previous.duration_seconds:
            raise ValueError(f"part {part.index} does not start where part {previous.index} ends")
    if ordered[-1].duration_seconds is not None:
        raise ValueError(f"the last part ({ordered[-1].index}) does not run to the end of the video")
    return ordered


def stitch_hls(
    hls_dir: Path, ladder: Sequence[Rendition], parts: Sequence[PartManifest], audio: AudioManifest | None
) -> Path:
    """Write every rendition's ``index.m3u8``, the audio group's and ``master.m3u8``; return the master's path.

    Parameters:
      hls_dir: the local folder mirroring the video's ``hls/`` (created if
        missing); only playlists are written to it.
      ladder: the renditions, in the order the master lists them.
      parts: every part's manifest (``ordered_parts`` checks them).
      audio: the audio group's manifest, None for a silent source.

    Raises ValueError when the parts are not a complete set, a rendition is
    missing from a part, or segment numbers have a hole.
    """
    ordered = ordered_parts(parts)
    if audio is not None and audio.attempt != ordered[0].attempt:
        raise ValueError(f"the audio belongs to attempt {audio.attempt!r}, the parts to {ordered[0].attempt!r}")
    audio_variant = None
    if audio is not None:
        audio_uri = f"{AUDIO_FOLDER}/{VARIANT_PLAYLIST}"
        _write(hls_dir / audio_uri, media_playlist(audio.track.segments, video=False))
        audio_variant = Variant(audio_uri, _rate(audio.track.segments, audio_uri),
                                (f'CODECS="{audio.track.codecs or AAC_LC}"',))
    variants = []
    for rendition in ladder:
        tracks = [_track(part, rendition.name) for part in ordered]
        segments = _joined(tracks, ordered)
        uri = f"{rendition.name}/{VARIANT_PLAYLIST}"
        _write(hls_dir / uri, media_playlist(segments))
        rate = _rate(segments, uri) + (audio_variant.rate if audio_variant else Rate(0, 0))
        variants.append(Variant(uri, rate, _stream_attributes(tracks, audio)))
        _log_seams(rendition.name, tracks, ordered)
    master = hls_dir / MASTER_PLAYLIST
    master.write_text(master_text(variants, audio_variant))
    return master


def stitch_storyboard(
    parts: Sequence[PartManifest], tiles_dir: Path, out_dir: Path, *, duration_seconds: float
) -> Path:
    """Lay out every part's tiles on the sprite sheets and write ``storyboard.vtt``; return its path.

    Parameters:
      parts: every part's manifest.
      tiles_dir: the local folder holding every part's tile files, by the
        names the manifests give.
      out_dir: where ``storyboard.vtt`` and ``storyboard/`` go.
      duration_seconds: the video's duration (the cues cover it).

    The same sheets and cues as the single pass's. Raises ValueError when
    a tile is missing or doubled, or there is none.
    """
    ordered = ordered_parts(parts)
    intervals = {part.tile_interval_ms for part in ordered}
    if len(intervals) != 1 or None in intervals:
        raise ValueError("the parts do not share one storyboard interval")
    (interval,) = intervals
    assert interval is not None
    for part in ordered[:-1]:
        # All its tiles, or fewer when the video stream ended in it (then no later part has any).
        first, count = owned_tiles(part.start_seconds, part.duration_seconds, interval)
        if [tile.index for tile in part.tiles] != list(range(first, first + len(part.tiles))) or \
                len(part.tiles) > (count or 0):
            raise ValueError(f"part {part.index} does not have its storyboard tiles")
    tiles = [tile for part in ordered for tile in part.tiles]
    if [tile.index for tile in tiles] != list(range(len(tiles))):
        raise ValueError(f"the storyboard's tiles are not numbered 0 to {len(tiles) - 1} without a hole")
    return write_storyboard([tiles_dir / tile.name for tile in tiles], out_dir, duration_seconds=duration_seconds,
                            interval=interval)


def seam_gaps(tracks: Sequence[Track], frame_seconds: float) -> list[float]:
    """For each boundary between consecutive tracks that have frames: the gap (> 0) or overlap (< 0), in seconds.

    Parameters:
      tracks: one rendition's track of every part, in order.
      frame_seconds: one frame's duration (the last frame of a part shows for
        that long before the next part's first).
    """
    gaps = []
    with_frames = [track for track in tracks if track.first_pts is not None and track.last_pts is not None]
    for previous, track in zip(with_frames, with_frames[1:]):
        assert previous.last_pts is not None and track.first_pts is not None
        gaps.append(track.first_pts - (previous.last_pts + frame_seconds))
    return gaps


def _track(part: PartManifest, name: str) -> Track:
    for track in part.renditions:
        if track.name == name:
            return track
    raise ValueError(f"part {part.index} has no {name} rendition")


def _joined(tracks: Sequence[Track], parts: Sequence[PartManifest]) -> list[Segment]:
    segments: list[Segment] = []
    for track, part in zip(tracks, parts):
        if track.segments and segments and _number(track.segments[0]) != _number(segments[-1]) + 1:
            raise ValueError(f"the {track.name} segments have a hole before part {part.index}")
        segments += track.segments
    if not segments:
        raise ValueError(f"no part wrote a segment of {tracks[0].name}")
    return segments


def _number(segment: Segment) -> int:
    match = _NUMBER.search(segment.uri)
    if not match:
        raise ValueError(f"segment {segment.uri!r} is not named seg_NNNNN.ts")
    return int(match.group(1))


def _rate(segments: Sequence[Segment], name: str) -> Rate:
    return segments_rate([(segment.seconds, segment.size) for segment in segments], name)


def _stream_attributes(tracks: Sequence[Track], audio: AudioManifest | None) -> tuple[str, ...]:
    # Every part encodes the same rung at the same size; the level in the
    # codec string could differ only by the encoder's choice per part: the
    # highest one is the one a player must support.
    resolutions = {track.resolution for track in tracks if track.resolution}
    if len(resolutions) > 1:
        raise ValueError(f"the parts of {tracks[0].name} have different sizes: {sorted(resolutions)}")
    codecs = max((track.codecs for track in tracks if track.codecs), default="")
    attributes = [f"RESOLUTION={resolution}" for resolution in resolutions]
    if codecs:
        audio_codecs = f",{audio.track.codecs or AAC_LC}" if audio is not None else ""
        attributes.append(f'CODECS="{codecs}{audio_codecs}"')
    return tuple(attributes)


def _log_seams(name: str, tracks: Sequence[Track], parts: Sequence[PartManifest]) -> None:
    frame = parts[0].frame_seconds
    for gap in seam_gaps(tracks, frame):
        if abs(gap) > frame:
            log.warning("%s: a %s of %.3f s where two parts meet", name, "gap" if gap > 0 else "overlap", abs(gap))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
