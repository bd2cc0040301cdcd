"""The ports the handlers need, as Protocols; adapters/ implements them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from domain.entities import AIJobRequest, EngineOutput, JobState, MediaInfo, Rendition

if TYPE_CHECKING:
    from domain.progress import Progress


class JobRepository(Protocol):
    """The rows of one kind of job. Every transition is one conditional update.

    ``mark_processing`` returns the time it wrote into the row (the attempt's
    fence) or None when the row's status did not allow it. ``complete`` and
    ``fail`` take that fence, so a stale attempt whose lock expired cannot
    overwrite the result of a newer one; ``fail`` without a fence is the
    give-up after the last retry.
    """

    def status_of(self, job_id: Any) -> Enum | None: ...

    def state_of(self, job_id: Any) -> JobState | None:
        """Status, tenant and creation time of a row (None: no such row)."""
        ...

    def mark_processing(self, job_id: Any) -> datetime | None: ...

    def attempt_is_current(self, job_id: Any, fence: datetime) -> bool:
        """True while the row is being processed under this attempt's fence."""
        ...

    def complete(self, job_id: Any, result: Any, *, fence: datetime) -> bool: ...

    def fail(self, job_id: Any, reason: str, *, fence: datetime | None = None) -> bool: ...


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

    def read_text(self, key: str) -> str:
        """A small text object (a playlist); raises SourceNotFound when there is none."""
        ...

    def write_text(self, key: str, text: str) -> None:
        """Write a small text object in one put, with the Content-Type its name calls for."""
        ...

    def delete(self, keys: Sequence[str]) -> None:
        """Delete objects; a key with no object is no error."""
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
        slides_dir: Path | None = None,
    ) -> Path:
        """Write ``out_dir/master.m3u8`` and one folder per rendition; return the master path.

        With ``storyboard_dir``, also ``storyboard_dir/storyboard.vtt`` and its sprites (CONTRACT 4a).
        With ``slides_dir``, also the candidate slide changes found in the same pass:
        ``slides_dir/candidates.json`` (``domain.chapters.dump_candidates``) and their images beside it.
        """
        ...

    def thumbnail(self, source: Path, dest: Path, at_seconds: float) -> None: ...

    def start_seconds(self, segment: Path) -> float:
        """When a media segment's first frame is presented (its first timestamp), in seconds."""
        ...


class Engine(Protocol):
    """An AI engine: turns one job's payload (and its input file) into a JSON result and files."""

    def prepare(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload as the engine takes it. Raises InvalidMessage naming the field
        when it does not fit, a TransientError when this worker cannot run the engine."""
        ...

    def input_key(self, payload: dict[str, Any]) -> str | None:
        """The object the engine reads (the payload's ``file_key``), or None."""
        ...

    def run(self, request: AIJobRequest, source: Path | None, workdir: Path, progress: Progress) -> EngineOutput:
        """Run the engine on ``request`` (its payload prepared) and the downloaded ``source``.

        ``workdir`` is the job's private folder (removed after the job): the
        files the engine hands back lie in it, and are uploaded by the handler.
        """
        ...
