"""Job labels, outcomes, dead-letter categories, the progress sink decorator and JobMetrics."""

from __future__ import annotations

import logging
import os

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import SkipMessage
from prometheus_client import CollectorRegistry

from adapters.metrics.middleware import JobMetrics, remove_dead_files
from adapters.metrics.progress import ObservedProgress
from adapters.metrics.prometheus import Metrics, counted
from adapters.sqs.codec import BodyCodec, Route
from adapters.sqs.dead_letter import DeadLetterQueue
from adapters.worker.context import JobContext, current_job, enter_job, leave_job, report_outcome
from adapters.worker.labels import JobLabels, identify
from adapters.worker.reasons import DeadLetterReason, dead_letter_reason
from adapters.worker.reject import RejectBeforeRun
from adapters.worker.retries import CappedRetries
from adapters.worker.tracking import JobTracking
from domain.ai.model import AI
from domain.errors import InvalidMessage, LockBusy, PermanentError, TransientError, Waiting
from domain.video.model import VIDEO
from kinds.video import VideoJobBody

KINDS = {
    "process_video": JobLabels(VIDEO, "video_id"),
    "process_ai_job": JobLabels(AI, "job_id", "job_type", lambda: {"ocr"}),
}


@pytest.fixture
def metrics():
    registry = CollectorRegistry()
    started = Metrics()
    started.start(registry)
    started.registry = registry
    return started


def sample(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels) or 0.0


def message(actor="process_video", **kwargs):
    return dramatiq.Message(queue_name="q", actor_name=actor, args=(), kwargs=kwargs, options={})


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        (message(video_id=42), ("video", "42", "video:42")),
        (message("process_ai_job", job_id="u-1", job_type="ocr"), ("ocr", "u-1", "ai:u-1")),
        (message("process_ai_job", job_id="u-1", job_type="x" * 40), ("ai", "u-1", "ai:u-1")),  # not a label
        (message(video_id=True), ("video", "", None)),
        (message(), ("video", "", None)),
        (message("other_actor"), ("other_actor", "", None)),
    ],
)
def test_identify_gives_bounded_labels(msg, expected):
    info = identify(msg, KINDS.get(msg.actor_name))
    assert (info.job_type, info.job_id, info.key) == expected


def codec_reason(body: str) -> DeadLetterReason:
    codec = BodyCodec("q", Route("process_video", "video-jobs-dlq"), frozenset({"process_video"}))
    return dead_letter_reason(dramatiq.broker.MessageProxy(codec.decode(body, "m-1", 1)))


def reject_reason(receive_count: int) -> DeadLetterReason:
    proxy = dramatiq.broker.MessageProxy(message(video_id=1))
    proxy.options["receive_count"] = receive_count
    with pytest.raises(SkipMessage):
        RejectBeforeRun(max_receive_count=3).before_process_message(None, proxy)
    return dead_letter_reason(proxy)


def failed_reason(error: BaseException, retries: int = 3) -> DeadLetterReason:
    proxy = dramatiq.broker.MessageProxy(message(video_id=1))
    proxy.options["retries"] = retries
    proxy.stuff_exception(error)
    return dead_letter_reason(proxy)


@pytest.mark.parametrize(
    ("reason", "category"),
    [
        (lambda: codec_reason("{not json"), "invalid_message"),
        (lambda: codec_reason("[1, 2]"), "invalid_message"),
        (lambda: failed_reason(InvalidMessage("invalid message: required key 'file_key' is missing")),
         "invalid_message"),
        (lambda: codec_reason("eyJhYmMiOiAxfQ=="), "invalid_message"),
        (lambda: reject_reason(4), "too_many_receives"),
        (lambda: failed_reason(TransientError("S3 is unavailable")), "retries_exhausted"),
        (lambda: failed_reason(OSError("disk full")), "retries_exhausted"),
        (lambda: failed_reason(PermanentError("the source is not a video")), "permanent_error"),
        (lambda: dead_letter_reason(dramatiq.broker.MessageProxy(message())), "other"),
    ],
)
def test_dead_letter_categories_of_the_reasons_the_worker_makes(reason, category):
    assert reason().category == category


class Sink:
    def __init__(self):
        self.writes = []

    def write(self, key, step, percent, message):
        self.writes.append((key, step, percent))


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("adapters.metrics.progress.monotonic", lambda: now[0])
    return now


def test_observed_progress_times_each_step_until_the_next_and_tracks_the_step(metrics, clock):
    sink = Sink()
    progress = ObservedProgress(sink, metrics)
    job = JobContext(job_type="ocr", job_id="u-1", attempt=1, key="ai:u-1")
    enter_job(job)
    try:
        for step, seconds in (("downloading", 2), ("running", 5), ("running", 3), ("saving", 1), ("done", 0)):
            progress.write("ai:u-1", step, 0, step)
            clock[0] += seconds
        progress.write("ai:other", "running", 0, "")  # not this job's key: written, not timed
    finally:
        leave_job()
    progress.write("ai:u-1", "failed", 0, "")  # no running job: only written
    assert len(sink.writes) == 7 and job.step == "done"
    assert sample(metrics, "media_worker_step_duration_seconds_sum", job_type="ocr", step="downloading") == 2
    assert sample(metrics, "media_worker_step_duration_seconds_sum", job_type="ocr", step="running") == 8
    assert sample(metrics, "media_worker_step_duration_seconds_count", job_type="ocr", step="running") == 1
    assert sample(metrics, "media_worker_step_duration_seconds_sum", job_type="ocr", step="saving") == 1
    assert sample(metrics, "media_worker_step_duration_seconds_count", job_type="ocr", step="done") == 0


