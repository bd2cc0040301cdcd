"""ProcessVideoJobHandler: one video message, from lock to final row."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import datetime
from dataclasses import dataclass, field
from pathlib import Path

from domain.entities import Rendition, VideoJob, VideoOutput
from domain.errors import LimitExceeded, UnsupportedMedia
from domain.handlers.flow import AttemptSuperseded, JobRow, Outcome, give_up_job, run_job
from domain.media import check_limits, check_object_key, check_prefix, default_ladder, plan_ladder
from domain.ports import JobLock, MediaProcessor, ObjectStorage, ProgressSink, VideoRepository
from domain.progress import VIDEO_STEPS, Progress
from domain.statuses import VIDEO_FINAL


@dataclass(frozen=True)
class VideoLimits:
    """Limits on untrusted sources; each breach is a permanent failure."""

    max_source_bytes: int = 5 * 1024**3
    max_duration_seconds: float = 4 * 3600
    max_height: int = 4320
    ladder: Sequence[Rendition] = field(default_factory=default_ladder)
    allowed_prefixes: Sequence[str] = ()  # where sources may be read from; empty: anywhere in the bucket
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
        progress = Progress(self.progress, job.lock_key, VIDEO_STEPS)
        return run_job(
            self._row(job), self.lock, progress, lambda fence: self._process(job, fence, progress), "finalizing"
        )

    def give_up(self, job: VideoJob, reason: str) -> bool:
        """Fail the row after the last retry (or a rejected message); True if it changed."""
        return give_up_job(self._row(job), self.lock, Progress(self.progress, job.lock_key, VIDEO_STEPS), reason)

    def _row(self, job: VideoJob) -> JobRow[VideoOutput]:
        videos, video_id = self.videos, job.video_id
        return JobRow(
            label=f"video {video_id}",
            lock_key=job.lock_key,
            final=VIDEO_FINAL,
            status_of=lambda: videos.status_of(video_id),
            mark_processing=lambda: videos.mark_processing(video_id),
            complete=lambda output, fence: videos.complete_video(video_id, output, fence=fence),
            fail=lambda reason, fence: videos.fail_video(video_id, reason, fence=fence),
        )

    def _process(self, job: VideoJob, fence: datetime, progress: Progress) -> VideoOutput:
        limits = self.limits
        check_prefix(check_object_key(job.file_key), limits.allowed_prefixes)
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
            # out/ mirrors the video's prefix: hls/, storyboard.vtt, storyboard/.
            out = work / "out"
            master = self.media.transcode_hls(
                source,
                out / "hls",
                info,
                ladder,
                lambda fraction: progress.step("transcoding", fraction),
                storyboard_dir=out,
            )

            progress.step("thumbnail")
            thumb = work / "thumbnail.jpg"
            self.media.thumbnail(source, thumb, min(limits.thumbnail_at_seconds, info.duration_seconds / 2))

            # A worker that stalled past its lock (a long GC pause, SIGSTOP)
            # must not overwrite the outputs of the attempt that took over.
            if not self.videos.attempt_is_current(job.video_id, fence):
                raise AttemptSuperseded(f"video {job.video_id}")
            progress.step("uploading")
            prefix = job.output_prefix
            files = sorted(p for p in out.rglob("*") if p.is_file())
            for done, path in enumerate(files, start=1):
                self.storage.upload(path, f"{prefix}/{path.relative_to(out).as_posix()}")
                progress.step("uploading", done / (len(files) + 1))
            thumbnail_key = f"{prefix}/thumbnail.jpg"
            self.storage.upload(thumb, thumbnail_key)
            return VideoOutput(
                hls_path=f"{prefix}/{master.relative_to(out).as_posix()}",
                thumbnail_key=thumbnail_key,
                duration_seconds=info.duration_seconds,
            )
