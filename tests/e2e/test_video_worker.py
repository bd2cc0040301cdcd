"""The video job end to end: plain-JSON body on SQS -> real worker -> READY row, HLS in S3."""

from __future__ import annotations

import io
import itertools
import json
import random
import uuid

import av
import pytest

from adapters.sqs.publisher import ai_body, video_body
from tests.conftest import insert_ai_job, insert_video

pytestmark = pytest.mark.e2e
ids = itertools.count(random.randrange(10**6, 10**9))  # unique across runs: Redis keeps progress 24 h


def object_keys(stack, prefix):
    listed = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def new_video(stack, path, *, status="UPLOADED", tenant_id=7):
    video_id = next(ids)
    key = f"uploads/{tenant_id}/{video_id}/source.mp4"
    if path is not None:
        stack.upload(path, key)
    insert_video(stack.database, stack.tables["video"], video_id, key, status=status, tenant_id=tenant_id)
    return video_id, key


def test_video_becomes_ready_with_hls_ladder_thumbnail_and_progress(stack, worker, sample_video):
    video_id, key = new_video(stack, sample_video)
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    row = stack.wait_status(video_id, "READY", "FAILED")
    assert row["status"] == "READY", row["error_reason"]
    prefix = f"videos/7/{video_id}"
    assert row["hls_path"] == f"{prefix}/hls/master.m3u8"
    assert row["thumbnail_key"] == f"{prefix}/thumbnail.jpg"
    assert 2.9 <= row["duration_seconds"] <= 3.2
    assert row["processing_started_at"] is not None and row["error_reason"] is None

    master = stack.s3.get_object(Bucket=stack.bucket, Key=row["hls_path"])
    assert master["ContentType"] == "application/vnd.apple.mpegurl"
    master_text = master["Body"].read().decode()
    variants = [line for line in master_text.splitlines() if line and not line.startswith("#")]
    # 720p is above the 360p source; the audio-only variant comes last.
    assert variants == ["240p/index.m3u8", "360p/index.m3u8", "audio/index.m3u8"]
    assert '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio"' in master_text and 'URI="audio/index.m3u8"' in master_text
    keys = object_keys(stack, prefix)
    assert not [k for k in keys if "/720p/" in k]
    for rendition, height in (("240p", 240), ("360p", 360)):
        segments = [k for k in keys if k.startswith(f"{prefix}/hls/{rendition}/") and k.endswith(".ts")]
        assert len(segments) == 2  # 3 s in 2 s segments
        segment = stack.s3.get_object(Bucket=stack.bucket, Key=segments[0])
        assert segment["ContentType"] == "video/mp2t"
        with av.open(io.BytesIO(segment["Body"].read())) as container:
            video = container.streams.video[0]
            assert video.codec_context.name == "h264" and video.codec_context.height == height
            assert not container.streams.audio  # the audio is encoded once, in hls/audio/
            assert next(container.decode(video=0)).height == height  # it plays
    audio = [k for k in keys if k.startswith(f"{prefix}/hls/audio/") and k.endswith(".ts")]
    with av.open(io.BytesIO(stack.s3.get_object(Bucket=stack.bucket, Key=audio[0])["Body"].read())) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    storyboard = stack.s3.get_object(Bucket=stack.bucket, Key=f"{prefix}/storyboard.vtt")
    assert storyboard["ContentType"] == "text/vtt"
    vtt = storyboard["Body"].read().decode()
    assert vtt.startswith("WEBVTT") and "00:00:00.000 --> 00:00:03." in vtt
    assert "storyboard/sprite_000.jpg#xywh=0,0,160,90" in vtt
    sprite = stack.s3.get_object(Bucket=stack.bucket, Key=f"{prefix}/storyboard/sprite_000.jpg")
    assert sprite["ContentType"] == "image/jpeg" and sprite["Body"].read()[:2] == b"\xff\xd8"
    thumb = stack.s3.get_object(Bucket=stack.bucket, Key=row["thumbnail_key"])
    assert thumb["ContentType"] == "image/jpeg" and thumb["Body"].read()[:2] == b"\xff\xd8"

    progress = stack.redis.hgetall(f"progress:video:{video_id}")
    assert progress["step"] == "done" and progress["percent"] == "100" and progress["updated_at"]
    assert 0 < stack.redis.ttl(f"progress:video:{video_id}") <= 86400
    assert stack.redis.exists(f"lock:video:{video_id}") == 0
    stack.wait_for(lambda: stack.depth(stack.video_queue) == 0, 30, "the message to be acked")
    assert stack.depth(stack.video_dlq) == 0


def test_source_without_audio_below_the_lowest_rung(stack, worker, silent_video):
    video_id, key = new_video(stack, silent_video, tenant_id=None)
    stack.send(stack.video_queue, video_body(video_id, key, None))
    row = stack.wait_status(video_id, "READY", "FAILED")
    assert row["status"] == "READY", row["error_reason"]
    assert row["hls_path"] == f"videos/shared/{video_id}/hls/master.m3u8"
    master = stack.s3.get_object(Bucket=stack.bucket, Key=row["hls_path"])["Body"].read().decode()
    assert [line for line in master.splitlines() if line.endswith(".m3u8")] == ["180p/index.m3u8"]
    assert "TYPE=AUDIO" not in master and "mp4a" not in master  # no audio group, no audio-only variant
    keys = object_keys(stack, f"videos/shared/{video_id}")
    assert not [k for k in keys if "/hls/audio/" in k]
    assert f"videos/shared/{video_id}/storyboard.vtt" in keys


