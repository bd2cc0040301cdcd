"""The media adapter: probing with PyAV, HLS ladders (in one pass or in parts) and thumbnails with the ffmpeg CLI."""

from adapters.media.binary import find_ffmpeg
from adapters.media.ffmpeg import FfmpegMediaProcessor
from adapters.media.safety import RemoteAccess

__all__ = ["FfmpegMediaProcessor", "RemoteAccess", "find_ffmpeg"]
