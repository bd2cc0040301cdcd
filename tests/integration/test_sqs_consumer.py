"""The routed SQS broker and consumer, in a real Dramatiq worker, against moto's server."""

from __future__ import annotations

import json
import threading
import time

import dramatiq
import pytest
from dramatiq.middleware import ShutdownNotifications

from adapters.messages import validate_body
from adapters.sqs.broker import RoutedSQSBroker
from adapters.sqs.codec import Route
from adapters.sqs.publisher import JsonPublisher, video_body
from adapters.worker.give_up import GiveUp
from adapters.worker.reject import RejectBeforeRun
from adapters.worker.retries import CappedRetries
from domain.errors import PermanentError, TransientError, UnsupportedMedia
from kinds.video import VideoJobBody
from tests.services import unique


class Harness:
    """A RoutedSQSBroker with one test actor, on fresh queues."""

    def __init__(self, moto, *, behaviour, max_retries=2, max_receive_count=3, visibility=30):
        self.moto = moto
        self.sqs = moto.client("sqs")
        self.queue, self.dlq = unique("video-jobs-"), unique("video-dlq-")
        self.calls: list[tuple[dict, str]] = []
        self.given_up: list[tuple[dict, str, str]] = []
        self.give_up = lambda *args: self.given_up.append(args)  # the actor's give_up option calls it
        self.behaviour = behaviour
        self.broker = RoutedSQSBroker(
            routes={self.queue: Route("process_video", self.dlq)},
            visibility_timeout=visibility,
            middleware=[
                RejectBeforeRun(max_receive_count),
                ShutdownNotifications(notify_shutdown=True),
                GiveUp(),
                CappedRetries(max_retries=max_retries, min_backoff=100, max_backoff=200, return_on_shutdown=True),
            ],
            endpoint_url=moto.url,
            region_name="us-east-1",
        )

        @dramatiq.actor(actor_name="process_video", queue_name=self.queue, broker=self.broker,
                        throws=(PermanentError,), give_up=lambda *args: self.give_up(*args))
        def process_video(**body):
            message = dramatiq.middleware.CurrentMessage.get_current_message()
            self.calls.append((validate_body(VideoJobBody, body).model_dump(), message.message_id if message else ""))
            self.behaviour(len(self.calls))

        self.broker.add_middleware(dramatiq.middleware.CurrentMessage())
        self.broker.declare_queue(self.queue)
        self.broker._ensure_queue(self.queue)
        self.publisher = JsonPublisher(self.sqs)
        self.worker = dramatiq.Worker(self.broker, worker_threads=2, worker_timeout=100)

    def __enter__(self):
        self.worker.start()
        return self

    def __exit__(self, *exc):
        self.worker.stop(timeout=10_000)

    def url(self, name):
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    def dead_letters(self, expect: int, timeout: float = 20):
        found, deadline = [], time.monotonic() + timeout
        while len(found) < expect and time.monotonic() < deadline:
            found += self.sqs.receive_message(
                QueueUrl=self.url(self.dlq), MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
            ).get("Messages", [])
        return found

    def depth(self, name=None):
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url(name or self.queue), AttributeNames=["All"])
        a = attributes["Attributes"]
        return sum(int(a[k]) for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                        "ApproximateNumberOfMessagesDelayed"))

    def wait(self, predicate, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return False


def ok(_n):
    return None


def test_plain_json_body_runs_once_with_the_sqs_message_id(moto):
    with Harness(moto, behaviour=ok) as h:
        message_id = h.publisher.send(h.queue, video_body(42, "uploads/7/42/source.mp4", 7))
        assert h.wait(lambda: h.calls)
        assert h.wait(lambda: h.depth() == 0)
    body, seen_id = h.calls[0]
    assert body["video_id"] == 42 and body["file_key"] == "uploads/7/42/source.mp4" and body["tenant_id"] == 7
    assert seen_id == message_id
    assert len(h.calls) == 1 and h.depth(h.dlq) == 0


@pytest.mark.parametrize(
    "raw,reason",
    [
        ("{not json", "invalid message: the body is not valid JSON"),
        ("[1, 2]", "the body is a JSON array, not an object"),
        ('{"file_key": "a.mp4"}', "required key 'video_id' is missing"),
        ('{"video_id": "42", "file_key": "a.mp4"}', "video_id: Input should be a valid integer"),
        ('{"video_id": 0, "file_key": "a.mp4"}', "video_id: must be a positive integer"),
        ('{"video_id": 42, "file_key": "../../etc/passwd"}', "file_key: must not contain a '..' segment"),
        ('{"video_id": 42, "file_key": "/etc/passwd"}', "must not start with '/'"),
        ("eyJoZWxsbyB3b3JsZA==", "neither a JSON object nor a Dramatiq message"),
        ("aGVsbG8gd29ybGQ=", "not valid JSON"),
    ],
)
def test_bad_bodies_go_straight_to_the_dlq_byte_for_byte(moto, raw, reason):
    with Harness(moto, behaviour=ok) as h:
        h.publisher.send(h.queue, raw)
        (letter,) = h.dead_letters(1)
        assert h.wait(lambda: h.depth() == 0)
    assert letter["Body"] == raw
    attributes = letter["MessageAttributes"]
    assert reason in attributes["reason"]["StringValue"]
    assert attributes["receive_count"]["StringValue"] == "1"
    assert attributes["dead_lettered_at"]["StringValue"].startswith("20")
    assert attributes["source_queue"]["StringValue"] == h.queue
    assert h.calls == []
    # the give-up hook saw the original body, so the row (if any) can be failed
    assert h.given_up and h.given_up[0][1] == raw and reason in h.given_up[0][2]


def test_unknown_keys_are_ignored(moto):
    with Harness(moto, behaviour=ok) as h:
        h.publisher.send(h.queue, json.dumps({"video_id": 5, "file_key": "a.mp4", "new_api_field": [1]}))
        assert h.wait(lambda: h.calls)
    assert h.calls[0][0]["video_id"] == 5


def test_permanent_error_is_dead_lettered_once_with_its_reason(moto):
    def fail(_n):
        raise UnsupportedMedia("the source is not a video file ffmpeg can decode")

    with Harness(moto, behaviour=fail) as h:
        raw = video_body(9, "uploads/a.mp4")
        h.publisher.send(h.queue, raw)
        (letter,) = h.dead_letters(1)
    assert len(h.calls) == 1
    assert letter["Body"] == raw
    assert letter["MessageAttributes"]["reason"]["StringValue"] == "the source is not a video file ffmpeg can decode"


def test_transient_errors_retry_then_dead_letter_the_original_json_body(moto):
    def flaky(_n):
        raise TransientError("S3 download failed (503)")

    with Harness(moto, behaviour=flaky, max_retries=2) as h:
        raw = video_body(10, "uploads/b.mp4")
        first_id = h.publisher.send(h.queue, raw)
        (letter,) = h.dead_letters(1, timeout=30)
        assert h.wait(lambda: h.depth() == 0)
    assert len(h.calls) == 3  # the first attempt and two retries
    assert {seen for _, seen in h.calls} == {first_id}  # retries keep the message id
    assert letter["Body"] == raw  # redrivable as it is
    assert letter["MessageAttributes"]["reason"]["StringValue"] == "gave up after 3 attempts: S3 download failed (503)"
    assert h.given_up[0][0]["video_id"] == 10


def test_retry_then_success(moto):
    def once(n):
        if n == 1:
            raise TransientError("database unavailable")

    with Harness(moto, behaviour=once) as h:
        h.publisher.send(h.queue, video_body(11, "uploads/c.mp4"))
        assert h.wait(lambda: len(h.calls) == 2)
        assert h.wait(lambda: h.depth() == 0)
    assert h.depth(h.dlq) == 0


def test_a_message_received_too_often_is_dead_lettered_before_it_runs(moto):
    with Harness(moto, behaviour=ok, max_receive_count=2) as h:
        h.worker.pause()
        raw = video_body(12, "uploads/d.mp4")
        h.publisher.send(h.queue, raw)
        for _ in range(2):  # two deliveries to workers that "crashed"
            got = h.sqs.receive_message(QueueUrl=h.url(h.queue), VisibilityTimeout=0, WaitTimeSeconds=2)
            assert got.get("Messages")
        h.worker.resume()
        (letter,) = h.dead_letters(1)
    assert h.calls == []
    assert letter["Body"] == raw
    assert "delivered 3 times (limit 2)" in letter["MessageAttributes"]["reason"]["StringValue"]
    assert letter["MessageAttributes"]["receive_count"]["StringValue"] == "3"


def test_long_retry_delays_are_capped_not_lost(moto):
    h = Harness(moto, behaviour=ok)
    message = dramatiq.Message(queue_name=h.queue, actor_name="process_video", args=(), kwargs={}, options={})
    h.broker.enqueue(message, delay=7 * 86400 * 1000)  # dramatiq-sqs alone raises MessageDelayTooLong here
    attributes = h.sqs.get_queue_attributes(QueueUrl=h.url(h.queue), AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


def test_heartbeat_extends_visibility_of_in_flight_messages(moto):
    started, release = threading.Event(), threading.Event()

    def slow(_n):
        started.set()
        release.wait(20)

    with Harness(moto, behaviour=slow, visibility=2) as h:
        h.publisher.send(h.queue, video_body(13, "uploads/e.mp4"))
        assert started.wait(20)
        for _ in range(4):  # 4 s: twice the visibility timeout
            assert h.broker.extend_visibility() == 1
            time.sleep(1)
        visible = h.sqs.receive_message(QueueUrl=h.url(h.queue), WaitTimeSeconds=0).get("Messages", [])
        assert visible == []  # never redelivered while it runs
        release.set()
        assert h.wait(lambda: h.depth() == 0)
    assert len(h.calls) == 1


def test_after_stop_receiving_a_consumer_hands_out_nothing_new(moto):
    h = Harness(moto, behaviour=ok)
    h.publisher.send(h.queue, video_body(15, "uploads/g.mp4"))
    consumer = h.broker.consume(h.queue, prefetch=1, timeout=1000)
    consumer.stop_receiving()
    assert [next(consumer) for _ in range(3)] == [None, None, None]
    assert h.depth() == 1  # still on the queue, visible to other workers
    visible = h.sqs.receive_message(QueueUrl=h.url(h.queue), WaitTimeSeconds=1).get("Messages", [])
    assert len(visible) == 1


def test_a_message_whose_row_cannot_be_failed_is_kept_not_dead_lettered(moto):
    def fail(_n):
        raise TransientError("the database is unavailable (OperationalError)")

    h = Harness(moto, behaviour=fail, max_retries=0)
    database = {"up": False}

    def give_up(kwargs, body, reason):
        if not database["up"]:
            raise TransientError("the database is unavailable (OperationalError)")
        h.given_up.append((kwargs, body, reason))

    h.give_up = give_up
    h.broker.outage_retry_seconds = 1
    with h:
        raw = video_body(16, "uploads/h.mp4")
        h.publisher.send(h.queue, raw)
        assert h.wait(lambda: len(h.calls) >= 2, 30)  # failed, kept, came back, failed again
        assert h.depth(h.dlq) == 0 and h.depth() == 1
        database["up"] = True
        (letter,) = h.dead_letters(1, timeout=30)
    assert letter["Body"] == raw and h.given_up[0][0]["video_id"] == 16


def test_an_actor_declared_after_consume_is_known_to_the_consumer(moto):
    sqs = moto.client("sqs")
    queue, dlq = unique("video-jobs-"), unique("video-dlq-")
    broker = RoutedSQSBroker(routes={queue: Route("process_video", dlq)}, visibility_timeout=30,
                             endpoint_url=moto.url, region_name="us-east-1")
    broker.declare_queue(queue)
    consumer = broker.consume(queue, timeout=100)

    @dramatiq.actor(actor_name="late_actor", queue_name=queue, broker=broker)
    def late_actor(x):
        pass

    late_actor.send(1)  # a Dramatiq envelope, for an actor the consumer did not know when it started
    message = None
    for _ in range(20):
        message = next(consumer) or message
        if message is not None:
            break
    assert message is not None and message.actor_name == "late_actor" and message.args == (1,)
    assert "reject_reason" not in message.options
    consumer.ack(message)
    assert sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=dlq)["QueueUrl"],
                                    AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
        "ApproximateNumberOfMessages"] == "0"
