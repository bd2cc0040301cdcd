"""The ffmpeg command that encodes the whole HLS ladder in one process (no process work here).

One decode of the source, split into one scaler per rendition (and one more
branch for the storyboard's tiles, one for the slide watch of
``slide_branch``); every rendition is x264 at a constant
rate factor capped at the rung's rate; the audio is encoded once and shared
by all renditions as an HLS audio group, which ffmpeg's hls muxer also lists
as an audio-only variant.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from adapters.media.commands import COMMON_ARGS
from adapters.media.encoding import (
    AudioEncoding,
    TileOutput,
    VideoEncoding,
    audio_chain,
    capped_crf_args,
    hls_args,
    scaler_chains,
    shared_audio_map,
    split_chain,
    tile_chain,
    x264_args,
)
from adapters.media.safety import RemoteAccess, Source, input_args
from adapters.media.slide_branch import SlideOutput, slide_chain, slide_output_args
from domain.video.model import Rendition
from domain.video.playlists import RESERVED_RENDITION_NAMES

# A rendition name becomes a folder and a token of -var_stream_map, where
# spaces, commas and colons are separators and % starts a pattern.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


def check_names(ladder: Sequence[Rendition]) -> None:
    """Raise ValueError unless every rendition name is a safe, unique, unreserved folder name.

    Parameters:
      ladder: the renditions.
    """
    if not ladder:
        raise ValueError("the ladder has no rendition")
    for rendition in ladder:
        if not _SAFE_NAME.fullmatch(rendition.name):
            raise ValueError(f"rendition name {rendition.name!r} must be 1-32 letters, digits, '-' or '_'")
        if rendition.name in RESERVED_RENDITION_NAMES:
            raise ValueError(f"rendition name {rendition.name!r} is reserved for the HLS audio or captions folder")
    if len({rendition.name for rendition in ladder}) != len(ladder):
        raise ValueError("rendition names must be unique")


def ladder_command(
    ffmpeg: str,
    source: Source,
    ladder: Sequence[Rendition],
    *,
    video: VideoEncoding,
    audio: AudioEncoding | None,
    tiles: TileOutput | None = None,
    access: RemoteAccess | None = None,
    slides: SlideOutput | None = None,
) -> list[str]:
    """The single ffmpeg command for the ladder, its shared audio, the storyboard tiles and the slide watch.

    Parameters:
      ffmpeg: the executable.
      source: the local source file, or a presigned URL of it.
      ladder: the renditions, in the order the master playlist lists them;
        each rung's ``video_kbps`` is its maximum rate.
      video: rate factor, preset, segment length and threads.
      audio: the shared audio encode, None for a source without audio.
      tiles: the storyboard's tile output, None for none.
      access: how a URL source may be read.
      slides: the slide watcher's samples and frames, None for none.

    Outputs, relative to the working directory the command runs in:
    ``<name>/index.m3u8`` and ``<name>/seg_00000.ts``... per rendition,
    ``audio/index.m3u8`` and its segments when there is audio, and
    ``master.m3u8`` (ffmpeg's; ``adapters.media.master`` rewrites it).
    """
    check_names(ladder)
    branches = len(ladder) + (1 if tiles else 0) + (1 if slides else 0)
    chains = [split_chain(branches), *scaler_chains(ladder)]
    if tiles:
        chains.append(tile_chain(len(ladder), tiles))
    if slides:
        chains.append(slide_chain(f"s{branches - 1}", slides))
    if audio:
        chains.append(audio_chain(audio))

    args = [ffmpeg, *COMMON_ARGS, "-progress", "pipe:1", *input_args(source, access)]
    args += ["-filter_complex", ";".join(chains)]
    for index in range(len(ladder)):
        args += ["-map", f"[v{index}]"]
    if audio:
        args += ["-map", "[aout]"]
    args += x264_args(video) + capped_crf_args(ladder, video)
    if audio:
        args += ["-c:a", "aac", "-b:a", f"{audio.kbps}k"]
    args += hls_args(video.segment_seconds, shared_audio_map(ladder, has_audio=audio is not None))
    if tiles:
        args += [
            "-map", "[tiles]", "-c:v", "png", "-fps_mode", "passthrough", "-map_metadata", "-1",
            "-f", "image2", tiles.pattern,
        ]  # fmt: skip
    if slides:
        args += slide_output_args(slides)
    return args
