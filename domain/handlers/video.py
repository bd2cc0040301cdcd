"""ProcessVideoJobHandler: one video message, from lock to final row."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from domain.entities import Rendition, VideoJob, VideoOutput
from domain import subtitles
from domain.errors import LimitExceeded, SourceNotFound, UnsupportedMedia
from domain.handlers.chapters import ChapterOutputs
from domain.handlers.flow import JobHandler
from domain.kinds import VIDEO
from domain.media import check_limits, check_object_key, check_prefix, default_ladder, plan_ladder
from domain.ports import JobLock, JobRepository, MediaProcessor, ObjectStorage, ProgressSink
from domain.progress import Progress


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
    """Turns one uploaded source into an HLS ladder and a READY row.

    The work, under the job's lock (see JobHandler): download, probe,
    transcode, thumbnail, upload, reporting progress; ``complete`` writes the
    outputs' keys.

    Parameters:
      jobs: the repository of video rows.
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
        jobs: JobRepository,
        lock: JobLock,
        progress: ProgressSink,
        storage: ObjectStorage,
        media: MediaProcessor,
        limits: VideoLimits | None = None,
        workdir: Path | None = None,
    ) -> None:
        super().__init__(kind=VIDEO, jobs=jobs, lock=lock, progress=progress)
        self.storage = storage
        self.media = media
        self.limits = limits or VideoLimits()
        self.workdir = workdir
        self.chapters = ChapterOutputs(storage, min_seconds=self.limits.chapter_min_seconds)

    def work(self, job: VideoJob, fence: datetime, progress: Progress) -> VideoOutput:
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
            # out/ mirrors the video's prefix: hls/, storyboard.vtt, storyboard/, chapters.vtt.
            out = work / "out"
            master = self.media.transcode_hls(
                source,
                out / "hls",
                info,
                ladder,
                lambda fraction: progress.step("transcoding", fraction),
                storyboard_dir=out,
                slides_dir=work / "slides",
            )
            chapters = self.chapters.write(work / "slides", out, master, info.duration_seconds)

            progress.step("thumbnail")
            thumb = work / "thumbnail.jpg"
            self.media.thumbnail(source, thumb, min(limits.thumbnail_at_seconds, info.duration_seconds / 2))

            # A worker that stalled past its lock (a long GC pause, SIGSTOP)
            # must not overwrite the outputs of the attempt that took over.
            self.ensure_current(job.video_id, fence)
            progress.step("uploading")
            prefix = self.kind.output_prefix(job.tenant_id, job.video_id)
            hls_path = f"{prefix}/{master.relative_to(out).as_posix()}"
            stale_chapters = self.chapters.stale(prefix, chapters)
            self._keep_captions(master, hls_path)
            files = sorted(p for p in out.rglob("*") if p.is_file())
            for done, path in enumerate(files, start=1):
                self.storage.upload(path, f"{prefix}/{path.relative_to(out).as_posix()}")
                progress.step("uploading", done / (len(files) + 1))
            thumbnail_key = f"{prefix}/thumbnail.jpg"
            self.storage.upload(thumb, thumbnail_key)
            self.chapters.drop(stale_chapters)  # the new master no longer lists them
            return VideoOutput(
                hls_path=hls_path,
                thumbnail_key=thumbnail_key,
                duration_seconds=info.duration_seconds,
            )

    def _keep_captions(self, master: Path, key: str) -> None:
        """A re-encode keeps the captions its previous master listed (their playlists stay in hls/subs/)."""
        try:
            previous = self.storage.read_text(key)
        except SourceNotFound:
            return  # the first encode of this video
        kept = subtitles.entries(previous)
        if kept:
            master.write_text(subtitles.with_subtitles(master.read_text(), kept))