def test_ready_row_message_is_acked_without_reprocessing(stack, worker, sample_video):
    video_id, key = new_video(stack, sample_video, status="READY")
    before = stack.video(video_id)
    stack.send(stack.video_queue, video_body(video_id, key, 7))
    stack.wait_for(lambda: stack.depth(stack.video_queue) == 0, 30, "the message to be acked")
    assert stack.video(video_id) == before  # not even updated_at moved
    assert object_keys(stack, f"videos/7/{video_id}") == []
    assert stack.redis.exists(f"progress:video:{video_id}") == 0
    assert stack.depth(stack.video_dlq) == 0


def assert_dead_lettered(stack, queue, body, reason):
    letters = [m for m in stack.dead_letters(queue, 1) if m["Body"] == body]
    assert letters, f"{body!r} was not dead-lettered"
    attributes = letters[0]["MessageAttributes"]
    assert reason in attributes["reason"]["StringValue"]
    assert attributes["dead_lettered_at"]["StringValue"] and attributes["receive_count"]["StringValue"]
    stack.sqs.delete_message(QueueUrl=stack.url(queue), ReceiptHandle=letters[0]["ReceiptHandle"])
    return attributes


@pytest.mark.parametrize(
    "body,reason",
    [
        ("{this is not json", "the body is not valid JSON"),
        ('{"file_key": "uploads/x.mp4"}', "required key 'video_id' is missing"),
        ("\u00ff\u00fe binary-ish", "invalid message"),
    ],
)
def test_undecodable_bodies_are_dead_lettered_with_a_reason(stack, worker, body, reason):
    stack.send(stack.video_queue, body)
    assert_dead_lettered(stack, stack.video_dlq, body, reason)


def test_unsafe_file_key_fails_the_row_and_dead_letters(stack, worker):
    video_id, _ = new_video(stack, None)
    body = video_body(video_id, "uploads/../../etc/passwd", 7)
    stack.send(stack.video_queue, body)
    row = stack.wait_status(video_id, "FAILED")
    assert row["error_reason"] == "invalid message: file_key: must not contain a '..' segment"
    assert_dead_lettered(stack, stack.video_dlq, body, "'..' segment")


def test_missing_source_fails_permanently(stack, worker):
    video_id, key = new_video(stack, None)
    body = video_body(video_id, key, 7)
    stack.send(stack.video_queue, body)
    row = stack.wait_status(video_id, "FAILED")
    assert "does not exist" in row["error_reason"]
    attributes = assert_dead_lettered(stack, stack.video_dlq, body, "does not exist")
    assert attributes["receive_count"]["StringValue"] == "1"  # permanent: never retried
    assert stack.redis.hgetall(f"progress:video:{video_id}")["step"] == "failed"


def test_not_a_video_fails_permanently(stack, worker, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("this is a text file, not a video\n" * 100)
    video_id, key = new_video(stack, text)
    body = video_body(video_id, key, 7)
    stack.send(stack.video_queue, body)
    row = stack.wait_status(video_id, "FAILED")
    assert "not" in row["error_reason"] and "Traceback" not in row["error_reason"]
    assert "/tmp" not in row["error_reason"]
    assert_dead_lettered(stack, stack.video_dlq, body, row["error_reason"])
    assert stack.redis.exists(f"lock:video:{video_id}") == 0


def test_unknown_video_row_is_dead_lettered(stack, worker):
    body = video_body(987654321, "uploads/none.mp4", 7)
    stack.send(stack.video_queue, body)
    assert_dead_lettered(stack, stack.video_dlq, body, "video 987654321 does not exist")


def test_transient_failures_retry_then_fail_row_and_dead_letter_original(private_stack, start_worker, sample_video):
    stack = private_stack
    video_id, body = stack.send_video(sample_video)
    # S3 unreachable for this worker: every attempt fails transiently.
    start_worker(S3_ENDPOINT_URL="http://127.0.0.1:9", MAX_RETRIES="1", MIN_BACKOFF_MS="200")
    row = stack.wait_status(video_id, "FAILED", timeout=120)
    assert row["error_reason"].startswith("gave up after 2 attempts: S3 read failed")
    assert_dead_lettered(stack, stack.video_dlq, body, "gave up after 2 attempts")


def test_a_message_that_keeps_killing_workers_is_dead_lettered(private_stack, start_worker, sample_video):
    stack = private_stack
    video_id, body = stack.send_video(sample_video)
    for _ in range(2):  # two workers died holding it
        assert stack.sqs.receive_message(QueueUrl=stack.url(stack.video_queue), VisibilityTimeout=0,
                                         WaitTimeSeconds=5)["Messages"]
    start_worker(MAX_RECEIVE_COUNT="2")
    row = stack.wait_status(video_id, "FAILED")
    assert "delivered 3 times (limit 2)" in row["error_reason"]
    assert_dead_lettered(stack, stack.video_dlq, body, "delivered 3 times")


def test_ai_job_without_engine_fails_with_reason_and_dead_letters(stack, worker):
    job_id = str(uuid.uuid4())
    insert_ai_job(stack.database, stack.tables["ai"], job_id, "speech", {"file_key": "a.wav"})
    body = ai_body(job_id, "speech", {"file_key": "a.wav"}, 7)
    stack.send(stack.ai_queue, body)
    row = stack.wait_for(lambda: (r := stack.ai_job(job_id))["status"] == "FAILED" and r, 60, "AI job FAILED")
    assert row["error_message"] == "no engine is registered for job_type 'speech'"
    assert_dead_lettered(stack, stack.ai_dlq, body, "no engine is registered for job_type 'speech'")


def test_invalid_ai_body_is_dead_lettered(stack, worker):
    body = json.dumps({"job_id": "not-a-uuid", "job_type": "ocr", "payload": {}})
    stack.send(stack.ai_queue, body)
    assert_dead_lettered(stack, stack.ai_dlq, body, "job_id: must be a UUID")
