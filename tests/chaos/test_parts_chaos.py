"""Chaos for long videos in parts: a worker killed when half the parts are done, Redis flushed mid-video,
SIGTERM mid-parts. Each video ends READY once; nothing is dead-lettered; no video is left PROCESSING."""

from __future__ import annotations

import json
import subprocess

import pytest
import redis as redis_lib

from tests.e2e.stack import TransitionLog
from tests.e2e.test_video_parts import PARTS
from tests.media_samples import make_video
from tests.services import free_port, wait_for_port

pytestmark = pytest.mark.chaos
LEASES = {"VISIBILITY_TIMEOUT_SECONDS": "10", "LOCK_TTL_SECONDS": "8", "HEARTBEAT_SECONDS": "2"}
SLOW = {**PARTS, **LEASES, "X264_PRESET": "slow", "HLS_LADDER": "360p:360:500:96,720p:720:1000:128"}


@pytest.fixture(scope="module")
def lecture(tmp_path_factory):
    """24 s at 720p: four parts that each take seconds to encode with a slow preset."""
    return make_video(tmp_path_factory.mktemp("parts-chaos") / "lecture.mp4", seconds=24, width=1280, height=720)


def start_video(stack, source) -> int:
    return stack.send_video(source)[0]


def done_pieces(redis, video_id) -> int:
    return sum(json.loads(entry)["state"] == "done" for entry in redis.hgetall(f"parts:video:{video_id}").values())


def finish(stack, log, video_id, figures, what) -> dict:
    row = stack.wait_status(video_id, "READY", "FAILED", timeout=300)
    stack.wait_for(lambda: stack.depth(stack.parts_queue) == 0 and stack.depth(stack.video_queue) == 0, 120,
                   "every message settled")
    ready_writes = len([c for c in log.read(video_id) if c[1] == "READY"])
    figures.update(scenario=what, ready=int(row["status"] == "READY"), ready_writes=ready_writes,
                   dead_letters=stack.depth(stack.parts_dlq) + stack.depth(stack.video_dlq))
    assert row["status"] == "READY", row["error_reason"]
    assert ready_writes == 1 and stack.depth(stack.parts_dlq) == 0 and stack.depth(stack.video_dlq) == 0
    return row


def test_kill_9_when_half_the_parts_are_done_loses_only_the_parts_it_was_encoding(private_stack, start_worker,
                                                                                   lecture, figures):
    stack = private_stack
    with TransitionLog(stack.database, stack.tables["video"].name) as log:
        doomed = start_worker(threads=1, **SLOW)
        video_id = start_video(stack, lecture)
        stack.wait_for(lambda: done_pieces(stack.redis, video_id) >= 2, 240, "half the parts done")
        done_before = done_pieces(stack.redis, video_id)
        doomed.kill()  # SIGKILL to the whole group: its piece's message comes back after the visibility
        start_worker(**SLOW)
        finish(stack, log, video_id, figures, "kill -9 with half the parts done")
    prefix = f"videos/7/{video_id}"
    assert stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=f"{prefix}/parts/").get("KeyCount", 0) == 0
    figures.update(done_before_kill=done_before)


def test_redis_flushed_mid_video_still_ends_ready_once(private_stack, start_worker, lecture, tmp_path, figures):
    stack = private_stack
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    wait_for_port(port)
    own = redis_lib.Redis(port=port, decode_responses=True)
    try:
        with TransitionLog(stack.database, stack.tables["video"].name) as log:
            start_worker(threads=1, REDIS_URL=f"redis://127.0.0.1:{port}/0", **SLOW)
            video_id = start_video(stack, lecture)
            stack.wait_for(lambda: done_pieces(own, video_id) >= 1, 240, "a part done")
            own.flushall()  # locks, progress and the parts board gone; the completion records are in S3
            finish(stack, log, video_id, figures, "redis flushed mid-video")
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_sigterm_mid_parts_returns_only_its_parts_in_flight(private_stack, start_worker, lecture, figures):
    stack = private_stack
    with TransitionLog(stack.database, stack.tables["video"].name) as log:
        leaving = start_worker(threads=2, **SLOW)
        video_id = start_video(stack, lecture)
        stack.wait_for(lambda: done_pieces(stack.redis, video_id) >= 1, 240, "a part done")
        seconds = leaving.terminate()
        assert seconds < 25, f"the worker took {seconds:.1f} s to stop"
        assert "Traceback" not in leaving.output()
        # Returned at once (visibility 0), not after the visibility timeout: a new worker starts them now.
        start_worker(**SLOW)
        finish(stack, log, video_id, figures, "SIGTERM mid-parts")
    figures.update(stop_seconds=round(seconds, 1))
