"""An operator's Whisper model through the real `dramatiq tasks.video tasks.ai`: downloaded from an S3
prefix at start (every boto3 call allowed by the worker's IAM policy), a transcribe job DONE with it;
a damaged model named in one ERROR line at start and in the FAILED row of its jobs."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.e2e.test_ai_worker import new_job, wait_final
from tests.e2e.test_iam_policy import HOOK, MOTO_ACCOUNT, recorded
from tests.iam_policy import WORKER_POLICY, denied, load_policy
from tests.speech_models import flip_byte, operator_model
from tests.speech_samples import have_espeak, speak

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not have_espeak() and os.environ.get("CI") != "true",  # in CI a missing espeak-ng fails
                                 reason="espeak-ng is not installed (apt-get install espeak-ng)")]
PREFIX = "models/whisper-base-second/"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    return operator_model(tmp_path_factory.mktemp("models") / "whisper-base-second")


def test_a_model_from_an_s3_prefix_transcribes_and_the_iam_policy_allows_its_download(private_stack, start_worker,
                                                                                     shipped, tmp_path):
    stack = private_stack
    for path in shipped.iterdir():
        stack.upload(path, PREFIX + path.name)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK)
    log = tmp_path / "calls.jsonl"
    cache = tmp_path / "cache" / "whisper"
    worker = start_worker(TRANSCRIBE_MODEL=str(cache), TRANSCRIBE_MODEL_S3_PREFIX=PREFIX, BOTO_CALL_LOG=str(log),
                          PYTHONPATH=os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])),
                          ALLOWED_SOURCE_PREFIXES="uploads/")
    stack.upload(speak(tmp_path / "hello.wav", "Hello everyone, and welcome to the lecture."), "uploads/7/hello.wav")
    job_id, body = new_job(stack, "transcribe", {"file_key": "uploads/7/hello.wav", "lang": "en"})
    stack.send(stack.ai_queue, body)
    row = wait_final(stack, job_id, timeout=240)
    assert row["status"] == "DONE", row["error_message"]
    assert "welcome" in row["result"]["text"].lower()
    transcript = json.loads(stack.s3.get_object(Bucket=stack.bucket, Key=f"ai/7/{job_id}/transcript.json")["Body"].read())
    assert transcript["model"] == "whisper-base-second-opinion"  # the operator's model ran, not the pinned base
    assert "Whisper model base-second-opinion (4 files) from the S3 prefix" in worker.output()
    assert "cannot run on this worker" not in worker.output()
    worker.terminate()

    calls = recorded(log)
    fetched = {call.params["Key"] for call in calls if call.params.get("Key", "").startswith(PREFIX)}
    assert {PREFIX + "model-manifest.json", PREFIX + "model.bin", PREFIX + "tokenizer.json"} <= fetched
    values = dict(REGION="us-east-1", ACCOUNT_ID=MOTO_ACCOUNT, VIDEO_QUEUE=stack.video_queue, AI_QUEUE=stack.ai_queue,
                  VIDEO_DLQ=stack.video_dlq, AI_DLQ=stack.ai_dlq, S3_BUCKET=stack.bucket, SOURCE_PREFIX="uploads/",
                  VIDEO_PARTS_QUEUE=stack.parts_queue, VIDEO_PARTS_DLQ=stack.parts_dlq)
    assert denied(load_policy(WORKER_POLICY, **values, MODEL_PREFIX=PREFIX), calls, "us-east-1", MOTO_ACCOUNT) == []
    model_calls = [call for call in calls if call.params.get("Key", "").startswith(PREFIX)]
    assert denied(load_policy(WORKER_POLICY, **values, MODEL_PREFIX="models/other/"), model_calls, "us-east-1",
                  MOTO_ACCOUNT)  # the ReadTranscribeModel grant is what allows them


def test_a_damaged_model_is_named_at_start_and_its_jobs_fail_with_the_reason(private_stack, start_worker, shipped,
                                                                           tmp_path):
    import shutil

    stack = private_stack
    model = shutil.copytree(shipped, tmp_path / "whisper-medium")
    flip_byte(model / "model.bin", 1_000_000)
    worker = start_worker(TRANSCRIBE_MODEL=str(model), MAX_RETRIES="1", MIN_BACKOFF_MS="200")
    stack.wait_for(lambda: "cannot run on this worker" in worker.output(), 90, "the start-up report")
    errors = [line for line in worker.output().splitlines() if "cannot run on this worker" in line]
    assert len(errors) == 1 and "ERROR" in errors[0], errors
    assert (f"the transcribe engine cannot run on this worker: refusing the Whisper model in {model}: "
            "model.bin has sha256 ") in errors[0]

    stack.upload(speak(tmp_path / "hello.wav", "Hello everyone."), "uploads/7/hello.wav")
    job_id, body = new_job(stack, "transcribe", {"file_key": "uploads/7/hello.wav", "lang": "en"})
    stack.send(stack.ai_queue, body)
    row = wait_final(stack, job_id, timeout=120)
    assert row["status"] == "FAILED"
    assert re.fullmatch(  # retried as an engine this worker cannot run, then FAILED with why
        rf"gave up after \d attempts: the transcribe engine cannot run on this worker: refusing the Whisper model "
        rf"in {re.escape(str(model))}: model\.bin has sha256 [0-9a-f]{{12}}\.\.\., its manifest pins 905e5bf8336b\.\.\.",
        row["error_message"]), row["error_message"]
