"""The ladder the worker encoded before capped CRF: the quality benchmark's baseline.

A fixed average rate per rung and one AAC encode per rendition, with no
loudness pass and no storyboard; the decode, scalers, keyframes and HLS
output are the pieces today's ``ladder_command`` is built from, so the two
differ only in what the capped-CRF ladder changed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from adapters.media import FfmpegMediaProcessor
from adapters.media.commands import COMMON_ARGS
from adapters.media.encoding import VideoEncoding, hls_args, scaler_chains, split_chain, x264_args
from adapters.media.ladder import check_names
from adapters.media.safety import input_args
from domain.video.model import Rendition
from domain.video.playlists import MASTER_PLAYLIST


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
    """The ffmpeg command of the fixed-rate ladder.

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
    args += ["-filter_complex", ";".join([split_chain(len(ladder)), *scaler_chains(ladder)])]
    for index in range(len(ladder)):
        args += ["-map", f"[v{index}]"]
        if has_audio:
            args += ["-map", "0:a:0"]
    args += x264_args(VideoEncoding(preset=preset, segment_seconds=segment_seconds, threads=threads))
    for index, rendition in enumerate(ladder):
        rate = rendition.video_kbps  # the average, with 7% headroom and a buffer of 1.5 s
        args += [f"-b:v:{index}", f"{rate}k", f"-maxrate:v:{index}", f"{round(rate * 1.07)}k",
                 f"-bufsize:v:{index}", f"{round(rate * 1.5)}k"]
    if has_audio:
        args += ["-c:a", "aac", "-ac", "2"]
        for index, rendition in enumerate(ladder):
            args += [f"-b:a:{index}", f"{rendition.audio_kbps}k"]
    groups = [f"v:{i},a:{i},name:{r.name}" if has_audio else f"v:{i},name:{r.name}" for i, r in enumerate(ladder)]
    return args + hls_args(segment_seconds, " ".join(groups))


class FixedLadderProcessor(FfmpegMediaProcessor):
    """The media processor as it was: the fixed-rate ladder, no loudness pass, no storyboard, no
    slide frames for chapters (``storyboard_dir`` and ``slides_dir`` stay empty)."""

    def transcode_hls(self, source, out_dir, info, ladder, on_progress, storyboard_dir=None, slides_dir=None):
        out_dir.mkdir(parents=True, exist_ok=True)
        args = fixed_rate_ladder_command(self.ffmpeg, source, ladder, has_audio=info.has_audio,
                                         segment_seconds=self.video.segment_seconds, preset=self.video.preset,
                                         threads=self.video.threads)
        subprocess.run(args, cwd=out_dir, check=True, stdout=subprocess.DEVNULL)
        return out_dir / MASTER_PLAYLIST
