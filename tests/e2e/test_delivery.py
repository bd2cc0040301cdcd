"""At-least-once delivery: duplicates, shutdown mid-job, and the Redis broker."""

from __future__ import annotations

import itertools
import random
import time

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from adapters.sqs.publisher import video_body
from tests.conftest import insert_video
from tests.e2e.stack import TransitionLog
from tests.media_samples import make_video
from tests.services import REDIS_URL

pytestmark = pytest.mark.e2e
ids = itertools.count(random.randrange(10**6, 10**9))  # unique across runs: Redis keeps progress 24 h


@pytest.fixture
def transitions(private_stack):
    """Every status change of the video table, recorded by a trigger the test installs."""
    with TransitionLog(private_stack.database, private_stack.tables["video"].name) as log:
        yield log.read


def test_same_body_twice_on_two_workers_is_written_once(private_stack, start_worker, transitions, sample_video):
    stack = private_stack
    videos = []
    for _ in range(4):
        video_id = next(ids)
        key = f"uploads/7/{video_id}/source.mp4"
        stack.upload(sample_video, key)
        insert_video(stack.database, stack.tables["video"], video_id, key)
        videos.append(video_id)
    for video_id in videos:  # each body twice, back to back, before any worker runs
        for _ in range(2):
            stack.send(stack.video_queue, video_body(video_id, f"uploads/7/{video_id}/source.mp4", 7))
    start_worker(threads=2)
    start_worker(threads=2)
    for video_id in videos:
        row = stack.wait_status(video_id, "READY", "FAILED", timeout=180)
        assert row["status"] == "READY", row["error_reason"]
    stack.wait_for(lambda: stack.depth(stack.video_queue) == 0, 120, "every copy to be acked")
    time.sleep(2)  # a late duplicate would write now
    for video_id in videos:
        changes = transitions(video_id)
        assert [c for c in changes if c[1] == "READY"] == [("PROCESSING", "READY")]
        assert changes[-1] == ("PROCESSING", "READY")  # nothing after the final state
    assert stack.depth(stack.video_dlq) == 0


def test_sigterm_mid_transcode_returns_the_message_and_another_worker_finishes(
    private_stack, start_worker, transitions, tmp_path, figures
):
    stack = private_stack
    source = make_video(tmp_path / "long.mp4", seconds=10, width=1280, height=720)
    video_id = next(ids)
    key = f"uploads/7/{video_id}/source.mp4"
    stack.upload(source, key)
    insert_video(stack.database, stack.tables["video"], video_id, key)
    # Leases far longer than the test: only an explicit return makes the message visible again.
    slow = start_worker(X264_PRESET="veryslow", VISIBILITY_TIMEOUT_SECONDS="600", LOCK_TTL_SECONDS="600")
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    stack.wait_for(
        lambda: stack.redis.hget(f"progress:video:{video_id}", "step") == "transcoding", 60, "transcoding to start"
    )
    time.sleep(1)
    seconds = slow.terminate(timeout=40)
    assert seconds < 25, slow.output()
    assert slow.process.returncode is not None
    assert stack.redis.exists(f"lock:video:{video_id}") == 0  # released on the way out
    attributes = stack.sqs.get_queue_attributes(QueueUrl=stack.url(stack.video_queue), AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1", slow.output()  # visible again at once
    assert stack.video(video_id)["status"] == "PROCESSING"

    start_worker(VISIBILITY_TIMEOUT_SECONDS="600", LOCK_TTL_SECONDS="600")
    row = stack.wait_status(video_id, "READY", "FAILED", timeout=120)
    assert row["status"] == "READY", row["error_reason"]
    ready_writes = len([c for c in transitions(video_id) if c[1] == "READY"])
    figures.update(jobs=1, exit_seconds=round(seconds, 1), ready=int(row["status"] == "READY"),
                   ready_writes=ready_writes)
    assert ready_writes == 1
    assert stack.depth(stack.video_dlq) == 0


def test_redis_broker_runs_the_same_actors(private_stack, start_worker, sample_video):
    stack = private_stack
    video_id = next(ids)
    key = f"uploads/7/{video_id}/source.mp4"
    stack.upload(sample_video, key)
    insert_video(stack.database, stack.tables["video"], video_id, key)
    start_worker(BROKER="redis")
    broker = RedisBroker(url=REDIS_URL)
    message = dramatiq.Message(
        queue_name=stack.video_queue, actor_name="process_video", args=(),
        kwargs={"video_id": video_id, "file_key": key, "tenant_id": 7}, options={},
    )
    broker.declare_queue(stack.video_queue)
    broker.enqueue(message)
    row = stack.wait_status(video_id, "READY", "FAILED", timeout=90)
    assert row["status"] == "READY", row["error_reason"]
    assert stack.redis.hget(f"progress:video:{video_id}", "step") == "done"
    broker.close()


def long_video_job(stack, tmp_path, seconds=10):
    source = make_video(tmp_path / "long.mp4", seconds=seconds, width=1280, height=720)
    video_id = next(ids)
    key = f"uploads/7/{video_id}/source.mp4"
    stack.upload(source, key)
    insert_video(stack.database, stack.tables["video"], video_id, key)
    return video_id, key


def test_heartbeat_keeps_a_job_longer_than_its_leases_from_being_redelivered(
    private_stack, start_worker, transitions, tmp_path
):
    stack = private_stack
    # 20 s: on an idle machine the capped-CRF ladder did 10 s of this in 14 s, under the 15 s needed.
    video_id, key = long_video_job(stack, tmp_path, seconds=20)
    leases = {"VISIBILITY_TIMEOUT_SECONDS": "10", "LOCK_TTL_SECONDS": "10", "HEARTBEAT_SECONDS": "2"}
    slow = start_worker(X264_PRESET="veryslow", **leases)
    began = time.monotonic()
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    stack.wait_for(
        lambda: stack.redis.hget(f"progress:video:{video_id}", "step") == "transcoding", 60, "transcoding to start"
    )
    start_worker(**leases)  # would take the message over if its visibility ever lapsed
    row = stack.wait_status(video_id, "READY", "FAILED", timeout=180)
    assert row["status"] == "READY", row["error_reason"]
    assert time.monotonic() - began > 15, "the job must outlive its 10 s leases for this test to mean anything"
    assert transitions(video_id) == [("UPLOADED", "PROCESSING"), ("PROCESSING", "READY")], slow.output()


def test_kill_9_mid_transcode_then_another_worker_finishes(private_stack, start_worker, transitions, tmp_path):
    stack = private_stack
    video_id, key = long_video_job(stack, tmp_path)
    leases = {"VISIBILITY_TIMEOUT_SECONDS": "10", "LOCK_TTL_SECONDS": "8", "HEARTBEAT_SECONDS": "2"}
    doomed = start_worker(X264_PRESET="veryslow", **leases)
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    stack.wait_for(
        lambda: stack.redis.hget(f"progress:video:{video_id}", "step") == "transcoding", 60, "transcoding to start"
    )
    doomed.kill()  # SIGKILL to the whole process group: no cleanup at all
    start_worker(**leases)
    row = stack.wait_status(video_id, "READY", "FAILED", timeout=180)
    assert row["status"] == "READY", row["error_reason"]
    assert [c for c in transitions(video_id) if c[1] == "READY"] == [("PROCESSING", "READY")]
    assert stack.redis.exists(f"lock:video:{video_id}") == 0
    stack.wait_for(lambda: stack.depth(stack.video_queue) == 0, 60, "the message to be acked")
    assert stack.depth(stack.video_dlq) == 0
