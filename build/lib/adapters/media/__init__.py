"""The media adapter: probing with PyAV, HLS ladders and thumbnails with the ffmpeg CLI."""

from adapters.media.binary import find_ffmpeg
from adapters.media.ffmpeg import FfmpegMediaProcessor

__all__ = ["FfmpegMediaProcessor", "find_ffmpeg"]
