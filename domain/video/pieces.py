"""EncodePieceHandler: one piece of a long video (a part's range, or the audio) - CONTRACT 4b.

A piece writes only under its attempt's names and only while that attempt
is the row's current one: a newer attempt, a finished video or a deleted
row makes it stop, write nothing, and be acknowledged. Its completion
record, written last, is what the fan-in trusts. After it, the piece asks
for a check, which stitches the video once every record is there.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from domain.errors import InvalidMessage, LockBusy, PermanentError, TransientError
from domain.flow import Outcome
from domain.ports import JobLock, JobRepository, ObjectStorage, ProgressSink
from domain.video.fan_out import attempt_layout, fail_attempt, finished_pieces, read_plan, transcoding_percent
from domain.video.model import VIDEO
from domain.video.outputs import upload_tree
from domain.video.parts import AUDIO_PIECE, FanOut, Layout, check_piece, piece_lock_key
from domain.video.ports import Manifest, MediaProcessor, PartsBoard, PartsQueue, Source, SourceAccess

log = logging.getLogger(__name__)
THUMBNAIL_AT_SECONDS = 1.0


class EncodePieceHandler:
    """Encodes one piece of a fan-out and records it.

    Parameters:
      videos: the repository of video rows (only read, and failed on give-up).
      lock: the per-job lock (one encode of a piece at a time; the video's own on give-up).
      progress: where the video's live progress is written (only ever raised).
      storage: the bucket.
      media: encodes the piece.
      board: the parts board.
      queue: the parts queue (the check after the piece).
      sources: how the source is read (URL or a machine copy).
      worker: how the board names this worker process.
      workdir: parent of the piece's temporary folder (None: the system's).
    """

    def __init__(self, *, videos: JobRepository, lock: JobLock, progress: ProgressSink, storage: ObjectStorage,
                 media: MediaProcessor, board: PartsBoard, queue: PartsQueue, sources: SourceAccess, worker: str,
                 workdir: Path | None = None) -> None:
        self.videos = videos
        self.lock = lock
        self.progress = progress
        self.storage = storage
        self.media = media
        self.board = board
        self.queue = queue
        self.sources = sources
        self.worker = worker
        self.workdir = workdir

    def handle(self, video_id: int, tenant_id: int | None, attempt: str, piece: str) -> Outcome:
        layout = _layout(video_id, tenant_id, attempt, piece)
        if self.storage.exists(layout.record(piece)):
            self.queue.check(video_id, tenant_id, attempt)  # a duplicate: the first one's check may be lost
            return Outcome.SKIPPED
        plan = read_plan(self.storage, layout)
        if plan is None or not self.videos.attempt_is_current(video_id, plan.fence_time):
            log.info("video %s: %s of attempt %s is not wanted any more (finished, superseded or deleted)",
                     video_id, piece, attempt)
            return Outcome.SUPERSEDED
        key = piece_lock_key(VIDEO.key(video_id), piece)
        if not self.lock.acquire(key):
            raise LockBusy(f"{plan.describe(piece)} of video {video_id} is being encoded by another worker")
        try:
            outcome = self._encode(plan, layout, piece)
        finally:
            self.lock.release(key)
        if outcome is Outcome.COMPLETED:
            self.queue.check(video_id, tenant_id, attempt)
        return outcome

    def give_up(self, video_id: int, tenant_id: int | None, attempt: str, piece: str, reason: str) -> bool:
        """Fail the video of a piece about to be dead-lettered, naming the piece's range; True if it changed."""
        try:
            layout = _layout(video_id, tenant_id, attempt, piece)
        except InvalidMessage:
            return False
        plan = read_plan(self.storage, layout)
        if plan is None:
            return False
        video_key = VIDEO.key(video_id)
        self.board.record(video_key, attempt, piece, "failed", worker=self.worker, reason=reason)
        return fail_attempt(self.videos, self.lock, self.progress, plan,
                            f"{plan.describe(piece)} could not be encoded: {reason}")

    def _encode(self, plan: FanOut, layout: Layout, piece: str) -> Outcome:
        video_key = VIDEO.key(plan.video_id)
        report = _Reporter(self, plan, piece)
        report(0.0)
        try:
            with tempfile.TemporaryDirectory(prefix=f"video-{plan.video_id}-{piece}-", dir=self.workdir) as tmp:
                work = Path(tmp)
                source = self.sources.open(plan.file_key, plan.attempt, by_range=self.media.reads_by_range(plan.info))
                out = work / "out"
                manifest = self._run(plan, piece, source, out, work, report)
                if not self.videos.attempt_is_current(plan.video_id, plan.fence_time):
                    return Outcome.SUPERSEDED  # taken over while encoding: its names are not listed
                upload_tree(self.storage, out, layout.prefix)
                upload_tree(self.storage, work / "tiles", layout.tiles.rstrip("/"))
                upload_tree(self.storage, work / "slides", f"{layout.slides}{piece}")
                self.storage.write_text(layout.record(piece), json.dumps({"piece": piece, "manifest": manifest}))
        except (PermanentError, TransientError) as error:
            self.board.record(video_key, plan.attempt, piece, "retrying" if isinstance(error, TransientError)
                              else "failed", worker=self.worker, reason=error.reason)
            raise
        seconds = self.board.record(video_key, plan.attempt, piece, "done", worker=self.worker,
                                    seconds=report.length)
        done = finished_pieces(self.storage, layout)
        self.progress.raise_to(video_key, "transcoding", transcoding_percent(plan.transcoded_share(seconds)),
                               f"{plan.describe(piece)} done; {len(done)} of {len(plan.pieces)} pieces done")
        if not plan.missing(done):
            self.sources.forget(plan.attempt)  # this machine's copy, if any: the video needs no more reading
        return Outcome.COMPLETED

    def _run(self, plan: FanOut, piece: str, source: Source, out: Path, work: Path,
             report: Callable[[float], None]) -> Manifest | None:
        if piece == AUDIO_PIECE:
            manifest = self.media.encode_audio(source, out / "hls", plan.info, plan.ladder, plan.attempt, report)
            self.media.thumbnail(source, _file(out / "thumbnail.jpg"),
                                 min(THUMBNAIL_AT_SECONDS, plan.info.duration_seconds / 2))
            return manifest
        (work / "tiles").mkdir(parents=True, exist_ok=True)
        return self.media.encode_part(source, out / "hls", plan.info, plan.ladder, plan.part(piece), report,
                                      work / "tiles", work / "slides")


