"""Starting a long video's parts, and what its pieces and checks share (CONTRACT 4b).

The video handler, under the video's lock and after ``mark_processing``,
hands a long source to ``VideoParts.fan_out``: the delayed check is sent
first (so a crash at any later point still has something that finishes or
fails the video), then the plan is written, then the pieces are sent. A
duplicate of the API's message that finds the row PROCESSING with that
attempt's plan in storage starts nothing (``VideoParts.live``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from domain.errors import SourceNotFound
from domain.flow import Deferred
from domain.jobs import JobState
from domain.ports import JobLock, JobRepository, ObjectStorage, ProgressSink
from domain.progress import Progress
from domain.video.model import VIDEO, MediaInfo, Rendition, VideoJob, VideoStatus
from domain.video.parts import FanOut, Layout, PartsPolicy, attempt_name, check_attempt, plan_parts
from domain.video.ports import PartsBoard, PartsQueue

log = logging.getLogger(__name__)


class VideoParts:
    """Encodes long videos as pieces on the parts queue.

    Parameters:
      policy: when and how videos are parted.
      queue: where the pieces and checks are sent.
      board: the parts board people read.
      storage: the bucket (plans and completion records live beside the video's hls/).
      clock: the current time (tests pass their own).
    """

    def __init__(self, *, policy: PartsPolicy, queue: PartsQueue, board: PartsBoard, storage: ObjectStorage,
                 clock=lambda: datetime.now(timezone.utc)) -> None:
        self.policy = policy
        self.queue = queue
        self.board = board
        self.storage = storage
        self.clock = clock

    def live(self, video_id: int, tenant_id: int | None, state: JobState | None) -> bool:
        """Whether the row's current attempt is a fan-out still within its deadline: its pieces and
        its check will finish or fail it, and a duplicate must not start another."""
        if state is None or state.status is not VideoStatus.PROCESSING or state.started is None:
            return False
        plan = read_plan(self.storage, Layout(VIDEO.output_prefix(tenant_id, video_id), attempt_name(state.started)))
        if plan is None:
            return False
        started = datetime.fromisoformat(plan.started_at)
        return self.clock() - started < timedelta(seconds=self.policy.deadline_seconds)

    def fan_out(self, job: VideoJob, fence: datetime, info: MediaInfo, ladder: Sequence[Rendition],
                progress: Progress) -> Deferred:
        """Send the pieces of ``job``'s attempt (its fence) and leave the row PROCESSING."""
        attempt = attempt_name(fence)
        plan = FanOut(
            video_id=job.video_id, tenant_id=job.tenant_id, file_key=job.file_key, attempt=attempt,
            fence=fence.isoformat(), info=info, ladder=tuple(ladder),
            parts=tuple(plan_parts(info.duration_seconds, part_seconds=self.policy.part_seconds,
                                   segment_seconds=self.policy.segment_seconds, attempt=attempt)),
            started_at=self.clock().isoformat(),
        )
        layout = Layout(VIDEO.output_prefix(job.tenant_id, job.video_id), attempt)
        self.queue.check(job.video_id, job.tenant_id, attempt, delay_seconds=self.policy.check_seconds,
                         watch={"done": 0, "since": plan.started_at})
        self.storage.write_text(layout.plan, json.dumps(plan.as_dict()))
        self.board.start(VIDEO.key(job.video_id), attempt, {piece: plan.describe(piece) for piece in plan.pieces})
        self.queue.send_pieces(job.video_id, job.tenant_id, attempt, plan.pieces)
        progress.step("transcoding", 0.0, f"encoding in {len(plan.parts)} parts")
        log.info("video %s: %d parts and the audio sent (attempt %s)", job.video_id, len(plan.parts), attempt)
        return Deferred()


def attempt_layout(video_id: int, tenant_id: int | None, attempt: str) -> Layout:
    """Where ``attempt`` of the video writes; ValueError for an attempt name a message made up."""
    return Layout(VIDEO.output_prefix(tenant_id, video_id), check_attempt(attempt))


def finished_pieces(storage: ObjectStorage, layout: Layout) -> list[str]:
    """The attempt's pieces that have their completion record."""
    return [name for name in map(layout.piece_of, storage.list_keys(layout.done)) if name]


def read_plan(storage: ObjectStorage, layout: Layout) -> FanOut | None:
    """The attempt's plan, None when there is none (never written, or the finished video's, cleaned up)."""
    try:
        return FanOut.from_dict(json.loads(storage.read_text(layout.plan)))
    except SourceNotFound:
        return None


def fail_attempt(videos: JobRepository, lock: JobLock, progress: ProgressSink, plan: FanOut, reason: str) -> bool:
    """Fail the video under its lock, fenced by the plan's attempt (a newer attempt is never failed
    by an older one's piece); True if the row changed."""
    key = VIDEO.key(plan.video_id)
    if not lock.acquire(key):
        log.warning("video %s is locked by another worker; its row is left to it", plan.video_id)
        return False
    try:
        changed = videos.fail(plan.video_id, reason, fence=plan.fence_time)
    finally:
        lock.release(key)
    if changed:
        Progress(progress, key, VIDEO.steps).failed(reason)
    return changed


def transcoding_percent(share: float) -> int:
    """The percent of the ``transcoding`` step's band (CONTRACT 3) for ``share`` of the source encoded."""
    low, high = VIDEO.steps["transcoding"]
    return low + round((high - low) * min(max(share, 0.0), 1.0))
