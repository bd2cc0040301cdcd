"""The ffmpeg command that encodes the whole HLS ladder in one process (no process work here).

One decode of the source, split into one scaler per rendition (and one more
branch for the storyboard's tiles, one for the slide watch of
``slide_branch``); every rendition is x264 at a constant
rate factor capped at the rung's rate; the audio is encoded once and shared
by all renditions as an HLS audio group, which ffmpeg's hls muxer also lists
as an audio-only variant.

``fixed_rate_ladder_command`` is the ladder as it was before: a fixed
average rate per rung and one audio encode per rendition. It is kept for the
benchmarks' baseline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from adapters.media.commands import COMMON_ARGS
from adapters.media.safety import input_args
from adapters.media.slide_branch import SlideOutput, slide_chain, slide_output_args
from domain.entities import Rendition
from domain.media import AUDIO_FOLDER, MASTER_PLAYLIST, RESERVED_RENDITION_NAMES, VARIANT_PLAYLIST

SEGMENT_PATTERN = "seg_%05d.ts"
# VBV buffer as a multiple of the rung's maximum rate: a 6 s segment's peak
# stays within a third of the cap.
BUFFER_FACTOR = 2
# VIDEO_CRF is the rate factor of a 1080p rendition; each halving of the
# height lowers it by this much, because a player scales a small rendition
# up and every artefact with it. Measured on the lecture and screen sources
# (docs/BENCHMARKS.md): CRF 23 on every rung cost 2.2 VMAF points at 1080p
# but 3 to 6 at 720p and 360p against the fixed ladder; 19/17/14 keeps all
# within 2 points.
CRF_REFERENCE_HEIGHT = 1080
CRF_STEP_PER_HALVING = 3

# A rendition name becomes a folder and a token of -var_stream_map, where
# spaces, commas and colons are separators and % starts a pattern.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class VideoEncoding:
    """How every rendition's video is encoded.

    Parameters:
      crf: libx264's constant rate factor of a 1080p rendition (lower:
        better and bigger); smaller renditions get a lower one (see
        ``rendition_crf``). Each spends what its content needs at that
        quality, up to its rung's rate.
      preset: the libx264 preset (speed against size).
      segment_seconds: the HLS segment length; a keyframe is forced at every
        multiple of it so every rendition cuts its segments at the same instants.
      threads: encoder threads, 0 for ffmpeg's automatic choice.
    """

    crf: int = 19
    preset: str = "veryfast"
    segment_seconds: int = 6
    threads: int = 0


@dataclass(frozen=True)
class AudioEncoding:
    """The one AAC encode the renditions share.

    Parameters:
      kbps: the AAC bit rate.
      sample_rate: the output sample rate in Hz.
      filters: ffmpeg audio filters applied before the encode (loudness
        normalisation), "" for none. Channel layout and sample rate are
        handled here, not by the caller.
    """

    kbps: int
    sample_rate: int
    filters: str = ""


@dataclass(frozen=True)
class TileOutput:
    """Storyboard tiles written by the same ffmpeg run, one PNG per interval.

    Parameters:
      interval_ms: one tile per this many milliseconds of the video.
      width: tile width in pixels (the height follows the picture's shape).
      pattern: the image2 file pattern relative to the working directory,
        e.g. ``tiles/tile_%04d.png``; its folder must exist.
    """

    interval_ms: int
    width: int
    pattern: str


def check_names(ladder: Sequence[Rendition]) -> None:
    """Raise ValueError unless every rendition name is a safe, unique, unreserved folder name.

    Parameters:
      ladder: the renditions.
    """
    if not ladder:
        raise ValueError("the ladder has no rendition")
    for rendition in ladder:
        if not _SAFE_NAME.match(rendition.name):
            raise ValueError(f"rendition name {rendition.name!r} must be 1-32 letters, digits, '-' or '_'")
        if rendition.name in RESERVED_RENDITION_NAMES:
            raise ValueError(f"rendition name {rendition.name!r} is reserved for the HLS audio or captions folder")
    if len({rendition.name for rendition in ladder}) != len(ladder):
        raise ValueError("rendition names must be unique")


def ladder_command(
    ffmpeg: str,
    source: Path,
    ladder: Sequence[Rendition],
    *,
    video: VideoEncoding,
    audio: AudioEncoding | None,
    tiles: TileOutput | None = None,
    slides: SlideOutput | None = None,
) -> list[str]:
    """The single ffmpeg command for the ladder, its shared audio, the storyboard tiles and the slide watch.

    Parameters:
      ffmpeg: the executable.
      source: the local source file.
      ladder: the renditions, in the order the master playlist lists them;
        each rung's ``video_kbps`` is its maximum rate.
      video: rate factor, preset, segment length and threads.
      audio: the shared audio encode, None for a source without audio.
      tiles: the storyboard's tile output, None for none.
      slides: the slide watcher's samples and frames, None for none.

    Outputs, relative to the working directory the command runs in:
    ``<name>/index.m3u8`` and ``<name>/seg_00000.ts``... per rendition,
    ``audio/index.m3u8`` and its segments when there is audio, and
    ``master.m3u8`` (ffmpeg's; ``adapters.media.master`` rewrites it).
    """
    check_names(ladder)
    branches = len(ladder) + (1 if tiles else 0) + (1 if slides else 0)
    chains = [_split(branches), *_scalers(ladder)]
    if tiles:
        chains.append(_tile_chain(len(ladder), tiles))
    if slides:
        chains.append(slide_chain(f"s{branches - 1}", slides))
    if audio:
        chains.append(_audio_chain(audio))

    args = [ffmpeg, *COMMON_ARGS, "-progress", "pipe:1", *input_args(source)]
    args += ["-filter_complex", ";".join(chains)]
    for index in range(len(ladder)):
        args += ["-map", f"[v{index}]"]
    if audio:
        args += ["-map", "[aout]"]
    args += _x264(video)
    for index, rendition in enumerate(ladder):
        cap = rendition.video_kbps
        args += [
            f"-crf:v:{index}", f"{rendition_crf(video.crf, rendition.height):g}",
            f"-maxrate:v:{index}", f"{cap}k",
            f"-bufsize:v:{index}", f"{cap * BUFFER_FACTOR}k",
        ]  # fmt: skip
    if audio:
        args += ["-c:a", "aac", "-b:a", f"{audio.kbps}k"]
    args += _hls_output(video.segment_seconds, _shared_audio_map(ladder, has_audio=audio is not None))
    if tiles:
        args += [
            "-map", "[tiles]", "-c:v", "png", "-fps_mode", "passthrough", "-map_metadata", "-1",
            "-f", "image2", tiles.pattern,
        ]  # fmt: skip
    if slides:
        args += slide_output_args(slides)
    return args


def rendition_crf(crf: int, height: int) -> int:
    """The rate factor of a rendition ``height`` pixels high when a 1080p one gets ``crf``.

    Parameters:
      crf: VIDEO_CRF.
      height: the rendition's height.

    CRF_STEP_PER_HALVING lower per halving of the height (720p: 2 lower,
    360p: 5 lower), higher above 1080p; within libx264's 0-51.
    """
    offset = CRF_STEP_PER_HALVING * math.log2(height / CRF_REFERENCE_HEIGHT)
    return min(max(round(crf + offset), 0), 51)


def fixed_rate_ladder_command(
    ffmpeg: str,
    source: Path,
    ladder: Sequence[Rendition],
    *,
    has_audio: bool,
    segment_seconds: int,
    preset: str,
    threads: int,
) -> list[str]:
    """The ladder as it was encoded before capped CRF: the benchmarks' baseline.

    Parameters:
      ffmpeg: the executable.
      source: the local source file.
      ladder: the renditions; each rung's ``video_kbps`` is its average rate.
      has_audio: whether to encode the source's audio, once per rendition.
      segment_seconds: the HLS segment length.
      preset: the libx264 preset.
      threads: encoder threads, 0 for ffmpeg's automatic choice.

    Same outputs as ``ladder_command`` except that every rendition's segments
    carry their own AAC track and there is no audio folder.
    """
    check_names(ladder)
    args = [ffmpeg, *COMMON_ARGS, "-progress", "pipe:1", *input_args(source)]
    args += ["-filter_complex", ";".join([_split(len(ladder)), *_scalers(ladder)])]
    for index in range(len(ladder)):
        args += ["-map", f"[v{index}]"]
        if has_audio:
            args += ["-map", "0:a:0"]
    args += _x264(VideoEncoding(preset=preset, segment_seconds=segment_seconds, threads=threads))
    for index, rendition in enumerate(ladder):
        kbps = rendition.video_kbps
        args += [
            f"-b:v:{index}", f"{kbps}k",
            f"-maxrate:v:{index}", f"{round(kbps * 1.07)}k",
            f"-bufsize:v:{index}", f"{round(kbps * 1.5)}k",
        ]  # fmt: skip
    if has_audio:
        args += ["-c:a", "aac", "-ac", "2"]
        for index, rendition in enumerate(ladder):
            args += [f"-b:a:{index}", f"{rendition.audio_kbps}k"]
    groups = [f"v:{i},a:{i},name:{r.name}" if has_audio else f"v:{i},name:{r.name}" for i, r in enumerate(ladder)]
    return args + _hls_output(segment_seconds, " ".join(groups))


def _split(branches: int) -> str:
    # One decode of the first real video stream ("V" skips cover art).
    labels = "".join(f"[s{index}]" for index in range(branches))
    return f"[0:V:0]split={branches}{labels}"


def _scalers(ladder: Sequence[Rendition]) -> list[str]:
    # scale=-2:H keeps the aspect ratio with an even width (4:2:0 needs it);
    # full-range sources (MJPEG, some phones) are brought to the limited range
    # that players assume when they ignore the range flag.
    return [
        f"[s{index}]scale=-2:{rendition.height}:out_range=limited,format=yuv420p[v{index}]"
        for index, rendition in enumerate(ladder)
    ]


def _tile_chain(branch: int, tiles: TileOutput) -> str:
    # fps keeps (or repeats) one frame per interval on a grid starting at 0,
    # each from the middle of its interval; only those few frames are scaled.
    # eof_action=pass: a video shorter than half an interval still gets its tile.
    # The height follows the displayed aspect ratio (non-square pixels too).
    return (
        f"[s{branch}]fps=fps=1000/{tiles.interval_ms}:start_time=0:round=near:eof_action=pass,"
        f"scale={tiles.width}:'max(2,trunc(ow/dar/2)*2)',setsar=1,format=rgb24[tiles]"
    )


def _audio_chain(audio: AudioEncoding) -> str:
    # Stereo before any loudness filter, so a mono or 5.1 source is measured
    # and normalised as the listener hears it.
    steps = ["aformat=channel_layouts=stereo"]
    if audio.filters:
        steps.append(audio.filters)
    steps.append(f"aresample={audio.sample_rate}")
    return f"[0:a:0]{','.join(steps)}[aout]"


def _x264(video: VideoEncoding) -> list[str]:
    return [
        "-c:v", "libx264", "-preset", video.preset, "-pix_fmt", "yuv420p", "-threads", str(video.threads),
        # Forced keyframes on the segment grid, and no scene-cut keyframes, so
        # every rendition cuts its segments at the same instants.
        "-force_key_frames:v", f"expr:gte(t,n_forced*{video.segment_seconds})", "-sc_threshold", "0",
    ]  # fmt: skip


def _shared_audio_map(ladder: Sequence[Rendition], *, has_audio: bool) -> str:
    if not has_audio:
        return " ".join(f"v:{index},name:{rendition.name}" for index, rendition in enumerate(ladder))
    groups = [f"v:{index},agroup:{AUDIO_FOLDER},name:{rendition.name}" for index, rendition in enumerate(ladder)]
    groups.append(f"a:0,agroup:{AUDIO_FOLDER},name:{AUDIO_FOLDER}")
    return " ".join(groups)


def _hls_output(segment_seconds: int, stream_map: str) -> list[str]:
    return [
        # The source's tags and chapters (names, GPS positions) are not ours to publish.
        "-map_metadata", "-1", "-map_chapters", "-1",
        "-f", "hls",
        "-hls_time", str(segment_seconds),
        "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments",
        "-hls_segment_type", "mpegts",
        "-hls_segment_filename", f"%v/{SEGMENT_PATTERN}",
        "-master_pl_name", MASTER_PLAYLIST,
        "-var_stream_map", stream_map,
        f"%v/{VARIANT_PLAYLIST}",
    ]  # fmt: skip
