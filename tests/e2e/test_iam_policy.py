"""Every boto3 call a real worker makes is allowed by deploy/iam-worker-policy.json.

The worker runs exactly as the Procfile starts it, with a sitecustomize module that
hooks boto3's default session (botocore's ``before-parameter-build`` event, which sees
the API parameters) and appends each call to a file. The jobs cover success, a missing
source, a transcription (which first looks for files an earlier attempt saved), a transient
failure retried and then dead-lettered, the heartbeat, and SIGTERM.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import uuid

import pytest

from adapters.sqs.publisher import ai_body, video_body
from kinds.video_parts import PARTS_DLQ, PARTS_QUEUE
from tests.conftest import insert_ai_job, insert_video
from tests.e2e.stack import WorkerProcess
from tests.iam_policy import WORKER_POLICY, Call, denied, load_policy
from tests.speech_samples import silence

pytestmark = pytest.mark.e2e
ids = itertools.count(random.randrange(10**6, 10**9))
MOTO_ACCOUNT = "123456789012"

HOOK = '''
import json, os
import boto3

_LOG = os.environ["BOTO_CALL_LOG"]
_KEEP = ("QueueName", "QueueUrl", "Bucket", "Key", "Prefix", "Delete")


def _record(params, model, **_):
    entry = {"service": model.service_model.service_name, "operation": model.name,
             "params": {k: v for k, v in params.items() if k in _KEEP}}
    with open(_LOG, "a") as log:
        log.write(json.dumps(entry) + "\\n")


boto3.setup_default_session()
boto3.DEFAULT_SESSION.events.register("before-parameter-build.*.*", _record)
'''


def recorded(path) -> list[Call]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [Call(**json.loads(line)) for line in lines]


def test_the_worker_policy_allows_every_call_a_real_worker_makes(private_stack, sample_video, tmp_path):
    stack = private_stack
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(HOOK)
    log = tmp_path / "calls.jsonl"
    env = stack.env(
        PYTHONPATH=os.pathsep.join(filter(None, [str(hook_dir), os.environ.get("PYTHONPATH")])),
        BOTO_CALL_LOG=str(log), ALLOWED_SOURCE_PREFIXES="uploads/", MAX_RETRIES="1",
        HEARTBEAT_SECONDS="1", LOCK_TTL_SECONDS="10", VISIBILITY_TIMEOUT_SECONDS="10",
    )
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        ready = next(ids)
        key = f"uploads/7/{ready}/source.mp4"
        stack.upload(sample_video, key)
        insert_video(stack.database, stack.tables["video"], ready, key)
        stack.send(stack.video_queue, video_body(ready, key, 7))

        missing = next(ids)
        insert_video(stack.database, stack.tables["video"], missing, f"uploads/7/{missing}/gone.mp4")
        stack.send(stack.video_queue, video_body(missing, f"uploads/7/{missing}/gone.mp4", 7))

        # A transcription first looks for the files an earlier attempt of the job saved (GetObject on ai/).
        transcribed = str(uuid.uuid4())
        audio = silence(tmp_path / "quiet.ogg", seconds=2)
        stack.upload(audio, f"uploads/7/{transcribed}.ogg")
        payload = {"file_key": f"uploads/7/{transcribed}.ogg"}
        insert_ai_job(stack.database, stack.tables["ai"], transcribed, "transcribe", payload)
        stack.send(stack.ai_queue, ai_body(transcribed, "transcribe", payload, 7))

        # Times out (transient), is retried once through the queue, then fails and is dead-lettered.
        hung = str(uuid.uuid4())
        insert_ai_job(stack.database, stack.tables["ai"], hung, "test_hang", {})
        stack.send(stack.ai_queue, ai_body(hung, "test_hang", {}, 7))

        assert stack.wait_status(ready, "READY", "FAILED", timeout=120)["status"] == "READY", worker.output()
        assert stack.wait_status(missing, "READY", "FAILED")["status"] == "FAILED"
        stack.wait_for(lambda: stack.ai_job(hung)["status"] == "FAILED", 60, "the hung AI job to fail")
        stack.wait_for(lambda: stack.ai_job(transcribed)["status"] == "DONE", 120, "the transcription to be done")
        assert stack.dead_letters(stack.ai_dlq, 1) and stack.dead_letters(stack.video_dlq, 1)

        # SIGTERM while a job runs: its message is returned to the queue.
        interrupted = str(uuid.uuid4())
        insert_ai_job(stack.database, stack.tables["ai"], interrupted, "test_hang", {})
        stack.send(stack.ai_queue, ai_body(interrupted, "test_hang", {}, 7))
        stack.wait_for(lambda: stack.ai_job(interrupted)["status"] == "PROCESSING", 30, "the job to start")
    finally:
        worker.terminate()

    calls = recorded(log)
    assert any(call.params.get("Key") == f"ai/7/{transcribed}/transcript.json" for call in calls)
    operations = {call.operation for call in calls}
    assert {"GetQueueUrl", "ReceiveMessage", "DeleteMessage", "SendMessage", "ChangeMessageVisibilityBatch",
            "HeadObject", "GetObject", "PutObject"} <= operations, operations
    assert "CreateQueue" not in operations  # the queues exist, as in production
    policy = load_policy(
        WORKER_POLICY, REGION="us-east-1", ACCOUNT_ID=MOTO_ACCOUNT, VIDEO_QUEUE=stack.video_queue,
        AI_QUEUE=stack.ai_queue, VIDEO_DLQ=stack.video_dlq, AI_DLQ=stack.ai_dlq, S3_BUCKET=stack.bucket,
        SOURCE_PREFIX="uploads/", VIDEO_PARTS_QUEUE=env.get("VIDEO_PARTS_QUEUE", PARTS_QUEUE.default),
        VIDEO_PARTS_DLQ=env.get("VIDEO_PARTS_DLQ", PARTS_DLQ.default), MODEL_PREFIX="models/whisper-medium/",
    )
    assert denied(policy, calls, "us-east-1", MOTO_ACCOUNT) == []
