"""Chaos: workers killed, stalled and flooded with duplicates; every job ends once."""

from __future__ import annotations

import random
import time

import pytest
from sqlalchemy import func, select

from adapters.sqs.publisher import video_body
from tests.conftest import insert_video
from tests.e2e.stack import TransitionLog
from tests.media_samples import make_video

pytestmark = pytest.mark.chaos
LEASES = {"VISIBILITY_TIMEOUT_SECONDS": "10", "LOCK_TTL_SECONDS": "8", "HEARTBEAT_SECONDS": "2"}


def new_ids(count):
    first = random.randrange(10**6, 10**9)
    return list(range(first, first + count))


@pytest.fixture(scope="module")
def slow_source(tmp_path_factory):
    """Takes ~10 s to encode with X264_PRESET=veryslow: time to hurt the worker mid-transcode."""
    return make_video(tmp_path_factory.mktemp("chaos") / "slow.mp4", seconds=6, width=1280, height=720)


def upload_job(stack, source, video_id):
    key = f"uploads/7/{video_id}/source.mp4"
    stack.upload(source, key)
    insert_video(stack.database, stack.tables["video"], video_id, key)
    return video_body(video_id, key, 7)


def wait_transcoding(stack, video_id):
    stack.wait_for(
        lambda: stack.redis.hget(f"progress:video:{video_id}", "step") == "transcoding", 90, "transcoding to start"
    )


@pytest.mark.timeout(1200)  # soak mode: 20 rounds
def test_kill_9_mid_transcode_rounds(private_stack, start_worker, slow_source, soak, figures):
    stack, rounds = private_stack, 20 if soak else 3
    ready = failed = duplicated = locks_left = 0
    with TransitionLog(stack.database, stack.tables["video"].name) as log:
        for video_id in new_ids(rounds):
            stack.send(stack.video_queue, upload_job(stack, slow_source, video_id))
            doomed = start_worker(X264_PRESET="veryslow", **LEASES)
            wait_transcoding(stack, video_id)
            time.sleep(random.uniform(0, 2))
            doomed.kill()  # SIGKILL to the whole group: no cleanup, no return to the queue
            rescuer = start_worker(**LEASES)
            row = stack.wait_status(video_id, "READY", "FAILED", timeout=180)
            ready += row["status"] == "READY"
            failed += row["status"] == "FAILED"
            duplicated += len([c for c in log.read(video_id) if c[1] == "READY"]) - 1
            stack.wait_for(lambda: stack.depth(stack.video_queue) == 0, 60, "the message to be acked")
            locks_left += stack.redis.exists(f"lock:video:{video_id}")
            rescuer.terminate()
    figures.update(rounds=rounds, jobs=rounds, ready=ready, failed=failed, lost=rounds - ready - failed,
                   duplicated=duplicated, locks_left=locks_left)
    assert (ready, failed, duplicated, locks_left) == (rounds, 0, 0, 0)
    assert stack.depth(stack.video_dlq) == 0


def test_a_stalled_worker_cannot_overwrite_the_attempt_that_took_over(
    private_stack, start_worker, slow_source, figures
):
    stack = private_stack
    (video_id,) = new_ids(1)
    with TransitionLog(stack.database, stack.tables["video"].name) as log:
        stack.send(stack.video_queue, upload_job(stack, slow_source, video_id))
        stale = start_worker(X264_PRESET="veryslow", **LEASES)
        wait_transcoding(stack, video_id)
        first_fence = stack.video(video_id)["processing_started_at"]
        stale.pause()  # heartbeat stalls: the lock (8 s) and the visibility (10 s) lapse
        time.sleep(12)
        start_worker(**LEASES)
        row = stack.wait_status(video_id, "READY", timeout=120)
        assert row["processing_started_at"] != first_fence  # the newer attempt's fence
        uploaded = {o["Key"]: o["LastModified"] for o in stack.s3.list_objects_v2(
            Bucket=stack.bucket, Prefix=f"videos/7/{video_id}/")["Contents"]}
        stale.resume()  # the stale attempt wakes up, finishes its encode and must write nothing
        stack.wait_for(lambda: "stopped before writing" in stale.output() or "result dropped" in stale.output(),
                       120, "the stale attempt to notice it was superseded")
        after = {o["Key"]: o["LastModified"] for o in stack.s3.list_objects_v2(
            Bucket=stack.bucket, Prefix=f"videos/7/{video_id}/")["Contents"]}
        final = stack.video(video_id)
        changes = log.read(video_id)
    figures.update(rounds=1, jobs=1, ready=int(final["status"] == "READY"), overwritten=int(after != uploaded),
                   ready_writes=len([c for c in changes if c[1] == "READY"]))
    assert final == row  # not one column changed by the stale worker
    assert after == uploaded  # no output object rewritten
    assert changes == [("UPLOADED", "PROCESSING"), ("PROCESSING", "PROCESSING"), ("PROCESSING", "READY")]


@pytest.mark.timeout(900)
def test_duplicate_storm_three_workers(private_stack, start_worker, tmp_path, soak, figures):
    stack, jobs = private_stack, 300 if soak else 100
    tiny = make_video(tmp_path / "tiny.mp4", seconds=1, width=160, height=90, audio=False)
    ids = new_ids(jobs)
    bodies = []
    for video_id in ids:
        key = f"uploads/7/{video_id}/source.mp4"
        stack.s3.upload_file(str(tiny), stack.bucket, key)
        insert_video(stack.database, stack.tables["video"], video_id, key)
        bodies.append(video_body(video_id, key, 7))
    with TransitionLog(stack.database, stack.tables["video"].name) as log:
        url = stack.url(stack.video_queue)
        half = len(bodies) // 2
        apart = bodies[half:] * 2
        random.shuffle(apart)
        # Half of the twins side by side (one batch: at the same moment), half far apart.
        copies = [body for body in bodies[:half] for _ in range(2)] + apart
        for start in range(0, len(copies), 10):
            batch = copies[start:start + 10]
            stack.sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)])
        overrides = {"HLS_LADDER": "90p:90:100:32", "LOCK_BUSY_DELAY_MS": "500", "MAX_RETRIES": "5"}
        workers = [start_worker(threads=2, **overrides) for _ in range(3)]
        table = stack.tables["video"]
        stack.wait_for(lambda: _count(stack, table, ids, ("READY", "FAILED")) == jobs, 600, "every job to end")
        stack.wait_for(lambda: stack.depth(stack.video_queue) == 0, 120, "every copy to be acked")
        time.sleep(2)  # a late duplicate would write now
        ready = _count(stack, table, ids, ("READY",))
        writes = [log.read(video_id) for video_id in ids]
    ready_writes = sum(len([c for c in w if c[1] == "READY"]) for w in writes)
    after_final = sum(1 for w in writes if w and w[-1] != ("PROCESSING", "READY"))
    crashed = sum(worker.process.poll() is not None for worker in workers)
    figures.update(rounds=1, jobs=jobs, messages=2 * jobs, ready=ready, ready_writes=ready_writes,
                   written_after_final=after_final, dead_letters=stack.depth(stack.video_dlq), crashed=crashed)
    assert (ready, ready_writes, after_final, crashed) == (jobs, jobs, 0, 0)
    assert stack.depth(stack.video_dlq) == 0


def _count(stack, table, ids, statuses):
    with stack.database.connect() as connection:
        return connection.execute(
            select(func.count()).select_from(table).where(table.c.id.in_(ids), table.c.status.in_(statuses))
        ).scalar()
