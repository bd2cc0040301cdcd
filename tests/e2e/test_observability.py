"""Metrics and logs of the real worker command: /metrics scraped, every log line parsed."""

from __future__ import annotations

import itertools
import json
import random
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from adapters.sqs.publisher import video_body
from tests.conftest import insert_video
from tests.services import POSTGRES_URL, free_port

pytestmark = pytest.mark.e2e
ids = itertools.count(random.randrange(10**6, 10**9))  # unique across runs: Redis keeps progress 24 h
VIDEO_STEPS_TIMED = ("downloading", "probing", "transcoding", "thumbnail", "uploading", "finalizing")
CANARY = "canary-Pw-5e1d"


def new_video(stack, path):
    video_id = next(ids)
    key = f"uploads/7/{video_id}/source.mp4"
    stack.upload(path, key)
    insert_video(stack.database, stack.tables["video"], video_id, key)
    return video_id, key


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_endpoint_serves_dramatiq_and_job_metrics(private_stack, start_worker, sample_video, tmp_path):
    stack, port = private_stack, free_port()
    start_worker(
        METRICS_PORT=str(port), METRICS_HOST="127.0.0.1", dramatiq_prom_db=str(tmp_path / "prometheus"),
        HEARTBEAT_SECONDS="0.2",
    )
    video_id, key = new_video(stack, sample_video)
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    assert stack.wait_status(video_id, "READY", "FAILED")["status"] == "READY"
    stack.send(stack.video_queue, video_body(video_id, key, 7))  # READY already: skipped
    busy_id, busy_key = new_video(stack, sample_video)
    stack.redis.set(f"lock:video:{busy_id}", "another-worker", px=1500)  # held elsewhere for 1.5 s
    stack.send(stack.video_queue, video_body(busy_id, busy_key, 7))
    stack.send(stack.video_queue, "{not json")
    assert stack.wait_status(busy_id, "READY", "FAILED")["status"] == "READY"

    video = {"queue_name": stack.video_queue, "actor_name": "process_video"}

    def settled():
        samples = scrape(port)
        done = (value(samples, "media_worker_jobs_total", job_type="video", outcome="skipped") == 1
                and value(samples, "media_worker_dead_letters_total", queue=stack.video_queue,
                          reason="invalid_message") == 1)
        return done and samples

    samples = stack.wait_for(settled, 60, "the skipped run and the dead letter to be counted")
    jobs = {o: value(samples, "media_worker_jobs_total", job_type="video", outcome=o)
            for o in ("completed", "skipped", "rejected", "busy", "failed", "retried", "superseded", "interrupted")}
    assert jobs["completed"] == 2 and jobs["rejected"] == 1 and jobs["busy"] >= 1
    assert jobs["failed"] == jobs["retried"] == jobs["superseded"] == jobs["interrupted"] == 0
    assert value(samples, "media_worker_lock_contention_total", job_type="video") == jobs["busy"]
    # Dramatiq's own metrics count the same runs, from the same multiprocess files.
    assert value(samples, "dramatiq_messages_total", **video) == sum(jobs.values())
    assert value(samples, "dramatiq_message_rejects_total", **video) == 1
    assert value(samples, "dramatiq_message_duration_milliseconds_count", **video) == sum(jobs.values())
    # Runs that got past the reject, timed; each step of the two complete runs timed once per run.
    assert value(samples, "media_worker_job_duration_seconds_count", job_type="video") == sum(jobs.values()) - 1
    for step in VIDEO_STEPS_TIMED:
        assert value(samples, "media_worker_step_duration_seconds_count", job_type="video", step=step) == 2, step
    assert value(samples, "media_worker_step_duration_seconds_count", job_type="video", step="done") == 0
    assert value(samples, "media_worker_step_duration_seconds_sum", job_type="video", step="transcoding") > 0
    assert value(samples, "media_worker_visibility_extensions_total") >= 1
    assert value(samples, "media_worker_lock_extensions_total") >= 1
    assert value(samples, "media_worker_locks_lost_total") == 0
    assert value(samples, "media_worker_dead_letters_total", queue=stack.video_queue, reason="invalid_message") == 1
    assert any((tmp_path / "prometheus").glob("counter_*.db"))
    # How long each message waited, from SQS's SentTimestamp (every run, the rejected one included) ...
    waits = value(samples, "media_worker_queue_wait_seconds_count", queue=stack.video_queue)
    assert waits == value(samples, "dramatiq_messages_total", **video)
    assert 0 < value(samples, "media_worker_queue_wait_seconds_sum", queue=stack.video_queue) < 600
    # ... and the queues' depths, read from SQS when scraped (the dead letter is there).
    assert value(samples, "media_worker_queue_depths_up") == 1
    for queue in (stack.video_queue, stack.ai_queue):
        assert (queue, "visible") in {(dict(labels)["queue"], dict(labels)["state"])
                                      for name, labels in samples if name == "media_worker_queue_messages"}
    assert value(samples, "media_worker_queue_messages", queue=stack.video_queue, state="dead_letters") == 1


def test_json_logs_carry_job_fields_and_no_database_password(private_stack, start_worker, sample_video):
    stack = private_stack
    database_url = make_url(POSTGRES_URL).set(password=CANARY).render_as_string(hide_password=False)
    worker = start_worker(LOG_FORMAT="json", DATABASE_URL=database_url)  # trust auth: the password is not checked
    video_id, key = new_video(stack, sample_video)
    sent = time.monotonic()
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    stack.send(stack.video_queue, "[1, 2]")
    assert stack.wait_status(video_id, "READY", "FAILED")["status"] == "READY"
    window = time.monotonic() - sent  # the run happened inside it: bounds the logged duration, whatever the speed
    stack.wait_for(lambda: '"outcome": "rejected"' in worker.output(), 30, "the rejected message's log line")
    worker.terminate()
    output = worker.output()
    assert CANARY not in output

    records, others = [], []
    for line in output.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            others.append(line)
    # Only Dramatiq's main process, which never imports our code, writes its own format
    # ("Dramatiq '2.2.0' is booting up.", "Sending signal 'SIGTERM' to subprocesses...").
    assert others and all("[dramatiq.MainProcess]" in line for line in others), others
    assert all({"time", "level", "logger", "pid", "message"} <= record.keys() for record in records)

    starting = next(r for r in records if r["message"].startswith("worker process starting"))
    assert ":***@" in starting["message"]
    finished = [r for r in records if r["message"] == "job finished"]
    done = next(r for r in finished if r.get("job_id") == str(video_id))
    assert done["job_type"] == "video" and done["attempt"] == 1 and done["outcome"] == "completed"
    assert done["step"] == "done" and 0 < done["duration"] <= window and done["level"] == "INFO"
    rejected = next(r for r in finished if r["outcome"] == "rejected")
    assert rejected["job_type"] == "video" and rejected["attempt"] == 1 and "job_id" not in rejected
    warning = next(r for r in records if r["message"].startswith("rejecting message"))
    assert warning["job_type"] == "video" and warning["attempt"] == 1
    assert any(r["message"] == "Worker process is ready for action." for r in records)
