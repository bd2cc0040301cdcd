"""Chaos: PostgreSQL, Redis and the SQS/S3 server go away mid-job, one at a time.

The job finishes after recovery (or is retried and finishes); nothing is
lost, the final state is written once, no row stays PROCESSING. Each test
hurts only a server it started itself: the machine's PostgreSQL and Redis
serve other programs meanwhile.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import datetime

import pytest
import redis as redis_lib
from sqlalchemy import text

from adapters.db import connect_database
from tests.e2e.stack import TransitionLog
from tests.media_samples import make_video
from tests.services import PrivatePostgres, free_port, fresh_tables, wait_for_port

pytestmark = pytest.mark.chaos
FAST_RETRIES = {"MIN_BACKOFF_MS": "500", "MAX_RETRIES": "2", "OUTAGE_RETRY_SECONDS": "3",
                "VISIBILITY_TIMEOUT_SECONDS": "20", "LOCK_TTL_SECONDS": "16", "HEARTBEAT_SECONDS": "4"}


@pytest.fixture(scope="module")
def slow_source(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("outage") / "slow.mp4", seconds=6, width=1280, height=720)


def start_job(stack, source):
    return stack.send_video(source)[0]


def finish(stack, log, video_id, figures, outage):
    row = stack.wait_status(video_id, "READY", "FAILED", timeout=240)
    stack.wait_for(lambda: stack.depth(stack.video_queue) == 0, 120, "the message to be settled")
    ready_writes = len([c for c in log.read(video_id) if c[1] == "READY"])
    figures.update(outage=outage, jobs=1, ready=int(row["status"] == "READY"), ready_writes=ready_writes,
                   lost=int(row["status"] == "PROCESSING"), dead_letters=stack.depth(stack.video_dlq))
    assert row["status"] == "READY", row["error_reason"]
    assert ready_writes == 1 and stack.depth(stack.video_dlq) == 0


@pytest.fixture
def own_database(private_stack):
    """``private_stack`` with its tables in a PostgreSQL cluster of its own, the one the test stops."""
    server = PrivatePostgres().create()
    database = connect_database(server.url)
    try:
        tables = fresh_tables()
        tables.create(database)
        private_stack.database, private_stack.tables, private_stack.database_url = database, tables, server.url
        yield private_stack, server
    finally:
        database.dispose()
        server.remove()


def postmaster_started(database) -> datetime:
    with database.connect() as connection:
        return connection.execute(text("SELECT pg_postmaster_start_time()")).scalar_one()


def test_postgresql_stopped_and_started_mid_job(own_database, pg_database, start_worker, slow_source, figures):
    stack, server = own_database
    shared_started, own_started = postmaster_started(pg_database), postmaster_started(stack.database)
    with TransitionLog(stack.database, stack.tables["video"].name) as log:
        worker = start_worker(X264_PRESET="veryslow", **FAST_RETRIES)
        video_id = start_job(stack, slow_source)
        stack.wait_for(lambda: stack.redis.hget(f"progress:video:{video_id}", "step") == "transcoding", 90,
                       "transcoding to start")
        server.stop()
        try:
            # Down long enough for complete_video and every retry to fail.
            stack.wait_for(lambda: "keeping the message" in worker.output(), 120, "the worker to keep the message")
        finally:
            server.start()
        finish(stack, log, video_id, figures, "postgresql stopped for the end of the job and all its retries")
    # The outage was the test's own cluster's: the machine's server kept running throughout.
    assert postmaster_started(stack.database) > own_started
    assert postmaster_started(pg_database) == shared_started


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
