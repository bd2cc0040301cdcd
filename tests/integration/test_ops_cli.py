"""`python -m ops` as operators run it: a subprocess, configured by the environment."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from adapters.redis.presence import WorkerRegistry
from tests.conftest import insert_video
from tests.e2e.stack import Stack
from tests.ops_site import video_ids
from tests.services import ROOT, unique


@pytest.fixture
def cli_stack(moto, pg_database, tables):
    return Stack(moto, pg_database, tables)


def ops(stack: Stack, *args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=ROOT, env=env or stack.env(), input=stdin, capture_output=True, text=True, timeout=60,
    )


def dead_letter(stack: Stack, body: str, reason: str) -> None:
    stack.sqs.send_message(
        QueueUrl=stack.url(stack.video_dlq),
        MessageBody=body,
        MessageAttributes={
            "reason": {"DataType": "String", "StringValue": reason},
            "receive_count": {"DataType": "Number", "StringValue": "1"},
            "dead_lettered_at": {"DataType": "String", "StringValue": "2026-11-26T06:00:00+00:00"},
        },
    )


def test_status_reports_queues_jobs_and_workers(cli_stack):
    stack = cli_stack
    insert_video(stack.database, stack.tables["video"], 1, "uploads/1.mp4", status="FAILED")
    stack.send(stack.video_queue, "{}")
    dead_letter(stack, '{"video_id": 0}', "video_id: must be greater than 0")
    worker_id = unique("dyno-")
    WorkerRegistry(stack.redis).beat(
        worker_id, host="worker.1", pid=4242, queues=[stack.video_queue],
        in_flight=[{"job": "video 1", "actor": "process_video", "message_id": "m", "since": 0}], started_at="t0",
    )

    result = ops(stack, "status", "--json")
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    video = next(q for q in status["queues"] if q["name"] == stack.video_queue)
    assert (video["visible"], video["dead_letters"], video["dead_letter_queue"]) == (1, 1, stack.video_dlq)
    assert status["jobs"]["video"]["FAILED"] == 1
    assert any(w["worker_id"] == worker_id and w["in_flight"][0]["job"] == "video 1" for w in status["workers"])

    text = ops(stack, "status")
    assert text.returncode == 0
    assert stack.video_queue in text.stdout and "FAILED 1" in text.stdout and worker_id in text.stdout


def test_dlq_list_show_redrive_and_purge(cli_stack):
    stack = cli_stack
    bodies = ['{"video_id": 0}', "\u00e9 not json"]
    for body in bodies:
        dead_letter(stack, body, "bad body")

    listed = json.loads(ops(stack, "dlq", "list", "video", "--json").stdout)
    assert sorted(item["body"] for item in listed) == sorted(bodies)
    assert {item["reason"] for item in listed} == {"bad body"}
    target = next(item for item in listed if item["body"] == bodies[1])

    shown = ops(stack, "dlq", "show", "video", target["id"])
    assert shown.returncode == 0 and bodies[1] in shown.stdout and "reason:           bad body" in shown.stdout

    refused = ops(stack, "dlq", "redrive", "video", target["id"])  # no terminal, no --yes
    assert refused.returncode == 1 and "not confirmed" in refused.stderr
    assert len(json.loads(ops(stack, "dlq", "list", "video", "--json").stdout)) == 2

    done = ops(stack, "dlq", "redrive", "video", target["id"], "--yes", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["count"] == 1
    (back,) = stack.sqs.receive_message(QueueUrl=stack.url(stack.video_queue), WaitTimeSeconds=1)["Messages"]
    assert back["Body"] == bodies[1]

    missing = ops(stack, "dlq", "delete", "video", target["id"], "--yes")
    assert missing.returncode == 1 and f"no dead letter {target['id']}" in missing.stderr

    purged = ops(stack, "dlq", "purge", stack.video_queue, "--yes")
    assert purged.returncode == 0 and "1 dead letter(s)" in purged.stdout
    assert json.loads(ops(stack, "dlq", "list", "video", "--json").stdout) == []


def test_enqueue_publishes_the_api_bodies(cli_stack):
    stack = cli_stack
    result = ops(stack, "enqueue", "video", "42", "uploads/7/42/source.mp4", "--tenant", "7", "--json")
    assert result.returncode == 0, result.stderr
    payload = '{"file_key": "uploads/7/a.png", "lang": "eng"}'
    assert ops(stack, "enqueue", "ai", "5f0c2f0e-8d1a-4a52-9a51-0d3c1f1f8b11", "ocr", "--payload", payload).returncode == 0

    (video,) = stack.sqs.receive_message(QueueUrl=stack.url(stack.video_queue), WaitTimeSeconds=1)["Messages"]
    assert video["MessageId"] == json.loads(result.stdout)["message_id"]
    body = json.loads(video["Body"])
    assert (body["video_id"], body["file_key"], body["tenant_id"]) == (42, "uploads/7/42/source.mp4", 7)
    assert "created_at" in body
    (ai,) = stack.sqs.receive_message(QueueUrl=stack.url(stack.ai_queue), WaitTimeSeconds=1)["Messages"]
    assert json.loads(ai["Body"])["payload"] == json.loads(payload)


def test_progress_and_jobs(cli_stack):
    stack = cli_stack
    insert_video(stack.database, stack.tables["video"], 5, "uploads/5.mp4", status="FAILED")
    absent = ops(stack, "progress", "video", "5")
    assert absent.returncode == 1 and "no progress recorded for video 5" in absent.stderr

    job = str(next(video_ids))
    key = f"progress:video:{job}"
    stack.redis.hset(key, mapping={"step": "failed", "percent": "40", "message": "no audio", "updated_at": "2026-11-26T06:00:00"})
    shown = ops(stack, "progress", "video", job, "--json")
    assert json.loads(shown.stdout)["step"] == "failed"
    followed = ops(stack, "progress", "video", job, "--follow", "--timeout", "5")
    assert followed.returncode == 1 and "failed" in followed.stdout  # ends at once, non-zero: the job failed

    jobs = ops(stack, "jobs", "video", "--status", "failed", "--json")
    assert [row["id"] for row in json.loads(jobs.stdout)] == [5]
    bad = ops(stack, "jobs", "video", "--status", "lost")
    assert bad.returncode == 1 and "unknown status 'lost'" in bad.stderr


def test_errors_are_one_clear_line_and_a_non_zero_exit(cli_stack):
    stack = cli_stack
    usage = ops(stack, "dlq", "redrive")
    assert usage.returncode == 2
    config = ops(stack, "status", env=stack.env(BROKER="rabbit"))
    assert config.returncode == 2 and config.stderr.startswith("invalid configuration: BROKER")
    missing = ops(stack, "status", env=stack.env(VIDEO_QUEUE=unique("nowhere-")))
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1].startswith("error: SQS queue 'nowhere-")
    nothing = ops(stack, "dlq", "redrive", "ai", "--yes")
    assert nothing.returncode == 1 and "or pass --all" in nothing.stderr


def test_with_the_redis_broker_enqueue_and_status_use_dramatiqs_keys(cli_stack):
    stack = cli_stack
    env = stack.env(BROKER="redis")
    try:
        sent = ops(stack, "enqueue", "video", "7", "uploads/7.mp4", "--json", env=env)
        assert sent.returncode == 0, sent.stderr
        message_id = json.loads(sent.stdout)["message_id"]
        (stored,) = stack.redis.hvals(f"dramatiq:{stack.video_queue}.msgs")
        message = json.loads(stored)
        assert (message["message_id"], message["actor_name"]) == (message_id, "process_video")
        assert (message["kwargs"]["video_id"], message["kwargs"]["file_key"]) == (7, "uploads/7.mp4")

        status = json.loads(ops(stack, "status", "--json", env=env).stdout)
        video = next(q for q in status["queues"] if q["name"] == stack.video_queue)
        assert (video["visible"], video["in_flight"], video["dead_letters"]) == (1, 0, 0)
        assert video["dead_letter_queue"] == f"{stack.video_queue}.XQ"
        assert json.loads(ops(stack, "dlq", "list", "video", "--json", env=env).stdout) == []
    finally:
        stack.redis.delete(*stack.redis.keys(f"dramatiq:{stack.video_queue}*"))
