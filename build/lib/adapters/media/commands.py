"""ffmpeg argument lists for the HLS ladder and the thumbnail (no process work here)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from adapters.media.safety import input_args
from domain.entities import Rendition

MASTER_PLAYLIST = "master.m3u8"
VARIANT_PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%05d.ts"
THUMBNAIL_MAX_WIDTH = 1280

# A rendition name becomes a folder and a token of -var_stream_map, where
# spaces, commas and colons are separators and % starts a pattern.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")

_COMMON = ["-nostdin", "-y", "-hide_banner", "-loglevel", "error", "-nostats"]


def hls_command(
    ffmpeg: str,
    source: Path,
    ladder: Sequence[Rendition],
    *,
    has_audio: bool,
    segment_seconds: int,
    preset: str,
    threads: int,
) -> list[str]:
    """The single ffmpeg command that encodes the whole ladder to HLS.

    Parameters:
      ffmpeg: the executable.
      source: the local source file.
      ladder: the renditions, in the order the master playlist lists them.
      has_audio: whether the source has an audio stream to encode per rendition.
      segment_seconds: the target segment length; a keyframe is forced at
        every multiple of it so segments are cut right there.
      preset: the libx264 preset.
      threads: encoder threads, 0 for ffmpeg's automatic choice.

    Outputs are relative to the working directory the command is run in:
    ``<name>/index.m3u8``, ``<name>/seg_00000.ts`` and ``master.m3u8``
    (relative names keep machine paths out of ffmpeg's messages and make
    the master list each variant as ``<name>/index.m3u8``).
    """
    if not ladder:
        raise ValueError("the ladder has no rendition")
    for rendition in ladder:
        if not _SAFE_NAME.match(rendition.name):
            raise ValueError(f"rendition name {rendition.name!r} must be 1-32 letters, digits, '-' or '_'")
    if len({rendition.name for rendition in ladder}) != len(ladder):
        raise ValueError("rendition names must be unique")

    args = [ffmpeg, *_COMMON, "-progress", "pipe:1", *input_args(source)]
    args += ["-filter_complex", _ladder_graph(ladder)]
    for index in range(len(ladder)):
        args += ["-map", f"[v{index}]"]
        if has_audio:
            args += ["-map", "0:a:0"]
    args += ["-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p", "-threads", str(threads)]
    # Forced keyframes on the segment grid, and no scene-cut keyframes, so
    # every rendition cuts its segments at the same instants.
    args += ["-force_key_frames:v", f"expr:gte(t,n_forced*{segment_seconds})", "-sc_threshold", "0"]
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
    # The source's tags and chapters (names, GPS positions) are not ours to publish.
    args += ["-map_metadata", "-1", "-map_chapters", "-1"]
    args += [
        "-f", "hls",
        "-hls_time", str(segment_seconds),
        "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments",
        "-hls_segment_type", "mpegts",
        "-hls_segment_filename", f"%v/{SEGMENT_PATTERN}",
        "-master_pl_name", MASTER_PLAYLIST,
        "-var_stream_map", _stream_map(ladder, has_audio=has_audio),
        f"%v/{VARIANT_PLAYLIST}",
    ]  # fmt: skip
    return args


def thumbnail_command(ffmpeg: str, source: Path, dest: Path, *, at_seconds: float, threads: int) -> list[str]:
    """The ffmpeg command that writes one JPEG frame of the source.

    Parameters:
      ffmpeg: the executable.
      source: the local source file.
      dest: the JPEG to write.
      at_seconds: where to take the frame, already clamped into the video.
      threads: decoder/encoder threads, 0 for ffmpeg's automatic choice.
    """
    return [
        ffmpeg, *_COMMON,
        # Before -i: seek in the input (fast) rather than decode up to the time.
        "-ss", f"{max(at_seconds, 0.0):.3f}",
        *input_args(source),
        "-map", "0:V:0",
        "-frames:v", "1",
        "-vf", f"scale='min({THUMBNAIL_MAX_WIDTH},iw)':-2",
        "-q:v", "3",
        "-threads", str(threads),
        "-map_metadata", "-1",
        # -update 1: a single image, never a numbered sequence, whatever the name.
        "-f", "image2", "-update", "1", "-c:v", "mjpeg",
        "file:" + str(dest.absolute()),
    ]  # fmt: skip


def _ladder_graph(ladder: Sequence[Rendition]) -> str:
    # One decode, split into one scaler per rendition. "V" skips cover art.
    # scale=-2:H keeps the aspect ratio with an even width (4:2:0 needs it).
    labels = "".join(f"[s{index}]" for index in range(len(ladder)))
    chains = [f"[0:V:0]split={len(ladder)}{labels}"]
    for index, rendition in enumerate(ladder):
        chains.append(f"[s{index}]scale=-2:{rendition.height},format=yuv420p[v{index}]")
    return ";".join(chains)


def _stream_map(ladder: Sequence[Rendition], *, has_audio: bool) -> str:
    groups = []
    for index, rendition in enumerate(ladder):
        streams = f"v:{index},a:{index}" if has_audio else f"v:{index}"
        groups.append(f"{streams},name:{rendition.name}")
    return " ".join(groups)