def test_metrics_do_nothing_until_started():
    idle = Metrics()
    idle.job("video", "completed", 1.0)
    idle.dead_letter("q", "other")
    assert not idle.started


def test_dead_letter_queue_counts_what_it_sends(metrics, monkeypatch):
    monkeypatch.setattr("adapters.sqs.dead_letter.METRICS", metrics)

    class Queue:
        def send_message(self, **kwargs):
            self.sent = kwargs

    reason = DeadLetterReason("gave up after 6 attempts: boom", "retries_exhausted")
    DeadLetterQueue(Queue(), "video-jobs").send("x", reason=reason, receive_count=1, message_id="m")
    assert sample(metrics, "media_worker_dead_letters_total", queue="video-jobs", reason="retries_exhausted") == 1


def test_counted_beat_records_its_count():
    seen = []
    beat = counted(lambda: 3, seen.append)
    assert beat() == 3 and seen == [3]


def test_remove_dead_files_keeps_live_processes(tmp_path):
    live, dead = tmp_path / f"counter_{os.getpid()}.db", tmp_path / "counter_999999999.db"
    live.touch(), dead.touch()
    remove_dead_files(tmp_path)
    assert live.exists() and not dead.exists()


@pytest.fixture
def worker_broker(metrics):
    """JobTracking and JobMetrics ahead of the retries, as build_broker orders them."""
    broker = StubBroker(middleware=[
        JobTracking(),
        JobMetrics(metrics, multiproc_dir="unused", count_nacks=True),
        RejectBeforeRun(max_receive_count=5),
        CappedRetries(max_retries=1, min_backoff=10, max_backoff=10, busy_delay=10),
    ])
    seen = {"busy": 0, "waiting": 0}

    @dramatiq.actor(actor_name="process_video", broker=broker, throws=(PermanentError,), max_retries=1,
                    job_labels=KINDS["process_video"])
    def process_video(video_id, mode):
        seen["context"] = current_job()
        if mode == "skip":
            report_outcome("skipped")
        elif mode == "permanent":
            raise PermanentError("the source is not a video")
        elif mode == "transient":
            raise TransientError("S3 is unavailable")
        elif mode == "busy" and seen["busy"] == 0:
            seen["busy"] += 1
            raise LockBusy("video 1 is being processed by another worker")
        elif mode == "waiting" and seen["waiting"] < 2:  # twice: with max_retries=1 a spent retry would fail it
            seen["waiting"] += 1
            raise Waiting("waiting for video 1 to be READY (it is PROCESSING)", retry_after_seconds=0.01)

    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    yield broker, process_video, seen, worker
    worker.stop()


def test_job_metrics_count_runs_by_outcome(worker_broker, metrics, caplog):
    broker, actor, seen, worker = worker_broker
    caplog.set_level(logging.INFO)
    for mode in ("ok", "skip", "permanent", "transient", "busy", "waiting"):
        actor.send(video_id=1, mode=mode)
    rejected = dramatiq.Message(queue_name="default", actor_name="process_video", args=(), kwargs={}, options={})
    rejected.options["reject_reason"] = "invalid message: the body is not valid JSON (JSONDecodeError)"
    broker.enqueue(rejected)
    broker.join("default", fail_fast=False, timeout=10_000)
    worker.join()

    def jobs(outcome):
        return sample(metrics, "media_worker_jobs_total", job_type="video", outcome=outcome)

    assert {o: jobs(o) for o in ("completed", "skipped", "failed", "retried", "busy", "waiting", "rejected")} == {
        "completed": 3, "skipped": 1, "failed": 2, "retried": 1, "busy": 1, "waiting": 2, "rejected": 1,
    }
    assert sample(metrics, "media_worker_job_duration_seconds_count", job_type="video") == 10
    assert sample(metrics, "media_worker_lock_contention_total", job_type="video") == 1
    dead = {r: sample(metrics, "media_worker_dead_letters_total", queue="default", reason=r)
            for r in ("permanent_error", "retries_exhausted", "invalid_message")}
    assert dead == {"permanent_error": 1, "retries_exhausted": 1, "invalid_message": 1}
    context = seen["context"]
    assert (context.job_type, context.job_id) == ("video", "1") and current_job() is None
    finished = [r for r in caplog.records if r.getMessage() == "job finished"]
    assert sorted(r.outcome for r in finished) == sorted(
        ["completed", "completed", "completed", "skipped", "failed", "failed", "retried", "busy", "waiting", "waiting",
         "rejected"]
    )
    assert all(r.duration >= 0 for r in finished)
