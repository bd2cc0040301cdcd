"""ffmpeg arguments shared by every run, and the thumbnail command (the ladder's is in ``ladder``)."""

from __future__ import annotations

from pathlib import Path

from adapters.media.safety import RemoteAccess, Source, input_args

THUMBNAIL_MAX_WIDTH = 1280

COMMON_ARGS = ["-nostdin", "-y", "-hide_banner", "-loglevel", "error", "-nostats"]


def thumbnail_command(
    ffmpeg: str,
    source: Source,
    dest: Path,
    *,
    at_seconds: float,
    threads: int,
    access: RemoteAccess | None = None,
) -> list[str]:
    """The ffmpeg command that writes one JPEG frame of the source.

    Parameters:
      ffmpeg: the executable.
      source: the local source file, or a presigned URL of it.
      dest: the JPEG to write.
      at_seconds: where to take the frame, already clamped into the video.
      threads: decoder/encoder threads, 0 for ffmpeg's automatic choice.
      access: how a URL source may be read.
    """
    return [
        ffmpeg, *COMMON_ARGS,
        # Before -i: seek in the input (fast) rather than decode up to the time.
        "-ss", f"{max(at_seconds, 0.0):.3f}",
        *input_args(source, access),
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
