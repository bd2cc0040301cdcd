"""The port only the video kind needs: the media processor (ffmpeg in production)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from domain.video.model import MediaInfo, Rendition


class MediaProcessor(Protocol):
    """ffmpeg, or anything that can probe, transcode to HLS and take a thumbnail."""

    def probe(self, source: Path) -> MediaInfo: ...

    def transcode_hls(
        self,
        source: Path,
        out_dir: Path,
        info: MediaInfo,
        ladder: Sequence[Rendition],
        on_progress: Callable[[float], None],
        storyboard_dir: Path | None = None,
    ) -> Path:
        """Write ``out_dir/master.m3u8`` and one folder per rendition; return the master path.

        With ``storyboard_dir``, also ``storyboard_dir/storyboard.vtt`` and its sprites (CONTRACT 4a).
        """
        ...

    def thumbnail(self, source: Path, dest: Path, at_seconds: float) -> None: ...

    def start_seconds(self, segment: Path) -> float:
        """When a media segment's first frame is presented (its first timestamp), in seconds."""
        ...