class _Reporter:
    """The board and the video's percent while a part encodes (the audio piece moves no percent):
    one board write per 2% of the piece, the percent only ever raised."""

    STEP = 0.02

    def __init__(self, handler: EncodePieceHandler, plan: FanOut, piece: str) -> None:
        self.handler, self.plan, self.piece = handler, plan, piece
        self.length = 0.0 if piece == AUDIO_PIECE else plan.end_of(plan.part(piece)) - plan.part(piece).start_seconds
        self.percent = -1
        self.fraction = -1.0

    def __call__(self, fraction: float) -> None:
        if fraction < 1.0 and fraction - self.fraction < self.STEP and self.fraction >= 0:
            return
        self.fraction = fraction
        video_key = VIDEO.key(self.plan.video_id)
        seconds = self.handler.board.record(video_key, self.plan.attempt, self.piece, "running",
                                            worker=self.handler.worker, seconds=self.length * fraction)
        percent = transcoding_percent(self.plan.transcoded_share(seconds))
        if percent > self.percent:
            self.percent = percent
            self.handler.progress.raise_to(video_key, "transcoding", percent,
                                           f"encoding in {len(self.plan.parts)} parts")


def _layout(video_id: int, tenant_id: int | None, attempt: str, piece: str) -> Layout:
    try:
        check_piece(piece)
        return attempt_layout(video_id, tenant_id, attempt)
    except ValueError as error:
        raise InvalidMessage(f"invalid message: {error}") from None


def _file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
