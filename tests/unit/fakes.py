"""In-memory fakes of every domain port, with the same conditional semantics."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from domain.chapters import CANDIDATES_FILE, dump_candidates
from domain.entities import EngineOutput, JobState, MediaInfo, Video, VideoOutput
from domain.errors import SourceNotFound
from domain.statuses import (
    AI_COMPLETE_FROM,
    AI_FAIL_FROM,
    AI_MARK_PROCESSING_FROM,
    VIDEO_COMPLETE_FROM,
    VIDEO_FAIL_FROM,
    VIDEO_MARK_PROCESSING_FROM,
    AIJobStatus,
    VideoStatus,
)


class FakeVideoRepository:
    def __init__(self, *videos: Video) -> None:
        self.rows = {video.id: video for video in videos}
        self.writes: list[tuple[str, int]] = []
        self.created_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._clock = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def status_of(self, video_id: int) -> VideoStatus | None:
        row = self.rows.get(video_id)
        return row.status if row else None

    def state_of(self, video_id: int) -> JobState | None:
        row = self.rows.get(video_id)
        return JobState(row.status, row.tenant_id, self.created_at) if row else None

    def mark_processing(self, video_id: int) -> datetime | None:
        row = self.rows.get(video_id)
        if row is None or row.status not in VIDEO_MARK_PROCESSING_FROM:
            return None
        self._clock += timedelta(seconds=1)
        row.status, row.processing_started_at, row.error_reason = VideoStatus.PROCESSING, self._clock, None
        self.writes.append(("mark_processing", video_id))
        return self._clock

    def attempt_is_current(self, video_id: int, fence: datetime) -> bool:
        row = self.rows.get(video_id)
        return row is not None and row.status is VideoStatus.PROCESSING and row.processing_started_at == fence

    def complete(self, video_id: int, output: VideoOutput, *, fence: datetime) -> bool:
        row = self.rows.get(video_id)
        if row is None or row.status not in VIDEO_COMPLETE_FROM or row.processing_started_at != fence:
            return False
        row.status = VideoStatus.READY
        row.hls_path, row.thumbnail_key, row.duration_seconds = output.hls_path, output.thumbnail_key, output.duration_seconds
        self.writes.append(("complete", video_id))
        return True

    def fail(self, video_id: int, reason: str, *, fence: datetime | None = None) -> bool:
        row = self.rows.get(video_id)
        if row is None or row.status not in VIDEO_FAIL_FROM:
            return False
        if fence is not None and row.processing_started_at != fence:
            return False
        row.status, row.error_reason = VideoStatus.FAILED, reason
        self.writes.append(("fail", video_id))
        return True


class FakeLock:
    def __init__(self) -> None:
        self.held: set[str] = set()
        self.taken_by_others: set[str] = set()
        self.log: list[tuple[str, str]] = []

    def acquire(self, key: str) -> bool:
        if key in self.held or key in self.taken_by_others:
            return False
        self.held.add(key)
        self.log.append(("acquire", key))
        return True

    def release(self, key: str) -> None:
        self.held.discard(key)
        self.log.append(("release", key))


class FakeProgress:
    def __init__(self) -> None:
        self.reports: list[tuple[str, str, int, str]] = []

    def write(self, key: str, step: str, percent: int, message: str) -> None:
        self.reports.append((key, step, percent, message))


class FakeStorage:
    def __init__(self, objects: dict[str, bytes] | None = None) -> None:
        self.objects = dict(objects or {})
        self.deleted: list[str] = []

    def size_of(self, key: str) -> int:
        if key not in self.objects:
            raise SourceNotFound(f"the source {key} does not exist")
        return len(self.objects[key])

    def download(self, key: str, dest: Path) -> None:
        dest.write_bytes(self.objects[key])

    def upload(self, path: Path, key: str) -> None:
        self.objects[key] = path.read_bytes()

    def read_text(self, key: str) -> str:
        if key not in self.objects:
            raise SourceNotFound(f"the source {key} does not exist")
        return self.objects[key].decode()

    def write_text(self, key: str, text: str) -> None:
        self.objects[key] = text.encode()

    def delete(self, keys) -> None:
        self.deleted += keys
        for key in keys:
            self.objects.pop(key, None)


class FakeMedia:
    """Writes a plausible HLS tree; ``error`` (if set) is raised by ``fail_at``."""

    def __init__(self, info: MediaInfo | None = None, *, error: BaseException | None = None, fail_at: str = "",
                 slides: list | None = None) -> None:
        self.info = info or MediaInfo(duration_seconds=10.0, width=1280, height=720, has_audio=True)
        self.slides = slides  # the candidate slide changes (domain.chapters.Candidate) the encode finds
        self.error = error
        self.fail_at = fail_at
        self.ladders: list[list[Any]] = []
        self.workdirs: list[Path] = []

    def start_seconds(self, segment: Path) -> float:
        return 1.4  # where ffmpeg's MPEG-TS segments start

    def _maybe_fail(self, step: str) -> None:
        if self.error is not None and self.fail_at == step:
            raise self.error

    def probe(self, source: Path) -> MediaInfo:
        self.workdirs.append(source.parent)
        self._maybe_fail("probe")
        return self.info

    def transcode_hls(self, source, out_dir, info, ladder, on_progress, storyboard_dir=None, slides_dir=None) -> Path:
        self._maybe_fail("transcode")
        self.ladders.append(list(ladder))
        out_dir.mkdir(parents=True)
        for fraction in (0.25, 0.1, 0.5, 1.0):  # 0.1: ffmpeg's clock may jitter backwards
            on_progress(fraction)
        lines = ["#EXTM3U"]
        for rendition in ladder:
            (out_dir / rendition.name).mkdir()
            (out_dir / rendition.name / "index.m3u8").write_text("#EXTM3U\n")
            (out_dir / rendition.name / "seg_00000.ts").write_bytes(b"ts")
            width = rendition.height * 16 // 9 // 2 * 2
            lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.video_kbps * 1000},RESOLUTION={width}x{rendition.height}",
                      f"{rendition.name}/index.m3u8"]
        master = out_dir / "master.m3u8"
        master.write_text("\n".join(lines) + "\n")
        if storyboard_dir is not None:
            (storyboard_dir / "storyboard").mkdir(parents=True, exist_ok=True)
            (storyboard_dir / "storyboard" / "sprite_000.jpg").write_bytes(b"\xff\xd8jpeg")
            (storyboard_dir / "storyboard.vtt").write_text("WEBVTT\n")
        if slides_dir is not None and self.slides is not None:
            slides_dir.mkdir(parents=True, exist_ok=True)
            for candidate in self.slides:
                (slides_dir / candidate.image).write_bytes(b"\xff\xd8" + candidate.heading.encode())
            (slides_dir / CANDIDATES_FILE).write_text(dump_candidates(self.slides))
        return master

    def thumbnail(self, source: Path, dest: Path, at_seconds: float) -> None:
        self._maybe_fail("thumbnail")
        dest.write_bytes(b"\xff\xd8jpeg")


class FakeAIJobRepository:
    def __init__(self, *jobs) -> None:
        self.rows = {job.id: job for job in jobs}
        self.writes: list[tuple[str, str]] = []
        self.created_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._clock = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def status_of(self, job_id):
        row = self.rows.get(job_id)
        return row.status if row else None

    def state_of(self, job_id):
        row = self.rows.get(job_id)
        return JobState(row.status, row.tenant_id, self.created_at) if row else None

    def mark_processing(self, job_id):
        row = self.rows.get(job_id)
        if row is None or row.status not in AI_MARK_PROCESSING_FROM:
            return None
        self._clock += timedelta(seconds=1)
        row.status, row.started_at = AIJobStatus.PROCESSING, self._clock
        self.writes.append(("mark_processing", job_id))
        return self._clock

    def attempt_is_current(self, job_id, fence) -> bool:
        row = self.rows.get(job_id)
        return row is not None and row.status is AIJobStatus.PROCESSING and row.started_at == fence

    def complete(self, job_id, result, *, fence):
        row = self.rows.get(job_id)
        if row is None or row.status not in AI_COMPLETE_FROM or row.started_at != fence:
            return False
        row.status, row.result = AIJobStatus.DONE, result
        self.writes.append(("complete", job_id))
        return True

    def fail(self, job_id, reason, *, fence=None):
        row = self.rows.get(job_id)
        if row is None or row.status not in AI_FAIL_FROM or (fence is not None and row.started_at != fence):
            return False
        row.status, row.error_message = AIJobStatus.FAILED, reason
        self.writes.append(("fail", job_id))
        return True


class FakeEngine:
    """An Engine that runs a function of the request, with the sandbox's payload and input rules.

    Parameters:
      run: (request, source path or None, progress) -> result.
      takes_file: whether the payload's ``file_key`` names an input to download.
      files: name -> content of the files it hands back (written into the job's folder).
    """

    def __init__(self, run, *, takes_file: bool = False, files: dict[str, bytes] | None = None) -> None:
        self._run = run
        self.takes_file = takes_file
        self.files = dict(files or {})

    def prepare(self, payload):
        return dict(payload)

    def input_key(self, payload):
        return payload.get("file_key") if self.takes_file else None

    def run(self, request, source, workdir, progress):
        result = self._run(request, source, progress)
        for name, content in self.files.items():
            (workdir / name).write_bytes(content)
        return EngineOutput(result, tuple(workdir / name for name in self.files))
