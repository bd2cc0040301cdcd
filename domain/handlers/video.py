"""ProcessVideoJobHandler: one video message, from lock to final row."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path

from domain.entities import Rendition, VideoJob, VideoOutput
from domain.errors import JobNotFound, LimitExceeded, LockBusy, PermanentError, UnsupportedMedia
from domain.media import check_limits, check_object_key, default_ladder, plan_ladder
from domain.ports import JobLock, MediaProcessor, ObjectStorage, ProgressSink, VideoRepository
from domain.progress import VIDEO_STEPS, Progress
from domain.statuses import VIDEO_FINAL

log = logging.getLogger(__name__)


class Outcome(str, Enum):
    COMPLETED = "completed"
    SKIPPED = "skipped"  # the row was already final: ack, never reprocess
    SUPERSEDED = "superseded"  # a newer attempt owns the row: our result is dropped


@dataclass(frozen=True)
class VideoLimits:
    """Limits on untrusted sources; each breach is a permanent failure."""

    max_source_bytes: int = 5 * 1024**3
    max_duration_seconds: float = 4 * 3600
    max_height: int = 4320
    ladder: Sequence[Rendition] = field(default_factory=default_ladder)
    thumbnail_at_seconds: float = 1.0


class ProcessVideoJobHandler:
    """Turns one uploaded source into an HLS ladder and a READY row.

    Flow: acquire the lock -> mark_processing (skip if the row is final) ->
    download, probe, transcode, thumbnail, upload, reporting progress ->
    complete_video -> release. A permanent error fails the row with its reason
    and is re-raised (the message is dead-lettered, not retried); any other
    error releases the lock and is re-raised for the framework to retry.

    Parameters:
      videos: the repository of video rows.
      lock: the per-job lock; taken before any repository call.
      progress: where live progress is written.
      storage: the bucket holding sources and outputs.
      media: probes and transcodes.
      limits: size, duration and ladder settings.
      workdir: parent of the per-job temporary directory (None: the system's).
    """

    def __init__(
        self,
        *,
        videos: VideoRepository,
        lock: JobLock,
        progress: ProgressSink,
        storage: ObjectStorage,
        media: MediaProcessor,
        limits: VideoLimits | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.videos = videos
        self.lock = lock
        self.progress = progress
        self.storage = storage
        self.media = media
        self.limits = limits or VideoLimits()
        self.workdir = workdir

    def handle(self, job: VideoJob) -> Outcome:
        if not self.lock.acquire(job.lock_key):
            raise LockBusy(f"video {job.video_id} is being processed by another worker")
        try:
            fence = self.videos.mark_processing(job.video_id)
            if fence is None:
                return self._not_startable(job)
            return self._run_attempt(job, fence)
        finally:
            self.lock.release(job.lock_key)

    def give_up(self, job: VideoJob, reason: str) -> bool:
        """Fail the row after the last retry (or a rejected message); True if it changed.

        Under the lock: a worker running the job right now (a duplicate
        delivery) decides its outcome, and is not failed under its feet.
        """
        if not self.lock.acquire(job.lock_key):
            log.warning("video %s is running elsewhere; its row is left to that attempt", job.video_id)
            return False
        try:
            changed = self.videos.fail_video(job.video_id, reason)
        finally:
            self.lock.release(job.lock_key)
        if changed:
            Progress(self.progress, job.lock_key, VIDEO_STEPS).failed(reason)
        return changed

    def _not_startable(self, job: VideoJob) -> Outcome:
        status = self.videos.status_of(job.video_id)
        if status is None:
            raise JobNotFound(f"video {job.video_id} does not exist")
        if status in VIDEO_FINAL:
            log.info("video %s is already %s; message acknowledged", job.video_id, status.value)
            return Outcome.SKIPPED
        # Only READY can refuse mark_processing; anything else is a row
        # changed under us between the two statements: let the retry decide.
        raise LockBusy(f"video {job.video_id} changed status to {status.value} while starting")

    def _run_attempt(self, job: VideoJob, fence: datetime) -> Outcome:
        progress = Progress(self.progress, job.lock_key, VIDEO_STEPS)
        try:
            output = self._process(job, progress)
        except PermanentError as error:
            self.videos.fail_video(job.video_id, error.reason, fence=fence)
            progress.failed(error.reason)
            raise
        progress.step("finalizing")
        if not self.videos.complete_video(job.video_id, output, fence=fence):
            log.warning("video %s was taken over by a newer attempt; result dropped", job.video_id)
            return Outcome.SUPERSEDED
        progress.step("done")
        return Outcome.COMPLETED

    def _process(self, job: VideoJob, progress: Progress) -> VideoOutput:
        check_object_key(job.file_key)
        limits = self.limits
        progress.step("downloading")
        size = self.storage.size_of(job.file_key)
        if size == 0:
            raise UnsupportedMedia("the source file is empty")
        if size > limits.max_source_bytes:
            raise LimitExceeded(
                f"the source is {size / 1024**2:.0f} MB; the limit is {limits.max_source_bytes / 1024**2:.0f} MB"
            )
        with tempfile.TemporaryDirectory(prefix=f"video-{job.video_id}-", dir=self.workdir) as tmp:
            work = Path(tmp)
            source = work / "source"
            self.storage.download(job.file_key, source)

            progress.step("probing")
            info = self.media.probe(source)
            check_limits(info, max_duration_seconds=limits.max_duration_seconds, max_height=limits.max_height)

            progress.step("transcoding")
            ladder = plan_ladder(info.height, limits.ladder)
            hls_dir = work / "hls"
            master = self.media.transcode_hls(
                source, hls_dir, info, ladder, lambda fraction: progress.step("transcoding", fraction)
            )

            progress.step("thumbnail")
            thumb = work / "thumbnail.jpg"
            self.media.thumbnail(source, thumb, min(limits.thumbnail_at_seconds, info.duration_seconds / 2))

            progress.step("uploading")
            prefix = job.output_prefix
            files = sorted(p for p in hls_dir.rglob("*") if p.is_file())
            for done, path in enumerate(files, start=1):
                self.storage.upload(path, f"{prefix}/hls/{path.relative_to(hls_dir).as_posix()}")
                progress.step("uploading", done / (len(files) + 1))
            thumbnail_key = f"{prefix}/thumbnail.jpg"
            self.storage.upload(thumb, thumbnail_key)
            return VideoOutput(
                hls_path=f"{prefix}/hls/{master.relative_to(hls_dir).as_posix()}",
                thumbnail_key=thumbnail_key,
                duration_seconds=info.duration_seconds,
            )
