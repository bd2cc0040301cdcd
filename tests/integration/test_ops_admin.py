"""The ops tools' adapters against real services: moto's SQS, Redis, PostgreSQL."""

from __future__ import annotations

import json
import threading
import time

import boto3
import dramatiq
import pytest
import redis as redis_lib
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Retries

from adapters.db.job_queries import JobQueries
from adapters.redis.broker_admin import DeadLetterReasons, RedisQueueAdmin
from adapters.redis.presence import WorkerRegistry
from adapters.sqs.admin import QueueMissing, SqsQueueAdmin
from adapters.sqs.dead_letter import DeadLetterQueue
from adapters.worker.reasons import DeadLetterReason
from domain.operations import DeadLetterNotFound, DeadLetterRefused, UnknownQueue
from tests.conftest import insert_ai_job, insert_video
from tests.services import REDIS_URL, unique

BODIES = [
    '{"video_id": 1, "file_key": "uploads/a.mp4"}',
    '{"video_id": "two"}',
    'not json at all \u00e9\u4e2d \x01',
]


@pytest.fixture
def sqs_queues(moto):
    sqs = moto.client("sqs")
    queue, dlq = unique("video-jobs-"), unique("video-jobs-dlq-")
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName=dlq)["QueueUrl"]
    resource = boto3.resource("sqs", endpoint_url=moto.url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
    letters = DeadLetterQueue(resource.Queue(dlq_url), queue)
    for index, body in enumerate(BODIES):
        letters.send(body, reason=DeadLetterReason(f"reason {index}", "other"), receive_count=index + 1,
                     message_id=f"original-{index}")
    return sqs, queue, dlq, queue_url, dlq_url


def receive_all(sqs, url: str) -> list[dict]:
    found: dict[str, dict] = {}
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        ):
            found[message["MessageId"]] = message
    return list(found.values())


def test_sqs_stats_and_browse_leave_the_dead_letters_in_place(sqs_queues):
    sqs, queue, dlq, queue_url, dlq_url = sqs_queues
    sqs.send_message(QueueUrl=queue_url, MessageBody="{}")
    admin = SqsQueueAdmin(sqs, {queue: dlq})

    (stats,) = admin.stats()
    assert (stats.name, stats.dead_letter_queue, stats.visible, stats.dead_letters) == (queue, dlq, 1, 3)

    letters = admin.dead_letters(queue)
    assert sorted(letter.body for letter in letters) == sorted(BODIES)
    by_body = {letter.body: letter for letter in letters}
    assert by_body[BODIES[2]].reason == "reason 2"
    assert by_body[BODIES[2]].receive_count == 3
    assert by_body[BODIES[2]].original_id == "original-2"
    assert by_body[BODIES[2]].dead_lettered_at.startswith("20")
    # Browsing handed every message back: all are visible again at once.
    attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "3"
    assert len(admin.dead_letters(queue, limit=2)) == 2


def test_sqs_redrive_one_sends_the_original_body_back_unchanged(sqs_queues):
    sqs, queue, dlq, queue_url, dlq_url = sqs_queues
    admin = SqsQueueAdmin(sqs, {queue: dlq})
    target = next(letter for letter in admin.dead_letters(queue) if letter.body == BODIES[2])

    assert admin.redrive(queue, [target.id]) == 1

    (back,) = receive_all(sqs, queue_url)
    assert back["Body"] == BODIES[2]
    assert "MessageAttributes" not in back  # a job body as the API sends it, not a dead letter
    assert sorted(letter.body for letter in admin.dead_letters(queue)) == sorted(BODIES[:2])


def test_sqs_delete_and_redrive_all(sqs_queues):
    sqs, queue, dlq, queue_url, dlq_url = sqs_queues
    admin = SqsQueueAdmin(sqs, {queue: dlq})
    first = admin.dead_letters(queue)[0]

    assert admin.delete(queue, [first.id]) == 1
    assert first.id not in {letter.id for letter in admin.dead_letters(queue)}
    assert admin.redrive(queue) == 2
    assert admin.dead_letters(queue) == []
    assert sorted(m["Body"] for m in receive_all(sqs, queue_url)) == sorted(b for b in BODIES if b != first.body)


