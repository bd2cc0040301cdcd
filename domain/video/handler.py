"""ProcessVideoJobHandler: one video message, from lock to final row (or to its parts)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from domain.errors import LimitExceeded, UnsupportedMedia
from domain.flow import Deferred, JobHandler
from domain.keys import check_object_key, check_prefix
from domain.ports import JobLock, JobRepository, ObjectStorage, ProgressSink
from domain.progress import Progress
from domain.video.chapter_outputs import ChapterOutputs
from domain.video.fan_out import VideoParts
from domain.video.model import VIDEO, MediaInfo, Rendition, VideoJob, VideoOutput
from domain.video.outputs import keep_captions, remove_unlisted_segments, upload_tree
from domain.video.ports import MediaProcessor
from domain.video.rules import check_limits, default_ladder, plan_ladder

HEAD_BYTES = 4096  # what sniffing a source read by URL looks at
URL_SECONDS = 6 * 3600  # a presigned source URL outlives the longest ffmpeg run that reads it


@dataclass(frozen=True)
class VideoLimits:
    """Limits on untrusted sources; each breach is a permanent failure."""

    max_source_bytes: int = 5 * 1024**3
    max_duration_seconds: float = 4 * 3600
    max_height: int = 4320
    ladder: Sequence[Rendition] = field(default_factory=default_ladder)
    allowed_prefixes: Sequence[str] = ()  # where sources may be read from; empty: anywhere in the bucket
    thumbnail_at_seconds: float = 1.0
    chapter_min_seconds: float = 20.0  # the shortest chapter (CONTRACT 4c)


class ProcessVideoJobHandler(JobHandler[VideoJob, VideoOutput]):
    """Turns one uploaded source into an HLS ladder and a READY row, or sends a long one's parts.

    The work, under the job's lock (see JobHandler): probe, then either one
    pass (download, transcode, thumbnail, upload; ``complete`` writes the
    outputs' keys) or, for a source at least ``parts.policy.min_seconds``
    long, the fan-out of its parts (``VideoParts``; the row stays PROCESSING
    until their check stitches them). Progress is reported at every step.

    Parameters:
      jobs: the repository of video rows.
      lock: the per-job lock; taken before any repository call.
      progress: where live progress is written.
      storage: the bucket holding sources and outputs.
      media: probes and transcodes.
      limits: size, duration and ladder settings.
      workdir: parent of the per-job temporary directory (None: the system's).
      parts: how long videos are encoded in parts (None: every video in one pass).
    """

    def __init__(
        self,
        *,
        jobs: JobRepository,
        lock: JobLock,
        progress: ProgressSink,
        storage: ObjectStorage,
        media: MediaProcessor,
        limits: VideoLimits | None = None,
        workdir: Path | None = None,
        parts: VideoParts | None = None,
    ) -> None:
        super().__init__(kind=VIDEO, jobs=jobs, lock=lock, progress=progress)
        self.storage = storage
        self.media = media
        self.limits = limits or VideoLimits()
        self.workdir = workdir
        self.parts = parts
        self.chapters = ChapterOutputs(storage, min_seconds=self.limits.chapter_min_seconds)

    def running_elsewhere(self, job: VideoJob) -> bool:
        if self.parts is None or not self.parts.policy.may_part:
            return False
        return self.parts.live(job.video_id, job.tenant_id, self.jobs.state_of(job.video_id))

    def work(self, job: VideoJob, fence: datetime, progress: Progress) -> VideoOutput | Deferred:
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
        if self.parts is not None and self.parts.policy.may_part:
            # Probed where it lies (a few range requests): a long source is never downloaded here.
            self.media.sniff(self.storage.read_head(job.file_key, HEAD_BYTES))
            progress.step("probing")
            info = self._checked(self.media.probe(self.storage.presigned_url(job.file_key, URL_SECONDS)))
            if self.parts.policy.parts(info.duration_seconds):
                return self.parts.fan_out(job, fence, info, plan_ladder(info.height, limits.ladder), progress)
        with tempfile.TemporaryDirectory(prefix=f"video-{job.video_id}-", dir=self.workdir) as tmp:
            return self._one_pass(job, fence, progress, Path(tmp))

    def _checked(self, info: MediaInfo) -> MediaInfo:
        check_limits(info, max_duration_seconds=self.limits.max_duration_seconds, max_height=self.limits.max_height)
        return info

    def _one_pass(self, job: VideoJob, fence: datetime, progress: Progress, work: Path) -> VideoOutput:
        source = work / "source"
        self.storage.download(job.file_key, source)
        progress.step("probing")
        info = self._checked(self.media.probe(source))

        progress.step("transcoding")
        ladder = plan_ladder(info.height, self.limits.ladder)
        # out/ mirrors the video's prefix: hls/, storyboard.vtt, storyboard/, chapters.vtt, thumbnail.jpg.
        out = work / "out"
        master = self.media.transcode_hls(
            source, out / "hls", info, ladder, lambda fraction: progress.step("transcoding", fraction),
            storyboard_dir=out, slides_dir=work / "slides",
        )
        chapters = self.chapters.write(work / "slides", out, master, info.duration_seconds)
        progress.step("thumbnail")
        self.media.thumbnail(source, out / "thumbnail.jpg",
                             min(self.limits.thumbnail_at_seconds, info.duration_seconds / 2))

        # A worker that stalled past its lock (a long GC pause, SIGSTOP)
        # must not overwrite the outputs of the attempt that took over.
        self.ensure_current(job.video_id, fence)
        progress.step("uploading")
        prefix = self.kind.output_prefix(job.tenant_id, job.video_id)
        hls_path = f"{prefix}/{master.relative_to(out).as_posix()}"
        keep_captions(self.storage, master, hls_path)
        stale_chapters = self.chapters.stale(prefix, chapters)
        upload_tree(self.storage, out, prefix, lambda done, total: progress.step("uploading", done / (total + 1)))
        self.chapters.drop(stale_chapters)  # the new master no longer lists them
        remove_unlisted_segments(self.storage, out / "hls", f"{prefix}/hls")
        return VideoOutput(hls_path=hls_path, thumbnail_key=f"{prefix}/thumbnail.jpg",
                           duration_seconds=info.duration_seconds)
