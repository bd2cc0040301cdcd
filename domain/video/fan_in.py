"""CheckPartsHandler: the fan-in of a long video (CONTRACT 4b).

Every piece asks for a check when it is done; the check stitches the video
(playlists, master, storyboard, under ``lock:video:{id}``, then READY) once
every piece's completion record is in storage, and does nothing otherwise.
The delayed check (``watch``), sent before any piece, looks again every
``check_seconds`` until the video is READY or FAILED: it sends missing
pieces again after ``stall_seconds`` without progress (a lost message, a
Redis broker flushed) and fails the video past ``deadline_seconds``. So no
video is left PROCESSING, whatever was lost, and a duplicate or early
completion signal cannot finish a video whose pieces are not all there.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from domain.errors import InvalidMessage, LockBusy
from domain.flow import Outcome
from domain.ports import JobLock, JobRepository, ObjectStorage, ProgressSink
from domain.progress import Progress
from domain.video.chapter_outputs import ChapterOutputs
from domain.video.fan_out import attempt_layout, fail_attempt, finished_pieces, read_plan
from domain.video.model import VIDEO, VideoOutput
from domain.video.outputs import keep_captions, remove_unlisted_segments, upload_tree
from domain.video.parts import AUDIO_PIECE, FanOut, Layout, PartsPolicy
from domain.video.playlists import MASTER_PLAYLIST
from domain.video.ports import MediaProcessor, PartsQueue

log = logging.getLogger(__name__)


class CheckPartsHandler:
    """Looks at one fan-out: stitches it when complete; as the delayed check, keeps it moving.

    Parameters:
      videos: the repository of video rows.
      lock: the video's lock (stitching and failing happen under it).
      progress: the video's live progress.
      storage: the bucket.
      media: writes the playlists and the storyboard from the pieces' manifests.
      queue: the parts queue (missing pieces sent again, the next delayed check).
      policy: the check's interval, the stall and the deadline.
      chapters: decides and writes the chapters from every part's candidate slide changes (CONTRACT 4c).
      workdir: parent of the stitching's temporary folder (None: the system's).
      clock: the current time (tests pass their own).
    """

    def __init__(self, *, videos: JobRepository, lock: JobLock, progress: ProgressSink, storage: ObjectStorage,
                 media: MediaProcessor, queue: PartsQueue, policy: PartsPolicy, chapters: ChapterOutputs,
                 workdir: Path | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.videos = videos
        self.lock = lock
        self.progress = progress
        self.storage = storage
        self.media = media
        self.queue = queue
        self.policy = policy
        self.chapters = chapters
        self.workdir = workdir
        self.clock = clock

    def handle(self, video_id: int, tenant_id: int | None, attempt: str,
               watch: dict[str, Any] | None = None) -> Outcome:
        try:
            layout = attempt_layout(video_id, tenant_id, attempt)
        except ValueError as error:
            raise InvalidMessage(f"invalid message: {error}") from None
        plan = read_plan(self.storage, layout)
        if plan is None or not self.videos.attempt_is_current(video_id, plan.fence_time):
            return Outcome.SKIPPED  # finished (its plan cleaned up), superseded, or the row is gone
        done = finished_pieces(self.storage, layout)
        missing = plan.missing(done)
        if not missing:
            return self._stitch(plan, layout)
        if watch is None:
            return Outcome.SKIPPED  # a piece's check: others are still on their way
        return self._watch(plan, done, missing, watch)

    def give_up(self, video_id: int, tenant_id: int | None, attempt: str, reason: str) -> bool:
        """Fail the video of a check about to be dead-lettered (it could not stitch); True if it changed."""
        try:
            plan = read_plan(self.storage, attempt_layout(video_id, tenant_id, attempt))
        except ValueError:
            return False
        if plan is None:
            return False
        return fail_attempt(self.videos, self.lock, self.progress, plan,
                            f"the parts of the video could not be put together: {reason}")

    def _watch(self, plan: FanOut, done: list[str], missing: list[str], watch: dict[str, Any]) -> Outcome:
        now = self.clock()
        started = datetime.fromisoformat(plan.started_at)
        if (now - started).total_seconds() > self.policy.deadline_seconds:
            names = ", ".join(plan.describe(piece) for piece in missing[:3]) + (" ..." if len(missing) > 3 else "")
            hours = self.policy.deadline_seconds / 3600
            fail_attempt(self.videos, self.lock, self.progress, plan,
                         f"{len(missing)} of {len(plan.pieces)} parts of the video did not finish within "
                         f"{hours:g} hours ({names})")
            return Outcome.COMPLETED
        since = _moment(watch.get("since"), started)
        if watch.get("done") != len(done):
            since = now
        elif (now - since).total_seconds() >= self.policy.stall_seconds:
            log.warning("video %s: no piece finished for %.0f s; sending %d missing pieces again",
                        plan.video_id, (now - since).total_seconds(), len(missing))
            self.queue.send_pieces(plan.video_id, plan.tenant_id, plan.attempt, missing)
            since = now
        self.queue.check(plan.video_id, plan.tenant_id, plan.attempt, delay_seconds=self.policy.check_seconds,
                         watch={"done": len(done), "since": since.isoformat()})
        return Outcome.DEFERRED

    def _stitch(self, plan: FanOut, layout: Layout) -> Outcome:
        key = VIDEO.key(plan.video_id)
        if not self.lock.acquire(key):
            raise LockBusy(f"video {plan.video_id} is locked by another worker; its parts are put together later")
        try:
            if not self.videos.attempt_is_current(plan.video_id, plan.fence_time):
                return Outcome.SKIPPED
            progress = Progress(self.progress, key, VIDEO.steps)
            self.progress.raise_to(key, "uploading", VIDEO.steps["uploading"][0], "putting the parts together")
            records = {piece: json.loads(self.storage.read_text(layout.record(piece)))["manifest"]
                       for piece in plan.pieces}
            with tempfile.TemporaryDirectory(prefix=f"video-{plan.video_id}-stitch-", dir=self.workdir) as tmp:
                output = self._write(plan, layout, records, Path(tmp))
            progress.step("finalizing")
            if output is None or not self.videos.complete(plan.video_id, output, fence=plan.fence_time):
                log.warning("video %s was taken over by a newer attempt; its parts' result dropped", plan.video_id)
                return Outcome.SUPERSEDED
            progress.step("done")
        finally:
            self.lock.release(key)
        self._clean_up(layout)
        return Outcome.COMPLETED

    def _write(self, plan: FanOut, layout: Layout, records: dict[str, Any], work: Path) -> VideoOutput | None:
        """Stitch and upload; None when the row changed meanwhile (deleted), before anything is uploaded."""
        tiles, slides = work / "tiles", work / "slides"
        self._download(layout.tiles, tiles)
        self._download(layout.slides, slides)
        parts = [records[name] for name in plan.pieces if name != AUDIO_PIECE]
        out = work / "out"
        master = self.media.stitch_hls(out / "hls", plan.ladder, parts, records[AUDIO_PIECE])
        self.media.stitch_storyboard(parts, tiles, out, plan.info)
        self.chapters.gather([slides / piece for piece in plan.pieces], work / "chapters")
        chapters = self.chapters.write(work / "chapters", out, master, plan.info.duration_seconds)
        hls_path = f"{layout.prefix}/hls/{MASTER_PLAYLIST}"
        keep_captions(self.storage, master, hls_path)
        if not self.videos.attempt_is_current(plan.video_id, plan.fence_time):
            return None
        stale_chapters = self.chapters.stale(layout.prefix, chapters)
        upload_tree(self.storage, out, layout.prefix)
        self.chapters.drop(stale_chapters)
        remove_unlisted_segments(self.storage, out / "hls", f"{layout.prefix}/hls")
        return VideoOutput(hls_path=hls_path, thumbnail_key=f"{layout.prefix}/thumbnail.jpg",
                           duration_seconds=plan.info.duration_seconds)

    def _download(self, prefix: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for key in self.storage.list_keys(prefix):
            target = folder / key.removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            self.storage.download(key, target)

    def _clean_up(self, layout: Layout) -> None:
        """The attempt's plan, records and tiles: late duplicates then find no plan and write nothing."""
        try:
            self.storage.delete_keys(self.storage.list_keys(layout.staging))
        except Exception as error:  # best effort: the bucket's lifecycle rule removes what is left
            log.warning("could not remove %s (%s)", layout.staging, getattr(error, "reason", error))


def _moment(text: Any, default: datetime) -> datetime:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return default
