"""Chaos: PostgreSQL, Redis and the SQS/S3 server go away mid-job, one at a time.

The job finishes after recovery (or is retried and finishes); nothing is
lost, the final state is written once, no row stays PROCESSING.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import pytest
import redis as redis_lib

from adapters.sqs.publisher import video_body
from tests.conftest import insert_video
from tests.e2e.stack import TransitionLog
from tests.media_samples import make_video
from tests.services import free_port, wait_for_port

pytestmark = pytest.mark.chaos
FAST_RETRIES = {"MIN_BACKOFF_MS": "500", "MAX_RETRIES": "2", "OUTAGE_RETRY_SECONDS": "3",
                "VISIBILITY_TIMEOUT_SECONDS": "20", "LOCK_TTL_SECONDS": "16", "HEARTBEAT_SECONDS": "4"}


@pytest.fixture(scope="module")
def slow_source(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("outage") / "slow.mp4", seconds=6, width=1280, height=720)


def start_job(stack, source):
    video_id = random.randrange(10**6, 10**9)
    key = f"uploads/7/{video_id}/source.mp4"
    stack.upload(source, key)
    insert_video(stack.database, stack.tables["video"], video_id, key)
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    return video_id


def finish(stack, log, video_id, figures, outage):
    row = stack.wait_status(video_id, "READY", "FAILED", timeout=240)
    stack.wait_for(lambda: stack.depth(stack.video_queue) == 0, 120, "the message to be settled")
    ready_writes = len([c for c in log.read(video_id) if c[1] == "READY"])
    figures.update(outage=outage, jobs=1, ready=int(row["status"] == "READY"), ready_writes=ready_writes,
                   lost=int(row["status"] == "PROCESSING"), dead_letters=stack.depth(stack.video_dlq))
    assert row["status"] == "READY", row["error_reason"]
    assert ready_writes == 1 and stack.depth(stack.video_dlq) == 0


def postgres(action: str) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *(
        ["-m", "fast"] if action == "stop" else [])], check=True, timeout=60)


def test_postgresql_stopped_and_started_mid_job(private_stack, start_worker, slow_source, figures):
    stack = private_stack
    with TransitionLog(stack.database, stack.tables["video"].name) as log:
        worker = start_worker(X264_PRESET="veryslow", **FAST_RETRIES)
        video_id = start_job(stack, slow_source)
        stack.wait_for(lambda: stack.redis.hget(f"progress:video:{video_id}", "step") == "transcoding", 90,
                       "transcoding to start")
        postgres("stop")
        try:
            # Down long enough for complete_video and every retry to fail.
            stack.wait_for(lambda: "keeping the message" in worker.output(), 120, "the worker to keep the message")
        finally:
            postgres("start")
        for _ in range(30):
            if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0:
                break
            time.sleep(1)
        finish(stack, log, video_id, figures, "postgresql stopped for the end of the job and all its retries")


def test_redis_shut_down_and_restarted_mid_job(private_stack, start_worker, slow_source, tmp_path, figures):
    stack = private_stack
    port = free_port()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(tmp_path)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    wait_for_port(port)
    own = redis_lib.Redis(port=port, decode_responses=True)
    try:
        with TransitionLog(stack.database, stack.tables["video"].name) as log:
            start_worker(X264_PRESET="veryslow", REDIS_URL=f"redis://127.0.0.1:{port}/0", **FAST_RETRIES)
            video_id = start_job(stack, slow_source)
            stack.wait_for(lambda: own.hget(f"progress:video:{video_id}", "step") == "transcoding", 90,
                           "transcoding to start")
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            time.sleep(8)  # heartbeats and progress writes fail meanwhile
            server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            wait_for_port(port)
            finish(stack, log, video_id, figures, "redis shut down for 8 s mid-transcode, restarted empty")
            assert own.exists(f"lock:video:{video_id}") == 0
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_sqs_and_s3_server_unresponsive_mid_job(private_stack, start_worker, slow_source, moto, figures):
    stack = private_stack
    with TransitionLog(stack.database, stack.tables["video"].name) as log:
        start_worker(X264_PRESET="veryslow", **FAST_RETRIES)
        video_id = start_job(stack, slow_source)
        stack.wait_for(lambda: stack.redis.hget(f"progress:video:{video_id}", "step") == "transcoding", 90,
                       "transcoding to start")
        # moto keeps its state in memory only, so a stopped server would lose the queue itself;
        # SIGSTOP makes it unresponsive instead, as a network partition would.
        os.kill(moto.process.pid, signal.SIGSTOP)
        time.sleep(12)
        os.kill(moto.process.pid, signal.SIGCONT)
        finish(stack, log, video_id, figures, "SQS/S3 server unresponsive for 12 s mid-transcode")