def test_sqs_unknown_ids_queues_and_missing_queues_are_named(sqs_queues, moto):
    sqs, queue, dlq, queue_url, dlq_url = sqs_queues
    admin = SqsQueueAdmin(sqs, {queue: dlq})
    with pytest.raises(DeadLetterNotFound, match="no dead letter nope"):
        admin.redrive(queue, ["nope"])
    assert len(admin.dead_letters(queue)) == 3  # nothing was touched
    with pytest.raises(UnknownQueue, match="is not a queue of this worker"):
        admin.delete("other-queue", ["x"])
    with pytest.raises(QueueMissing, match="does not exist"):
        SqsQueueAdmin(sqs, {queue: unique("missing-dlq-")}).stats()


@pytest.fixture
def redis_broker():
    namespace = unique("dramatiq-test-")
    broker = RedisBroker(url=REDIS_URL, namespace=namespace, middleware=[Retries(max_retries=0)])
    broker.add_middleware(DeadLetterReasons(broker.client))
    yield broker, namespace
    broker.client.delete(*(broker.client.keys(f"{namespace}:*") or ["-"]))
    broker.close()


def test_redis_broker_dead_letters_carry_a_reason_and_can_be_redriven(redis_broker):
    broker, namespace = redis_broker
    queue = unique("video-jobs-")

    @dramatiq.actor(broker=broker, queue_name=queue, actor_name="process_video")
    def process_video(**body):
        raise ValueError(f"cannot read {body['file_key']}")

    for video_id in (1, 2):
        process_video.send(video_id=video_id, file_key=f"uploads/{video_id}.mp4")
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    try:
        broker.join(queue, timeout=20_000)
    finally:
        worker.stop()

    admin = RedisQueueAdmin(broker.client, [queue], namespace=namespace)
    (stats,) = admin.stats()
    assert (stats.visible, stats.in_flight, stats.dead_letters) == (0, 0, 2)
    letters = admin.dead_letters(queue)
    assert {letter.reason for letter in letters} == {
        "gave up after 1 attempts: ValueError: cannot read uploads/1.mp4",
        "gave up after 1 attempts: ValueError: cannot read uploads/2.mp4",
    }

    assert admin.redrive(queue, [letters[0].id]) == 1
    assert admin.delete(queue, [letters[1].id]) == 1
    (stats,) = admin.stats()
    assert (stats.visible, stats.dead_letters) == (1, 0)
    stored = json.loads(broker.client.hget(f"{namespace}:{queue}.msgs", letters[0].id))
    assert stored["kwargs"] == json.loads(letters[0].body)["kwargs"]
    assert "retries" not in stored["options"]  # a redriven job gets its retries back
    with pytest.raises(DeadLetterNotFound):
        admin.delete(queue, [letters[1].id])


def test_job_queries_count_list_and_find(pg_database, tables):
    for video_id, status in ((1, "READY"), (2, "FAILED"), (3, "FAILED"), (4, "PROCESSING")):
        insert_video(pg_database, tables["video"], video_id, f"uploads/{video_id}.mp4", status=status)
    insert_ai_job(pg_database, tables["ai"], "job-1", "ocr", {"file_key": "a.png"}, status="DONE")
    queries = JobQueries(pg_database, tables)

    counts = queries.counts()
    assert counts["video"] == {"PENDING": 0, "UPLOADED": 0, "PROCESSING": 1, "READY": 1, "FAILED": 2}
    assert counts["ai"] == {"PENDING": 0, "PROCESSING": 0, "DONE": 1, "FAILED": 0}
    assert [row["id"] for row in queries.recent("video", "FAILED")] == [3, 2]
    assert len(queries.recent("video", limit=2)) == 2
    assert queries.one("video", "4")["status"] == "PROCESSING"
    assert queries.one("video", "x") is None and queries.one("video", "99") is None
    assert queries.one("ai", "job-1")["payload"] == {"file_key": "a.png"}
    with pytest.raises(LookupError, match="unknown job kind"):
        queries.recent("audio")


def test_worker_registry_shows_living_stopped_and_gone_workers(redis_client):
    now = [1_000_000.0]
    registry = WorkerRegistry(redis_client, gone_after=30, forget_after=3600, clock=lambda: now[0])
    alive, stopped, silent = (unique("w-") for _ in range(3))
    job = {"message_id": "m1", "actor": "process_video", "job": "video 42", "since": now[0]}
    for worker_id in (alive, stopped, silent):
        registry.beat(worker_id, host="dyno", pid=7, queues=["video-jobs"], in_flight=[job], started_at="t0")
    registry.stopped(stopped)
    now[0] += 31
    registry.beat(alive, host="dyno", pid=7, queues=["video-jobs"], in_flight=[], started_at="t0")

    records = {record.worker_id: record for record in registry.workers()}
    assert records[alive].state == "running" and records[alive].in_flight == ()
    assert records[stopped].state == "stopped"
    assert records[silent].state == "gone" and records[silent].in_flight == ()
    assert records[alive].as_dict()["queues"] == ["video-jobs"]

    now[0] += 3600  # long silent entries are forgotten
    assert silent not in {record.worker_id for record in registry.workers()}


