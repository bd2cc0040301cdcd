"""How the ladder is encoded, and the ffmpeg arguments every encode of it shares (no process work here).

The single pass (``ladder.ladder_command``) and the parts of a long video
(``parts``) are built from these pieces, so a part's renditions are encoded
exactly as the single pass's: one decode split into one scaler per rung,
libx264 at a rate factor capped at the rung's rate, keyframes forced on the
segment grid, the hls muxer's MPEG-TS segments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from domain.video.model import Rendition
from domain.video.playlists import AUDIO_FOLDER, MASTER_PLAYLIST, VARIANT_PLAYLIST

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


def capped_crf_args(ladder: Sequence[Rendition], video: VideoEncoding) -> list[str]:
    """Each rendition's rate factor and its cap (maximum rate and VBV buffer), by output video stream.

    Parameters:
      ladder: the renditions, output video stream ``v:i`` being ``ladder[i]``.
      video: the reference rate factor.
    """
    args: list[str] = []
    for index, rendition in enumerate(ladder):
        cap = rendition.video_kbps
        args += [
            f"-crf:v:{index}", f"{rendition_crf(video.crf, rendition.height):g}",
            f"-maxrate:v:{index}", f"{cap}k",
            f"-bufsize:v:{index}", f"{cap * BUFFER_FACTOR}k",
        ]  # fmt: skip
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


def split_chain(branches: int, source: str = "[0:V:0]") -> str:
    """The filter that hands one decode to ``branches`` branches labelled ``[s0]``, ``[s1]``...

    Parameters:
      branches: how many branches.
      source: the pad split; by default the first real video stream ("V"
        skips cover art).
    """
    labels = "".join(f"[s{index}]" for index in range(branches))
    return f"{source}split={branches}{labels}"


def scaler_chains(ladder: Sequence[Rendition]) -> list[str]:
    """One scaler per rendition, from branch ``[s<i>]`` to the encoder's ``[v<i>]``.

    Parameters:
      ladder: the renditions.
    """
    # scale=-2:H keeps the aspect ratio with an even width (4:2:0 needs it);
    # full-range sources (MJPEG, some phones) are brought to the limited range
    # that players assume when they ignore the range flag.
    return [
        f"[s{index}]scale=-2:{rendition.height}:out_range=limited,format=yuv420p[v{index}]"
        for index, rendition in enumerate(ladder)
    ]


def tile_chain(branch: int, tiles: TileOutput, *, start: str = "start_time=0", before: str = "", after: str = "") -> str:
    """The storyboard's branch: from ``[s<branch>]`` to ``[tiles]``, one tile per interval.

    Parameters:
      branch: the split's branch it reads.
      tiles: interval and width.
      start: the fps filter's first slot (``start_time=...``).
      before: filters before it, each followed by a comma (a ``setpts``
        moving a part onto the whole video's timeline), "" for none.
      after: filters after it, each preceded by a comma, "" for none.
    """
    # fps keeps (or repeats) one frame per interval on a grid starting at 0,
    # each from the middle of its interval; only those few frames are scaled.
    # eof_action=pass: a video shorter than half an interval still gets its tile.
    # The height follows the displayed aspect ratio (non-square pixels too).
    return (
        f"[s{branch}]{before}fps=fps=1000/{tiles.interval_ms}:{start}:round=near:eof_action=pass,"
        f"scale={tiles.width}:'max(2,trunc(ow/dar/2)*2)',setsar=1,format=rgb24{after}[tiles]"
    )


def audio_chain(audio: AudioEncoding) -> str:
    """The shared audio's filters, from the first audio stream to ``[aout]``.

    Parameters:
      audio: sample rate and loudness filters.
    """
    # Stereo before any loudness filter, so a mono or 5.1 source is measured
    # and normalised as the listener hears it.
    steps = ["aformat=channel_layouts=stereo"]
    if audio.filters:
        steps.append(audio.filters)
    steps.append(f"aresample={audio.sample_rate}")
    return f"[0:a:0]{','.join(steps)}[aout]"


def x264_args(video: VideoEncoding) -> list[str]:
    """libx264 with keyframes forced on the segment grid (counted from the run's first frame).

    Parameters:
      video: preset, threads and segment length.
    """
    return [
        "-c:v", "libx264", "-preset", video.preset, "-pix_fmt", "yuv420p", "-threads", str(video.threads),
        # Forced keyframes on the segment grid, and no scene-cut keyframes, so
        # every rendition cuts its segments at the same instants.
        "-force_key_frames:v", f"expr:gte(t,n_forced*{video.segment_seconds})", "-sc_threshold", "0",
    ]  # fmt: skip


def shared_audio_map(ladder: Sequence[Rendition], *, has_audio: bool) -> str:
    """The hls muxer's ``-var_stream_map``: one variant per rendition, plus the audio group.

    Parameters:
      ladder: the renditions.
      has_audio: whether the output has the shared audio stream.
    """
    if not has_audio:
        return " ".join(f"v:{index},name:{rendition.name}" for index, rendition in enumerate(ladder))
    groups = [f"v:{index},agroup:{AUDIO_FOLDER},name:{rendition.name}" for index, rendition in enumerate(ladder)]
    groups.append(f"a:0,agroup:{AUDIO_FOLDER},name:{AUDIO_FOLDER}")
    return " ".join(groups)


def hls_args(
    segment_seconds: int,
    stream_map: str | None,
    *,
    segments: str = f"%v/{SEGMENT_PATTERN}",
    playlists: str = f"%v/{VARIANT_PLAYLIST}",
    master: str = MASTER_PLAYLIST,
    start_number: int = 0,
) -> list[str]:
    """The hls muxer's arguments (the output's last ones, its playlists' name included).

    Parameters:
      segment_seconds: the target segment length.
      stream_map: the ``-var_stream_map`` (``shared_audio_map``), None for
        an output of one stream.
      segments: the segment files' pattern (``%v`` the variant's name).
      playlists: the media playlists' pattern.
      master: the master playlist's name.
      start_number: the number of the first segment.
    """
    args = [
        # The source's tags and chapters (names, GPS positions) are not ours to publish.
        "-map_metadata", "-1", "-map_chapters", "-1",
        "-f", "hls",
        "-hls_time", str(segment_seconds),
        "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments",
        "-hls_segment_type", "mpegts",
        "-hls_segment_filename", segments,
        "-master_pl_name", master,
    ]  # fmt: skip
    if stream_map is not None:
        args += ["-var_stream_map", stream_map]
    if start_number:
        args += ["-start_number", str(start_number)]
    return [*args, playlists]
