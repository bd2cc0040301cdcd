"""The ports the handlers need, as Protocols; adapters/ implements them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from domain.entities import MediaInfo, Rendition, VideoOutput
from domain.statuses import AIJobStatus, VideoStatus


class VideoRepository(Protocol):
    """Final state of videos. Every transition is one conditional update.

    ``mark_processing`` returns the ``processing_started_at`` it wrote (the
    attempt's fence) or None when the row's status did not allow it.
    ``complete_video`` and ``fail_video`` take that fence, so a stale attempt
    whose lock expired cannot overwrite the result of a newer one.
    """

    def status_of(self, video_id: int) -> VideoStatus | None: ...

    def mark_processing(self, video_id: int) -> datetime | None: ...

    def attempt_is_current(self, video_id: int, fence: datetime) -> bool:
        """True while the row is PROCESSING under this attempt's fence."""
        ...

    def complete_video(self, video_id: int, output: VideoOutput, *, fence: datetime) -> bool: ...

    def fail_video(self, video_id: int, reason: str, *, fence: datetime | None = None) -> bool: ...


class AIJobRepository(Protocol):
    """Final state of AI jobs, with the same conditional-update rules as videos."""

    def status_of(self, job_id: str) -> AIJobStatus | None: ...

    def mark_processing(self, job_id: str) -> datetime | None: ...

    def complete_job(self, job_id: str, result: dict[str, Any], *, fence: datetime) -> bool: ...

    def fail_job(self, job_id: str, reason: str, *, fence: datetime | None = None) -> bool: ...


class JobLock(Protocol):
    """A per-job mutual exclusion lock that only its owner can release."""

    def acquire(self, key: str) -> bool: ...

    def release(self, key: str) -> None: ...


class ProgressSink(Protocol):
    """Where live progress goes (CONTRACT section 3)."""

    def write(self, key: str, step: str, percent: int, message: str) -> None: ...


class ObjectStorage(Protocol):
    """The bucket of CONTRACT section 4."""

    def size_of(self, key: str) -> int:
        """Size in bytes; raises SourceNotFound when there is no such object."""
        ...

    def download(self, key: str, dest: Path) -> None: ...

    def upload(self, path: Path, key: str) -> None:
        """Upload one file with the Content-Type its extension calls for."""
        ...


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
