"""The plain-JSON bodies of CONTRACT section 1 and how the consumer decodes them."""

from __future__ import annotations

import json
from base64 import b64encode

import dramatiq
import pytest

from adapters.messages import parse_body, salvage_id
from adapters.sqs.codec import BodyCodec, Route
from adapters.sqs.publisher import ai_body, video_body
from adapters.worker.options import ORIGINAL_BODY, RECEIVE_COUNT, REJECT_REASON, RETURN_TO_QUEUE
from domain.errors import InvalidMessage
from kinds.ai import AIJobBody
from kinds.video import VIDEO, VideoJobBody

CODEC = BodyCodec("video-jobs", Route("process_video", "video-jobs-dlq"), frozenset({"process_video"}))
EXAMPLE = '{"video_id": 42, "file_key": "uploads/7/42/source.mp4", "tenant_id": 7, "created_at": "2026-11-26T06:00:00+00:00"}'


def test_contract_example_decodes_to_the_video_actor_with_the_sqs_message_id():
    message = CODEC.decode(EXAMPLE, "sqs-id-1", 1)
    assert (message.actor_name, message.queue_name, message.message_id) == ("process_video", "video-jobs", "sqs-id-1")
    assert message.kwargs["video_id"] == 42 and message.kwargs["tenant_id"] == 7
    assert message.options[ORIGINAL_BODY] == EXAMPLE and message.options[RECEIVE_COUNT] == 1
    assert REJECT_REASON not in message.options


def test_dramatiq_envelopes_from_retries_still_decode():
    retry = dramatiq.Message("video-jobs", "process_video", (), {"video_id": 1, "file_key": "k"},
                             {ORIGINAL_BODY: EXAMPLE, "retries": 1, RETURN_TO_QUEUE: True}, message_id="m1")
    message = CODEC.decode(b64encode(retry.encode()).decode(), "sqs-id-2", 3)
    assert message.message_id == "m1" and message.options["retries"] == 1
    assert message.options[RECEIVE_COUNT] == 3 and RETURN_TO_QUEUE not in message.options


@pytest.mark.parametrize(
    "body,reason",
    [
        ("", "not valid JSON"),
        ("null", "JSON null, not an object"),
        ("1234", "JSON number, not an object"),
        ('"text"', "JSON string, not an object"),
        ("[" * 100000, "not valid JSON"),
        (b64encode(dramatiq.Message("video-jobs", "other_actor", (), {}, {}).encode()).decode(),
         "actor 'other_actor'"),
    ],
)
def test_bodies_that_are_no_message_become_rejected_messages_with_a_reason(body, reason):
    message = CODEC.decode(body, "sqs-id", 1)
    assert reason in message.options[REJECT_REASON]
    assert message.options[ORIGINAL_BODY] == body and message.kwargs == {}


def test_the_consumer_decodes_only_the_transport_the_actor_parses_the_body_once():
    body = '{"video_id": -1, "file_key": "k", "extra": [1]}'
    message = CODEC.decode(body, "sqs-id", 1)
    assert REJECT_REASON not in message.options and message.kwargs == json.loads(body)
    with pytest.raises(InvalidMessage, match="must be a positive integer"):
        VIDEO.parse(message.kwargs)


def test_an_envelopes_only_queue_refuses_plain_bodies():
    codec = BodyCodec("video-parts", Route(None, "video-parts-dlq"), frozenset({"encode_video_part"}))
    message = codec.decode(EXAMPLE, "sqs-id", 1)
    assert "takes only the worker's own Dramatiq messages" in message.options[REJECT_REASON]
    assert message.options[ORIGINAL_BODY] == EXAMPLE


@pytest.mark.parametrize(
    "body,reason",
    [
        ('{"video_id": true, "file_key": "k"}', "video_id: Input should be a valid integer"),
        ('{"video_id": 1.5, "file_key": "k"}', "video_id: Input should be a valid integer"),
        ('{"video_id": -1, "file_key": "k"}', "must be a positive integer"),
        ('{"video_id": 9223372036854775808, "file_key": "k"}', "fits the table's BIGINT"),
        ('{"video_id": 1, "file_key": 5}', "file_key: Input should be a valid string"),
        ('{"video_id": 1, "file_key": "k", "tenant_id": "7"}', "tenant_id: Input should be a valid integer"),
        ('{"video_id": 1, "file_key": "k", "created_at": 5}', "created_at: must be an ISO-8601 string"),
        ('{"video_id": 1, "file_key": "k", "created_at": "yesterday"}', "created_at"),
        ('{"video_id": 1, "file_key": "' + "a" * 1025 + '"}', "1025 characters"),
    ],
)
def test_bodies_that_break_the_schema_are_invalid_messages_naming_the_field(body, reason):
    with pytest.raises(InvalidMessage) as caught:
        VIDEO.parse(json.loads(body))
    assert caught.value.reason.startswith("invalid message: ") and reason in caught.value.reason


def test_unknown_keys_are_ignored_and_optional_keys_may_be_null():
    parsed = parse_body(VideoJobBody, json.dumps({"video_id": 1, "file_key": "k", "tenant_id": None,
                                                  "created_at": None, "future": {"x": 1}}))
    assert parsed.to_job().tenant_id is None


def test_ai_body_contract_example():
    raw = ('{"job_id": "5f0c2f0e-8d1a-4a52-9a51-0d3c1f1f8b11", "job_type": "ocr", "tenant_id": 7, '
           '"payload": {"file_key": "uploads/7/answers/page-1.png", "lang": "kor+eng"}, '
           '"created_at": "2026-11-26T06:00:00+00:00"}')
    request = parse_body(AIJobBody, raw).to_request()
    assert request.job_type == "ocr" and request.payload["lang"] == "kor+eng"
    with pytest.raises(InvalidMessage, match="payload: Input should be a valid dictionary"):
        parse_body(AIJobBody, raw.replace('{"file_key": "uploads/7/answers/page-1.png", "lang": "kor+eng"}', "[]"))


def test_publisher_emits_plain_json_the_consumer_accepts():
    assert json.loads(video_body(42, "uploads/7/42/source.mp4", 7))["video_id"] == 42
    assert CODEC.decode(video_body(42, "uploads/a.mp4", None), "i", 1).kwargs["tenant_id"] is None
    body = json.loads(ai_body("5f0c2f0e-8d1a-4a52-9a51-0d3c1f1f8b11", "ocr", {"file_key": "a.png"}))
    assert set(body) == {"job_id", "job_type", "tenant_id", "payload", "created_at"}


def test_salvage_id_reads_the_row_id_of_a_rejected_body():
    assert salvage_id('{"video_id": 42, "file_key": "../x"}', "video_id", int) == 42
    assert salvage_id('{"video_id": "42"}', "video_id", int) is None
    assert salvage_id('{"video_id": true}', "video_id", int) is None
    assert salvage_id("{oops", "video_id", int) is None
