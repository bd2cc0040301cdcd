"""A third kind of job, declared in tests/toy_kind.py only, through everything a kind goes through.

JOB_KIND_MODULES=tests.toy_kind adds it: the real ``dramatiq tasks.video tasks.ai`` runs it on moto's
SQS and on the Redis broker, ``python -m ops`` and the dashboard show and act on it. No production
module names it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest
import redis as redis_lib
from sqlalchemy import insert, select

from adapters.sqs.publisher import json_body
from ops.service import Ops
from ops.web import create_app
from tests.e2e.stack import Stack, WorkerProcess
from tests.ops_site import Site, settings_for
from tests.services import REDIS_URL, ROOT, fresh_tables, unique

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def toy(moto, pg_database):
    tables = fresh_tables(("tests.toy_kind",))
    tables.create(pg_database)
    stack = Stack(moto, pg_database, tables)
    queue = unique("document-jobs-")
    for name in (queue, f"{queue}-dlq"):
        stack.sqs.create_queue(QueueName=name)
    overrides = {"JOB_KIND_MODULES": "tests.toy_kind", "DOCUMENT_QUEUE": queue,
                 "DOCUMENT_TABLE": tables["document"].name}
    yield stack, queue, overrides
    tables.metadata.drop_all(pg_database)


def add_document(stack: Stack, doc_id: int, file_key: str, text: bytes | None) -> None:
    """What the API would do: the row, and the uploaded file."""
    if text is not None:
        stack.s3.put_object(Bucket=stack.bucket, Key=file_key, Body=text)
    now = datetime.now(timezone.utc)
    with stack.database.begin() as connection:
        connection.execute(insert(stack.tables["document"]).values(
            id=doc_id, tenant_id=7, file_key=file_key, status="PENDING", created_at=now, updated_at=now))


def document(stack: Stack, doc_id: int) -> dict:
    table = stack.tables["document"]
    with stack.database.connect() as connection:
        return dict(connection.execute(select(table).where(table.c.id == doc_id)).mappings().one())


def wait_final(stack: Stack, doc_id: int) -> dict:
    return stack.wait_for(lambda: (row := document(stack, doc_id))["status"] in ("COUNTED", "FAILED") and row, 90,
                          f"document {doc_id}")


def ops(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ops", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_a_third_kind_runs_on_sqs_and_the_ops_tools_show_and_act_on_it(toy, tmp_path, monkeypatch):
    stack, queue, overrides = toy
    env = stack.env(**overrides)
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        add_document(stack, 1, "uploads/7/essay.txt", "한국어 문장 and five English words".encode())
        stack.send(queue, json_body({"doc_id": 1, "file_key": "uploads/7/essay.txt", "tenant_id": 7}))
        add_document(stack, 2, "uploads/7/binary.txt", b"\xff\xfe\x00 not text")
        stack.send(queue, json_body({"doc_id": 2, "file_key": "uploads/7/binary.txt", "tenant_id": 7}))
        stack.send(queue, '{"doc_id": 0, "file_key": "uploads/7/x.txt"}')
        row = wait_final(stack, 1)
        assert (row["status"], row["words"], row["error"]) == ("COUNTED", 6, None)
        assert row["begun_at"] and row["ended_at"]
        assert stack.redis.hgetall("progress:document:1")["step"] == "done"
        failed = wait_final(stack, 2)
        assert (failed["status"], failed["error"]) == ("FAILED", "the document is not UTF-8 text")
        letters = stack.dead_letters(f"{queue}-dlq", expect=2)
        reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in letters)
        assert reasons == ["invalid message: doc_id: must be a positive integer that fits the table's BIGINT",
                           "the document is not UTF-8 text"]
        for message in letters:  # back where the ops tools will look for them
            stack.sqs.change_message_visibility(QueueUrl=stack.url(f"{queue}-dlq"),
                                                ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        assert stack.redis.exists("lock:document:1") == 0
    finally:
        worker.terminate()
    finished = [json.loads(line) for line in worker.output().splitlines()
                if line.startswith("{") and '"job finished"' in line]
    assert {(line.get("job_type"), line.get("job_id"), line.get("outcome")) for line in finished} >= {
        ("document", "1", "completed"), ("document", "2", "failed")}  # the kind's own metrics/log label

    # The command line, from the same environment.
    status = json.loads(ops(env, "status", "--json").stdout)
    (entry,) = [q for q in status["queues"] if q["name"] == queue]
    assert entry["dead_letter_queue"] == f"{queue}-dlq" and entry["dead_letters"] == 2
    assert status["jobs"]["document"] == {"PENDING": 0, "PROCESSING": 0, "COUNTED": 1, "FAILED": 1}
    rows = json.loads(ops(env, "jobs", "document", "--status", "counted", "--json").stdout)
    assert [(r["id"], r["words"]) for r in rows] == [(1, 6)]
    assert "words" in ops(env, "jobs", "document").stdout  # the kind's own column
    assert json.loads(ops(env, "progress", "document", "1", "--json").stdout)["step"] == "done"
    listed = json.loads(ops(env, "dlq", "list", "document", "--json").stdout)
    assert len(listed) == 2 and {letter["queue"] for letter in listed} == {queue}
    refused = ops(env, "enqueue", "document", "-4", "uploads/7/a.txt")
    assert refused.returncode == 1 and "doc_id: must be a positive integer" in refused.stderr
    sent = ops(env, "enqueue", "document", "3", "uploads/7/third.txt", "--tenant", "7", "--json")
    assert sent.returncode == 0, sent.stderr
    assert stack.depth(queue) == 1

    # The dashboard, built as gunicorn builds it, from the same environment.
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)
    settings = settings_for(stack, job_kind_modules="tests.toy_kind")
    site_ops = Ops(settings, sqs=stack.sqs, s3=stack.s3, redis=redis_lib.Redis.from_url(REDIS_URL),
                   database=stack.database)
    app = create_app(settings, site_ops)
    site = Site(stack, app, app.test_client(), site_ops)
    overview = site.get("/").text
    assert f"<code>{queue}</code> <span class=\"muted\">(document)</span>" in overview
    assert 'href="/jobs/document/">Documents</a>' in overview and 'data-kind="document" data-status="COUNTED"' in overview
    listing = site.get("/jobs/document/?status=COUNTED").text
    assert '<tr data-job-id="1">' in listing and "<th>words</th>" in listing
    page = site.get("/jobs/document/1").text
    assert "Document <code>1</code>" in page and 'id="progress-step">done<' in page
    assert "s3://" in page and "documents/7/1/" in page
    letters = site.get(f"/queues/document/dead-letters/").text
    assert "doc_id: must be a positive integer" in letters and f"{queue}-dlq" in letters
    assert site.get("/jobs/document/not-a-number").status_code == 404


def test_a_third_kind_runs_on_the_redis_broker(toy, tmp_path):
    stack, queue, overrides = toy
    env = stack.env(BROKER="redis", **overrides)
    add_document(stack, 11, "uploads/7/short.txt", b"three small words")
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        sent = ops(env, "enqueue", "document", "11", "uploads/7/short.txt", "--tenant", "7")
        assert sent.returncode == 0, sent.stderr
        row = wait_final(stack, 11)
        assert (row["status"], row["words"]) == ("COUNTED", 3)
        status = json.loads(ops(env, "status", "--json").stdout)
        assert [q["dead_letter_queue"] for q in status["queues"] if q["name"] == queue] == [f"{queue}.XQ"]
    finally:
        worker.terminate()
        stack.redis.delete(*(stack.redis.keys(f"dramatiq:{queue}*") or ["-"]))
