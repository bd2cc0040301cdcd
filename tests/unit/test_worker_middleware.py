"""The broker-agnostic middleware on Dramatiq's StubBroker (the moto tests run them on SQS)."""

from __future__ import annotations

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Shutdown, ShutdownNotifications

from adapters.worker.give_up import GiveUp
from adapters.worker.options import GIVE_UP_PENDING, ORIGINAL_BODY, RECEIVE_COUNT, REJECT_REASON, RETURN_TO_QUEUE
from adapters.worker.reject import RejectBeforeRun
from adapters.worker.retries import CappedRetries
from domain.errors import LockBusy, PermanentError, TransientError, UnsupportedMedia


#: broker -> the give-up callback its actors are declared with (their ``give_up`` option)
GIVE_UPS: dict = {}


@pytest.fixture
def harness():
    """A StubBroker with this project's middleware, a worker, and what the give-up callback saw."""
    given_up: list[tuple] = []
    outcome = {"raise": None}

    def give_up(kwargs, body, reason):
        given_up.append((kwargs, body, reason))
        if outcome["raise"] is not None:
            raise outcome["raise"]

    broker = StubBroker(middleware=[
        RejectBeforeRun(max_receive_count=3),
        ShutdownNotifications(notify_shutdown=True),
        GiveUp(),
        CappedRetries(max_retries=2, min_backoff=10, max_backoff=20, busy_delay=10),
    ])
    broker.emit_after("process_boot")
    GIVE_UPS[broker] = give_up
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    yield broker, given_up, outcome
    worker.stop()
    broker.close()
    del GIVE_UPS[broker]


def declare(broker, behaviour, calls):
    @dramatiq.actor(actor_name="job", queue_name="jobs", broker=broker, throws=(PermanentError,), max_retries=2,
                    give_up=GIVE_UPS[broker])
    def job(**kwargs):
        current = dramatiq.middleware.CurrentMessage.get_current_message()
        calls.append(current.options.get("retries", 0) if current else None)  # the attempt, as it ran
        behaviour(len(calls))

    return job


def run(broker, actor, **options):
    message = actor.message_with_options(kwargs={"video_id": 42}, **options)
    broker.enqueue(message)
    broker.join("jobs", fail_fast=False)
    broker.join("jobs.DQ", fail_fast=False)
    broker.join("jobs", fail_fast=False)
    return message


def test_capped_retries_retries_transient_errors_then_gives_up_with_the_reason(harness):
    broker, given_up, _ = harness
    broker.add_middleware(dramatiq.middleware.CurrentMessage())
    calls: list = []

    def flaky(attempt):
        raise TransientError("S3 answered 503")

    actor = declare(broker, flaky, calls)
    run(broker, actor)
    assert len(calls) == 3  # the first attempt and max_retries=2
    assert calls == [0, 1, 2]
    ((kwargs, body, reason),) = given_up
    assert kwargs == {"video_id": 42} and reason == "gave up after 3 attempts: S3 answered 503"
    assert len(broker.dead_letters) == 1


def test_a_busy_lock_comes_back_without_spending_a_retry(harness):
    broker, given_up, _ = harness
    broker.add_middleware(dramatiq.middleware.CurrentMessage())
    calls: list = []

    def busy_twice(attempt):
        if attempt <= 2:
            raise LockBusy("video 42 is being processed by another worker")

    actor = declare(broker, busy_twice, calls)
    run(broker, actor)
    assert calls == [0, 0, 0]
    assert given_up == [] and broker.dead_letters == []


def test_a_permanent_error_is_not_retried_and_fails_the_row_with_its_own_reason(harness):
    broker, given_up, _ = harness
    broker.add_middleware(dramatiq.middleware.CurrentMessage())
    calls: list = []

    def not_a_video(attempt):
        raise UnsupportedMedia("the source is not a video file")

    actor = declare(broker, not_a_video, calls)
    run(broker, actor, **{ORIGINAL_BODY: '{"video_id": 42}'})
    assert len(calls) == 1
    assert given_up == [({"video_id": 42}, '{"video_id": 42}', "the source is not a video file")]


def test_give_up_keeps_the_message_when_the_row_cannot_be_failed(harness):
    broker, given_up, outcome = harness
    outcome["raise"] = TransientError("the database is unavailable (OperationalError)")
    nacked: list = []

    class SeeNack(dramatiq.Middleware):
        def after_nack(self, broker, message):
            nacked.append(dict(message.options))

    broker.add_middleware(SeeNack())
    actor = declare(broker, lambda attempt: (_ for _ in ()).throw(UnsupportedMedia("bad")), [])
    run(broker, actor)
    assert len(given_up) == 1 and nacked and nacked[0][GIVE_UP_PENDING] is True


def test_reject_before_run_fails_flagged_and_too_often_delivered_messages_unrun(harness):
    broker, given_up, _ = harness
    calls: list = []
    actor = declare(broker, lambda attempt: None, calls)
    run(broker, actor, **{REJECT_REASON: "invalid message: video_id: must be a positive integer",
                          ORIGINAL_BODY: '{"video_id": 0}'})
    run(broker, actor, **{RECEIVE_COUNT: 4})
    run(broker, actor, **{RECEIVE_COUNT: 3})  # at the limit: runs
    assert len(calls) == 1
    assert [reason for _, _, reason in given_up] == [
        "invalid message: video_id: must be a positive integer",
        "delivered 4 times (limit 3) without finishing: the job may be crashing its worker",
    ]
    assert given_up[0][1] == '{"video_id": 0}'


def test_capped_retries_returns_a_message_interrupted_by_shutdown(harness):
    broker, given_up, _ = harness
    declare(broker, lambda attempt: None, [])
    retries = next(m for m in broker.middleware if isinstance(m, CappedRetries))
    retries.return_on_shutdown = True
    message = dramatiq.Message(queue_name="jobs", actor_name="job", args=(), kwargs={}, options={})
    proxy = dramatiq.MessageProxy(message)
    retries.after_process_message(broker, proxy, exception=Shutdown("stopping"))
    assert proxy.options[RETURN_TO_QUEUE] is True and not proxy.failed
    retries.return_on_shutdown = False
    retries.after_process_message(broker, proxy, exception=Shutdown("stopping"))  # counted as an attempt
    assert proxy.options.get("retries") == 1
