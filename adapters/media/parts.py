"""The ffmpeg commands of a long video encoded in parts (no process work here).

A part (``domain.entities.VideoPart``) is a range of source time starting on
the segment grid. ``part_command`` encodes every rung of that range exactly
as the single pass (``ladder.ladder_command``) encodes it, so the parts'
segments laid end to end are the single pass's: the same frames at the same
timestamps, keyframes and segment boundaries at the same instants, segment
numbers continuing. ``audio_command`` encodes the shared audio group once,
over the whole source, audio-only.

How the timelines line up (measured against a single pass on CFR 25 and
30000/1001 fps, a VFR source with gaps across part boundaries and MPEG-TS;
``tests/integration/test_media_parts.py``):

* Every run reads the source with ``-copyts`` and ``-itsoffset -Z``, Z being
  ``MediaInfo.start_seconds``: the timestamp the single pass shows at 0. (By
  default ffmpeg starts a run at its earliest *read* stream, which for
  MPEG-TS and FLV differs between a video-only part, an audio-only run and
  the single pass.)
* The renditions have a constant frame rate R (``MediaInfo.frame_rate``,
  the rate the single pass's ffmpeg makes its output constant at, given
  with ``-r``). A part owns the frames of that grid from the first one at or
  after its start (``first_frame``) to the next part's first; its output is
  offset by ``first_frame / R`` and limited to its frame count, so the last
  frames of a part in a gap of a variable-rate source are filled as the
  single pass fills them (the next source frame decides), rather than cut.
* A part seeks to a keyframe at or before its start (``-noaccurate_seek``,
  a pre-roll for containers whose seek may land between keyframes) and
  decodes from there. Frames more than half a frame before the start are
  moved far into the past (``setpts``): ffmpeg's frame-rate conversion then
  drops them but still repeats the last of them into the part's first slots
  when the source has no frame there (a slide shown for a minute), as the
  single pass does. Dropping them earlier (input ``-ss`` seeking's trim)
  would show the next slide early.
* The single pass's muxer moves every stream later by the most any encoder
  starts before 0 (x264's B-frame reordering delay, the AAC encoder's
  priming): the same shift (``mux_shift``) is given to every part and to the
  audio, with the muxer's own shifting off, so part 0 (which would shift by
  its video's delay alone) and the later parts (which would not shift) line
  up, and the audio with them.
* Keyframes are forced on the segment grid counted from the part's first
  frame, which is the whole video's grid at integer frame rates (at
  30000/1001 a segment boundary may move by one frame; the hls muxer cuts
  relative to a run's first frame, so the grid has to be the part's).
* The storyboard's tiles keep the whole video's grid: the tile branch is
  moved onto the whole timeline, each part writes the tiles whose middle
  instant falls in its range, numbered as the single pass numbers them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from adapters.media.commands import COMMON_ARGS
from adapters.media.encoding import (
    SEGMENT_PATTERN,
    AudioEncoding,
    TileOutput,
    VideoEncoding,
    audio_chain,
    capped_crf_args,
    hls_args,
    scaler_chains,
    split_chain,
    tile_chain,
    x264_args,
)
from adapters.media.grid import PartWindow, frame_rate, part_window
from adapters.media.ladder import check_names
from adapters.media.safety import RemoteAccess, Source, input_args
from adapters.media.slide_branch import SlideOutput, slide_chain, slide_output_args
from domain.video.model import MediaInfo, Rendition, VideoPart
from domain.video.parts import check_attempt
from domain.video.playlists import AUDIO_FOLDER

# Containers without a keyframe index, or whose index may be missing (their
# seek lands on a packet at or before the time, possibly between keyframes,
# whose frames the decoder then skips): a part seeks this much earlier, more
# than a keyframe interval. MP4/MOV, Matroska and AVI seek to a keyframe.
PREROLL_SECONDS = 10
_NO_KEYFRAME_INDEX = frozenset({"mpegts", "mpeg", "ogg", "flv", "asf"})
# How far frames before a part's start are moved: far enough that ffmpeg's
# frame-rate conversion drops them, whatever the frame rate.
_PAST_SECONDS = 100_000


def part_playlist(part: VideoPart) -> str:
    """The pattern of the media playlists ffmpeg writes for ``part`` (``%v``: the rendition), read and removed.

    Parameters:
      part: the part.
    """
    return f".part-{part.index:05d}_%v.m3u8"


def part_master(part: VideoPart) -> str:
    """The master playlist ffmpeg writes for ``part`` (its CODECS and RESOLUTION are read from it, then it goes).

    Parameters:
      part: the part.
    """
    return f".part-{part.index:05d}-master.m3u8"


def part_command(
    ffmpeg: str,
    source: Source,
    ladder: Sequence[Rendition],
    part: VideoPart,
    info: MediaInfo,
    *,
    video: VideoEncoding,
    tiles: TileOutput | None,
    shift: Fraction,
    access: RemoteAccess | None = None,
    slides: SlideOutput | None = None,
) -> list[str]:
    """The ffmpeg command that encodes ``part`` for every rendition (video only), its storyboard tiles and
    its slide watch.

    Parameters:
      ffmpeg: the executable.
      source: the local source file, or a presigned URL of it.
      ladder: the renditions, as the single pass would encode them.
      part: the range of source time and the names of its files.
      info: the whole source's probe (frame rate, start, format).
      video: rate factor, preset, segment length and threads.
      tiles: the storyboard's tile output, its ``pattern`` numbered by the
        whole video's tile index; None for no storyboard.
      shift: every part's and the audio's ``mux_shift``.
      access: how a URL source may be read.
      slides: the slide watch's samples and frames (``adapters.media.slide_branch``), on the part's own
        timeline from its start; None for none.

    Outputs, relative to the working directory the command runs in:
    ``<rendition>/<attempt>/seg_NNNNN.ts`` numbered from
    ``part.first_segment``, and ffmpeg's playlists ``part_playlist`` and
    ``part_master`` (which the caller reads and removes).
    """
    check_names(ladder)
    check_attempt(part.attempt)
    if part.start_seconds % video.segment_seconds:
        raise ValueError(f"part {part.index} starts at {part.start_seconds} s, off the {video.segment_seconds} s grid")
    rate = frame_rate(info)
    window = part_window(part, rate, tiles.interval_ms if tiles else None, info.duration_seconds)
    with_tiles = tiles is not None and window.tiles != 0
    zero = Fraction(round(info.start_seconds * 1_000_000), 1_000_000)
    options = ["-copyts"]
    if window.first_frame:
        # A twentieth of a frame early, so the first frame is not lost to rounding.
        seek = window.start - Fraction(1, 20) / rate - _preroll(info.format_name)
        options += ["-noaccurate_seek", "-seek_timestamp", "1", "-ss", _seconds(zero + max(seek, Fraction(0)))]
    options += ["-itsoffset", _seconds(-zero - window.start)]

    branches = len(ladder) + (1 if with_tiles else 0) + (1 if slides else 0)
    chains = [split_chain(branches, _past_moved(window, rate)), *scaler_chains(ladder)]
    if with_tiles and tiles is not None:
        chains.append(_part_tile_chain(len(ladder), tiles, window))
    if slides is not None:
        chains.append(slide_chain(f"s{branches - 1}", slides))
    args = [ffmpeg, *COMMON_ARGS, "-progress", "pipe:1", *input_args(source, access, options)]
    args += ["-filter_complex", ";".join(chains)]
    for index in range(len(ladder)):
        args += ["-map", f"[v{index}]"]
    # Constant frame rate as the single pass's (-copyts alone would make
    # ffmpeg start at the first frame instead of the part's first slot).
    args += x264_args(video) + capped_crf_args(ladder, video) + ["-r", str(rate), "-fps_mode:v", "cfr"]
    if window.frames is not None:
        args += ["-frames:v", str(window.frames)]
    args += ["-output_ts_offset", _seconds(window.start + shift), "-avoid_negative_ts", "disabled"]
    args += hls_args(
        video.segment_seconds,
        " ".join(f"v:{index},name:{rendition.name}" for index, rendition in enumerate(ladder)),
        segments=f"%v/{part.attempt}/{SEGMENT_PATTERN}",
        playlists=part_playlist(part),
        master=part_master(part),
        start_number=part.first_segment,
    )
    if with_tiles and tiles is not None:
        args += ["-map", "[tiles]", "-c:v", "png", "-fps_mode", "passthrough", "-map_metadata", "-1"]
        args += ["-frames:v", str(window.tiles), "-start_number", str(window.first_tile), "-f", "image2", tiles.pattern]
    if slides is not None:
        frames = slide_output_args(slides)
        if window.frames is not None:  # the part's own frames, or this output would read on to the source's end
            frames[frames.index("-f"):frames.index("-f")] = [
                "-frames:v", str(math.ceil(window.frames / rate * slides.frame_rate))]
        args += frames
    return args


def _preroll(format_name: str) -> int:
    return PREROLL_SECONDS if set(format_name.split(",")) & _NO_KEYFRAME_INDEX else 0


def _past_moved(window: PartWindow, rate: Fraction) -> str:
    # The first part starts where the single pass starts: nothing to move.
    if not window.first_frame:
        return "[0:V:0]"
    half_frame = float(Fraction(1, 2) / rate)
    return f"[0:V:0]setpts='if(lt(PTS*TB,-{half_frame!r}),PTS-{_PAST_SECONDS}/TB,PTS)',"


def _part_tile_chain(branch: int, tiles: TileOutput, window: PartWindow) -> str:
    # On the whole video's timeline the fps filter's grid is the single
    # pass's; the tiles' own timestamps go back to the part's (progress).
    start = float(window.start)
    return tile_chain(
        branch,
        tiles,
        start=f"start_time={window.first_tile * tiles.interval_ms / 1000!r}",
        before=f"setpts=PTS+{start!r}/TB," if window.first_frame else "",
        after=f",setpts=PTS-{start!r}/TB" if window.first_frame else "",
    )


def audio_playlist() -> str:
    """The media playlist ffmpeg writes for the audio group (read and removed)."""
    return ".audio.m3u8"


def audio_master() -> str:
    """The master playlist ffmpeg writes for the audio group (its CODECS are read from it, then it goes)."""
    return ".audio-master.m3u8"


def audio_command(
    ffmpeg: str,
    source: Source,
    info: MediaInfo,
    audio: AudioEncoding,
    attempt: str,
    *,
    segment_seconds: int,
    shift: Fraction,
    access: RemoteAccess | None = None,
) -> list[str]:
    """The ffmpeg command that encodes only the shared audio group, over the whole source.

    Parameters:
      ffmpeg: the executable.
      source: the local source file, or a presigned URL of it.
      info: the source's probe (its start).
      audio: the AAC encode and its loudness filters, as the single pass's.
      attempt: the folder scoping the segments to one encode of the video.
      segment_seconds: the HLS segment length.
      shift: the parts' ``mux_shift``.
      access: how a URL source may be read.

    Only the first audio stream is read and decoded (video packets are
    skipped, not decoded). Outputs, relative to the working directory:
    ``audio/<attempt>/seg_NNNNN.ts`` from 0, ``audio_playlist()`` and ``audio_master()``.
    """
    check_attempt(attempt)
    zero = Fraction(round(info.start_seconds * 1_000_000), 1_000_000)
    options = ["-copyts", "-itsoffset", _seconds(-zero)]
    args = [ffmpeg, *COMMON_ARGS, "-progress", "pipe:1", *input_args(source, access, options)]
    args += ["-filter_complex", audio_chain(audio), "-map", "[aout]", "-c:a", "aac", "-b:a", f"{audio.kbps}k"]
    args += ["-output_ts_offset", _seconds(shift), "-avoid_negative_ts", "disabled"]
    return args + hls_args(
        segment_seconds,
        None,
        segments=f"{AUDIO_FOLDER}/{attempt}/{SEGMENT_PATTERN}",
        playlists=audio_playlist(),
        master=audio_master(),
    )


def image_pattern(folder: Path, name: str) -> str:
    """An image2 file pattern for files in ``folder``, with any ``%`` of the folder's path escaped.

    Parameters:
      folder: where the images go.
      name: the file name pattern, e.g. ``tile_%05d.png``.
    """
    return str(folder.absolute()).replace("%", "%%") + "/" + name


def _seconds(value: Fraction) -> str:
    # Microseconds, ffmpeg's own precision for times on the command line.
    return f"{round(value * 1_000_000)}us"
