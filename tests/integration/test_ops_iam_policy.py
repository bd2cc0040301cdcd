"""Every boto3 call the ops tools make is allowed by deploy/iam-ops-policy.json: recorded
from the real Ops (dashboard and CLI share it) against moto's server, not listed by hand."""

from __future__ import annotations

from adapters.sqs.dead_letter import dead_letter_attributes
from ops.preview import open_output, output_key
from ops.service import Ops
from settings import Settings
from tests.e2e.stack import Stack
from tests.iam_policy import OPS_POLICY, Call, denied, load_policy
from tests.services import POSTGRES_URL, REDIS_URL

MOTO_ACCOUNT = "123456789012"


def recording(client, calls: list[Call]):
    def record(params, model, **_):
        calls.append(Call(model.service_model.service_name, model.name, dict(params)))

    client.meta.events.register("before-parameter-build.*.*", record)
    return client


def test_the_ops_policy_allows_every_call_of_status_dead_letters_enqueue_and_outputs(moto, pg_database, tables):
    stack = Stack(moto, pg_database, tables)
    for index in range(3):
        stack.sqs.send_message(
            QueueUrl=stack.url(stack.video_dlq), MessageBody=f'{{"video_id": {index}}}',
            MessageAttributes=dead_letter_attributes(reason="bad", receive_count=1, source_queue=stack.video_queue,
                                                     message_id=f"m{index}"),
        )
    stack.s3.put_object(Bucket=stack.bucket, Key="videos/7/42/hls/master.m3u8", Body=b"#EXTM3U\n")
    settings = Settings(
        broker="sqs", video_queue=stack.video_queue, ai_queue=stack.ai_queue,
        video_parts_queue=stack.parts_queue, video_parts_dlq=stack.parts_dlq, s3_bucket=stack.bucket,
        database_url=POSTGRES_URL, redis_url=REDIS_URL, video_table=tables["video"].name, ai_job_table=tables["ai"].name,
    )
    calls: list[Call] = []
    ops = Ops(settings, sqs=recording(moto.client("sqs"), calls), s3=recording(moto.client("s3"), calls))

    ops.status()
    letters = ops.queues.dead_letters(stack.video_queue)
    assert ops.queues.redrive(stack.video_queue, [letters[0].id]) == 1
    assert ops.queues.delete(stack.video_queue, [letters[1].id]) == 1
    assert ops.queues.delete(stack.ai_queue) == 0  # purge of an empty queue
    assert ops.queues.redrive(stack.video_queue) == 1  # redrive all
    ops.enqueue("video", {"video_id": 42, "file_key": "uploads/7/42/source.mp4", "tenant_id": 7})
    ops.enqueue("ai", {"job_id": "5f0c2f0e-8d1a-4a52-9a51-0d3c1f1f8b11", "job_type": "ocr",
                       "payload": {"file_key": "uploads/7/p.png"}, "tenant_id": 7})
    assert [item["key"] for item in ops.outputs("video", {"id": 42, "tenant_id": 7})] == ["videos/7/42/hls/master.m3u8"]
    ops.outputs("ai", {"id": "5f0c2f0e-8d1a-4a52-9a51-0d3c1f1f8b11", "tenant_id": None})
    key = output_key(ops.output_prefix("video", {"id": 42, "tenant_id": 7}), "hls/master.m3u8")
    assert open_output(ops.s3, stack.bucket, key).body.read() == b"#EXTM3U\n"  # the job page's preview

    operations = {call.operation for call in calls}
    assert {"GetQueueUrl", "GetQueueAttributes", "ReceiveMessage", "ChangeMessageVisibilityBatch", "DeleteMessage",
            "SendMessage", "ListObjectsV2", "GetObject"} <= operations, operations
    policy = load_policy(
        OPS_POLICY, REGION="us-east-1", ACCOUNT_ID=MOTO_ACCOUNT, VIDEO_QUEUE=stack.video_queue,
        AI_QUEUE=stack.ai_queue, VIDEO_DLQ=stack.video_dlq, AI_DLQ=stack.ai_dlq, S3_BUCKET=stack.bucket,
        VIDEO_PARTS_QUEUE=stack.parts_queue, VIDEO_PARTS_DLQ=stack.parts_dlq,
    )
    assert denied(policy, calls, "us-east-1", MOTO_ACCOUNT) == []
