"""How long messages waited: measured per message, summed over workers, served as metrics."""

from __future__ import annotations

import dramatiq
import pytest

from adapters.metrics.queues import QueueDepths
from adapters.redis.presence import WorkerRecord
from adapters.worker.options import DUE_AT, SENT_AT
from adapters.worker.waits import DueTimes, queue_wait
from domain.operations import QueueStats
from ops.render import waited
from ops.service import Ops


def message(**options) -> dramatiq.Message:
    return dramatiq.Message(queue_name="video-jobs", actor_name="process_video", args=(), kwargs={},
                            options=options, message_timestamp=1_000_000)


def test_the_wait_runs_from_when_the_message_could_first_run():
    assert queue_wait(message(), now_ms=1_004_500) == 4.5  # Dramatiq's creation time
    assert queue_wait(message(**{SENT_AT: 1_002_000}), now_ms=1_004_500) == 2.5  # SQS's SentTimestamp
    # A retry enqueued with a 60 s backoff: the backoff is not waiting.
    assert queue_wait(message(**{SENT_AT: 1_000_000, DUE_AT: 1_060_000}), now_ms=1_061_000) == 1.0
    assert queue_wait(message(**{SENT_AT: 2_000_000}), now_ms=1_000_000) == 0.0  # clocks apart: never negative
    assert queue_wait(message(**{SENT_AT: "soon", DUE_AT: True}), now_ms=1_001_000) == 1.0  # foreign junk ignored


def test_due_times_are_recorded_on_every_enqueue():
    recorded = message()
    DueTimes().before_enqueue(None, recorded, 30_000)
    assert recorded.options[DUE_AT] - recorded.message_timestamp >= 30_000
    DueTimes().before_enqueue(None, recorded, None)
    assert isinstance(recorded.options[DUE_AT], int)


def record(worker_id: str, waits: dict) -> WorkerRecord:
    return WorkerRecord(worker_id, "h", 1, ("video-jobs",), (), "t0", 0.0, "running", waits)


def test_waits_are_summed_over_the_running_workers():
    waits = Ops.queue_waits([
        record("a", {"video-jobs": {"last": 3.0, "last_at": 100.0, "max": 40.0, "count": 5}}),
        record("b", {"video-jobs": {"last": 1.5, "last_at": 200.0, "max": 12.0, "count": 2},
                     "ai-jobs": {"last": 0.2, "last_at": 50.0, "max": 0.2, "count": 1}}),
    ])
    assert waits["video-jobs"] == {"last": 1.5, "last_at": 200.0, "max": 40.0, "count": 7}
    assert waits["ai-jobs"]["count"] == 1
    assert waited(waits["video-jobs"]) == "1.5 s / 40 s" and waited(None) == "-"
    assert waited({"last": 75.0, "max": 7260.0}) == "75 s / 2 h 1 min"


def test_queue_depths_are_read_per_scrape_at_most_every_cache_period():
    pytest.importorskip("prometheus_client")
    reads, now = [], [0.0]

    def stats():
        reads.append(now[0])
        if now[0] >= 100:
            raise ConnectionError("SQS went away")
        return [QueueStats("video-jobs", "video-jobs-dlq", visible=4, in_flight=1, delayed=2, dead_letters=3)]

    depths = QueueDepths(stats, cache_seconds=10, clock=lambda: now[0])

    def samples():
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in depths.collect() for sample in family.samples}

    first = samples()
    assert first[("media_worker_queue_depths_up", ())] == 1
    assert first[("media_worker_queue_messages", (("queue", "video-jobs"), ("state", "visible")))] == 4
    assert first[("media_worker_queue_messages", (("queue", "video-jobs"), ("state", "dead_letters")))] == 3
    now[0] = 5
    samples()
    assert reads == [0.0]  # cached
    now[0] = 100
    assert samples() == {("media_worker_queue_depths_up", ()): 0}
