"""Real worker processes report themselves to the ops tools through Redis."""

from __future__ import annotations

import redis as redis_lib
import pytest

from adapters.redis.presence import WorkerRecord, WorkerRegistry
from adapters.sqs.publisher import video_body
from tests.e2e.test_video_worker import new_video
from tests.media_samples import make_video
from tests.services import REDIS_URL

pytestmark = pytest.mark.e2e


def records_for(registry: WorkerRegistry, queue: str) -> list[WorkerRecord]:
    return [record for record in registry.workers() if queue in record.queues]


def test_a_worker_shows_its_jobs_then_stops_cleanly_and_a_killed_one_is_gone(private_stack, start_worker, tmp_path):
    stack = private_stack
    registry = WorkerRegistry(redis_lib.Redis.from_url(REDIS_URL), gone_after=3)
    worker = start_worker(HEARTBEAT_SECONDS="1", processes=2)

    running = stack.wait_for(
        lambda: len(found := records_for(registry, stack.video_queue)) == 2 and found, 60, "two worker processes"
    )
    assert all(record.state == "running" for record in running)
    assert all(set(record.queues) == {stack.video_queue, stack.ai_queue, stack.parts_queue} for record in running)
    assert len({record.pid for record in running}) == 2 and all(record.host for record in running)

    # Long enough to be seen running; presence is written within 0.5 s of a job's start.
    video_id, key = new_video(stack, make_video(tmp_path / "source.mp4", seconds=10, width=640, height=360))
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    busy = stack.wait_for(
        lambda: [r for r in records_for(registry, stack.video_queue) if r.in_flight], 60, "a worker with a job"
    )
    assert busy[0].in_flight[0]["job"] == f"video {video_id}"
    assert busy[0].in_flight[0]["actor"] == "process_video"
    waits = busy[0].waits[stack.video_queue]  # how long its message waited, from SQS's SentTimestamp
    assert waits["count"] == 1 and 0 <= waits["last"] == waits["max"] < 60
    stack.wait_status(video_id, "READY")
    stack.wait_for(lambda: not any(r.in_flight for r in records_for(registry, stack.video_queue)), 10, "idle")

    worker.terminate()
    stopped = records_for(registry, stack.video_queue)
    assert [record.state for record in stopped] == ["stopped", "stopped"]

    killed = start_worker(HEARTBEAT_SECONDS="1")
    stack.wait_for(
        lambda: any(r.state == "running" for r in records_for(registry, stack.video_queue)), 60, "the second worker"
    )
    killed.kill()
    gone = stack.wait_for(
        lambda: [r for r in records_for(registry, stack.video_queue) if r.state == "gone"], 10, "a gone worker"
    )
    assert len(gone) == 1 and gone[0].in_flight == ()