def test_worker_registry_keeps_in_flight_jobs_of_a_running_worker(redis_client):
    registry = WorkerRegistry(redis_client, gone_after=30)
    worker_id = unique("w-")
    job = {"message_id": "m1", "actor": "process_video", "job": "video 42", "since": time.time()}
    registry.beat(worker_id, host="h", pid=1, queues=["q"], in_flight=[job], started_at="t0")
    (record,) = [r for r in registry.workers() if r.worker_id == worker_id]
    assert record.in_flight == (job,)



def fill_redis_dead_letters(client, namespace: str, queue: str, count: int) -> list[str]:
    """Dead letters as Dramatiq's RedisBroker files them: an id in the XQ set, the message in its hash."""
    ids = []
    pipe = client.pipeline(transaction=False)
    for index in range(count):
        message = dramatiq.Message(queue_name=queue, actor_name="process_video", args=(),
                                   kwargs={"video_id": index + 1, "file_key": f"uploads/{index}.mp4"},
                                   options={"retries": 3})
        ids.append(message.message_id)
        pipe.zadd(f"{namespace}:{queue}.XQ", {message.message_id: time.time() * 1000 + index})
        pipe.hset(f"{namespace}:{queue}.XQ.msgs", message.message_id, message.encode())
    pipe.execute()
    return ids


def test_redis_broker_concurrent_redrives_and_deletes_move_each_letter_once(redis_broker):
    broker, namespace = redis_broker
    queue = unique("video-jobs-")
    ids = fill_redis_dead_letters(broker.client, namespace, queue, 300)
    results: dict[str, int] = {}

    def run(name: str, action: str) -> None:
        admin = RedisQueueAdmin(redis_lib.Redis.from_url(REDIS_URL), [queue], namespace=namespace)
        results[name] = getattr(admin, action)(queue)

    threads = [threading.Thread(target=run, args=(name, action))
               for name, action in (("redrive-1", "redrive"), ("redrive-2", "redrive"), ("delete", "delete"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    entries = [member.decode() for member in broker.client.lrange(f"{namespace}:{queue}", 0, -1)]
    assert len(entries) == len(set(entries))  # no letter redriven twice
    assert sum(results.values()) == 300 and results["redrive-1"] + results["redrive-2"] == len(entries)
    stored = broker.client.hkeys(f"{namespace}:{queue}.msgs")
    assert sorted(key.decode() for key in stored) == sorted(entries)
    assert set(entries) <= set(ids)
    assert broker.client.zcard(f"{namespace}:{queue}.XQ") == 0 and broker.client.hlen(f"{namespace}:{queue}.XQ.msgs") == 0


def test_redis_broker_odd_entries_are_listed_and_deleted_not_a_traceback(redis_broker):
    broker, namespace = redis_broker
    queue = unique("video-jobs-")
    (good,) = fill_redis_dead_letters(broker.client, namespace, queue, 1)
    for odd_id, data in (("not-json", b"\x1b[2J not json"), ("a-list", b"[1, 2]"),
                         ("odd-options", b'{"options": {"retries": "\xc2\xb2", "traceback": 7}}')):
        broker.client.zadd(f"{namespace}:{queue}.XQ", {odd_id: time.time() * 1000})
        broker.client.hset(f"{namespace}:{queue}.XQ.msgs", odd_id, data)
    admin = RedisQueueAdmin(broker.client, [queue], namespace=namespace)

    letters = {letter.id: letter for letter in admin.dead_letters(queue)}
    assert set(letters) == {good, "not-json", "a-list", "odd-options"}
    assert letters["not-json"].reason == "(not a Dramatiq message)" and letters["not-json"].receive_count is None
    assert letters["odd-options"].receive_count == 1
    with pytest.raises(DeadLetterRefused, match="not-json.* is not a Dramatiq message"):
        admin.redrive(queue, ["not-json", good])
    assert broker.client.lrange(f"{namespace}:{queue}", 0, -1) == [good.encode()]  # the good one went
    assert admin.delete(queue, ["not-json", "a-list"]) == 2
    assert set(letter.id for letter in admin.dead_letters(queue)) == {"odd-options"}
