"""Chaos: thousands of generated bodies through the real SQS consumer.

Hypothesis generates the corpus (valid bodies, near-valid ones, wrong types,
huge and deeply nested values, unknown fields, arbitrary text); every body
goes through moto's SQS server into a real Dramatiq worker running the
RoutedSQSBroker and this project's middleware. Each one must end exactly once:
run by the actor if valid, dead-lettered with a reason if not. None lost, no
worker crash.
"""

from __future__ import annotations

import json
import os
import time

import dramatiq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.messages import validate_body
from adapters.sqs.broker import RoutedSQSBroker
from adapters.sqs.codec import Route
from adapters.worker.give_up import GiveUp
from adapters.worker.reject import RejectBeforeRun
from adapters.worker.retries import CappedRetries
from domain.errors import PermanentError
from kinds.video import VideoJobBody
from tests.services import unique

pytestmark = pytest.mark.chaos
CHUNK = 500

safe_key = st.from_regex(r"uploads/[a-z0-9]{1,12}/[a-z0-9_.-]{1,40}", fullmatch=True).filter(lambda k: ".." not in k)
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=50))
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
valid = st.fixed_dictionaries(
    {"video_id": st.integers(1, 2**62), "file_key": safe_key},
    optional={"tenant_id": st.none() | st.integers(1, 10**6), "created_at": st.just("2026-11-26T06:00:00+00:00"),
              "unknown_field": json_value},
).map(json.dumps)
near_valid = st.one_of(
    st.fixed_dictionaries({"video_id": st.integers(max_value=0), "file_key": safe_key}),
    st.fixed_dictionaries({"video_id": st.text(max_size=5) | st.floats(allow_nan=False) | st.booleans(),
                           "file_key": safe_key}),
    st.fixed_dictionaries({"video_id": st.integers(1, 10**6), "file_key": st.sampled_from(
        ["../etc/passwd", "/etc/passwd", "a/../../b", "", "x" * 1025, "a\\b", "a\x00b"])}),
    st.fixed_dictionaries({"video_id": st.integers(1, 10**6)}),
    st.fixed_dictionaries({"file_key": safe_key}),
    st.fixed_dictionaries({"video_id": st.integers(1, 10**6), "file_key": safe_key, "tenant_id": st.text(min_size=1)}),
    st.fixed_dictionaries({"video_id": st.integers(1, 10**6), "file_key": json_value.filter(lambda v: not isinstance(v, str))}),
).map(json.dumps)
hostile = st.one_of(
    st.integers(1, 20_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(10_000, 200_000).map(lambda n: json.dumps({"video_id": 1, "file_key": "k" * n})),
    json_value.filter(lambda v: not isinstance(v, dict)).map(json.dumps),
    st.text(min_size=1, max_size=200).filter(lambda t: t.strip()),
    st.binary(min_size=1, max_size=200).map(lambda b: b.decode("latin-1")).filter(lambda t: t.strip()),
    st.just("eyJub3QiOiAiZHJhbWF0aXEifQ=="),
)


def corpus(size: int) -> list[tuple[str, str]]:
    """``size`` generated (expected outcome, body) pairs; SQS refuses some characters and empty bodies."""
    bodies: list[tuple[str, str]] = []
    strategy = st.one_of(valid.map(lambda b: ("valid", b)), near_valid.map(lambda b: ("invalid", b)),
                         hostile.map(lambda b: ("invalid", b)))

    @settings(max_examples=size, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(item):
        bodies.append(item)

    collect()
    allowed = lambda ch: ch in "\t\n\r" or "\x20" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd" or ch > "\uffff"  # noqa: E731
    return [(kind, body) for kind, body in bodies if all(map(allowed, body)) and len(body.encode()) <= 256 * 1024]


@pytest.mark.timeout(1800)  # soak mode: 20,000 bodies take about 12 minutes
def test_fuzzed_bodies_each_end_exactly_once(moto, soak, figures):
    size = int(os.environ.get("FUZZ_BODIES", 20_000 if soak else 5_000))
    items = corpus(size)
    assert len(items) >= size * 0.95
    sqs = moto.client("sqs")
    queue, dlq = unique("video-jobs-"), unique("video-dlq-")
    ran: dict[str, dict] = {}
    broker = RoutedSQSBroker(
        routes={queue: Route("process_video", dlq)},
        visibility_timeout=120, endpoint_url=moto.url, region_name="us-east-1",
        middleware=[RejectBeforeRun(5), GiveUp(), CappedRetries(max_retries=0, min_backoff=100, max_backoff=100)],
    )
    broker.add_middleware(dramatiq.middleware.CurrentMessage())

    @dramatiq.actor(actor_name="process_video", queue_name=queue, broker=broker, throws=(PermanentError,))
    def process_video(**body):
        ran[dramatiq.middleware.CurrentMessage.get_current_message().message_id] = validate_body(VideoJobBody, body)

    broker.declare_queue(queue)
    broker._ensure_queue(queue)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=dlq)["QueueUrl"]
    expected: dict[str, tuple[str, str]] = {}
    letters: dict[str, dict] = {}
    began = time.monotonic()
    worker = dramatiq.Worker(broker, worker_threads=8, worker_timeout=100)
    worker.start()
    try:
        # In chunks: moto's queues slow down as they fill up, real SQS does not.
        for chunk in range(0, len(items), CHUNK):
            for start in range(chunk, min(chunk + CHUNK, len(items)), 10):
                batch = items[start:start + 10]
                sent = sqs.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "MessageBody": body} for i, (_, body) in enumerate(batch)])
                assert not sent.get("Failed"), sent.get("Failed")
                for entry in sent["Successful"]:
                    expected[entry["MessageId"]] = batch[int(entry["Id"])]
            deadline = time.monotonic() + 300
            while len(ran) + len(letters) < len(expected) and time.monotonic() < deadline:
                for message in sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                                   MessageAttributeNames=["All"]).get("Messages", []):
                    letters[message["MessageAttributes"]["message_id"]["StringValue"]] = message
                    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    finally:
        worker.stop(timeout=10_000)
    seconds = time.monotonic() - began

    lost = [mid for mid in expected if mid not in ran and mid not in letters]
    both = [mid for mid in ran if mid in letters]
    wrong = [mid for mid, (kind, _) in expected.items() if (kind == "valid") != (mid in ran)]
    unreasoned = [mid for mid, letter in letters.items() if not letter["MessageAttributes"]["reason"]["StringValue"]]
    altered = [mid for mid, letter in letters.items() if letter["Body"] != expected[mid][1]]
    figures.update(bodies=len(expected), valid=sum(k == "valid" for k, _ in expected.values()), ran=len(ran),
                   dead_lettered=len(letters), lost=len(lost), duplicated=len(both), misjudged=len(wrong),
                   without_reason=len(unreasoned), altered=len(altered), seconds=round(seconds))
    assert (lost, both, wrong, unreasoned, altered) == ([], [], [], [], [])
