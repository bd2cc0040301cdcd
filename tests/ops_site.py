"""The ops dashboard under test: Flask's test client on an Ops built for a test stack."""

from __future__ import annotations

import base64
import itertools
import re
import time
from dataclasses import dataclass

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient

from adapters.sqs.dead_letter import dead_letter_attributes
from ops.service import Ops
from ops.web import create_app
from settings import Settings
from tests.e2e.stack import Stack
from tests.services import POSTGRES_URL, REDIS_URL, unique

ADMIN = ("admin", "admin-pw-5b1e")
VIEWER = ("viewer", "viewer-pw-93c0")
SECRET = "secret-key-for-tests-0c7d"
BODIES = [
    '{"video_id": 1, "file_key": "uploads/a.mp4"}',
    '{"video_id": "two"}  \n',
    'not json <b>at all</b> \u00e9\u4e2d',
]
video_ids = itertools.count(int(time.time()) % 100_000 * 1000)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def settings_for(stack: Stack, **overrides) -> Settings:
    values = dict(
        broker="sqs", aws_region="us-east-1", sqs_endpoint_url=stack.moto.url, s3_endpoint_url=stack.moto.url,
        s3_bucket=stack.bucket, video_queue=stack.video_queue, ai_queue=stack.ai_queue,
        video_parts_queue=stack.parts_queue, video_parts_dlq=stack.parts_dlq, database_url=POSTGRES_URL,
        redis_url=REDIS_URL, video_table=stack.tables["video"].name, ai_job_table=stack.tables["ai"].name,
        ops_admin_password=ADMIN[1], ops_viewer_password=VIEWER[1], ops_secret_key=SECRET,
    )
    values.update(overrides)
    return Settings(**values)


@dataclass
class Site:
    stack: Stack
    app: Flask
    client: FlaskClient
    ops: Ops

    def get(self, path: str, who=ADMIN, headers: dict | None = None, **kwargs):
        return self.client.get(path, headers={**(basic(*who) if who else {}), **(headers or {})}, **kwargs)

    def post(self, path: str, data: dict, who=ADMIN, headers: dict | None = None, **kwargs):
        return self.client.post(path, data=data, headers={**(basic(*who) if who else {}), **(headers or {})},
                                **kwargs)

    def dead_letter(self, body: str, *, queue: str | None = None, reason: str = "bad input", receive_count: int = 1):
        """Dead-letter ``body`` as the worker does; return the dead letter's id."""
        queue = queue or self.stack.video_queue
        before = {letter.id for letter in self.ops.queues.dead_letters(queue)}
        self.fill([body], queue=queue, reason=reason, receive_count=receive_count)
        (new,) = {letter.id for letter in self.ops.queues.dead_letters(queue)} - before
        return new

    def fill(self, bodies: list[str], *, queue: str | None = None, reason: str = "bad input",
             receive_count: int = 1) -> list[str]:
        """Dead-letter every body as the worker does, without looking at the queue; return their ids."""
        queue = queue or self.stack.video_queue
        url = self.stack.url(f"{queue}-dlq")
        return [
            self.stack.sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=dead_letter_attributes(
                reason=reason, receive_count=receive_count, source_queue=queue, message_id=unique("original-"),
            ))["MessageId"]
            for body in bodies
        ]

    def letters(self, queue: str | None = None) -> dict[str, str]:
        """Dead letter id -> body, as SQS has them now."""
        return {letter.id: letter.body for letter in self.ops.queues.dead_letters(queue or self.stack.video_queue)}

    def finish(self, started, timeout: float = 60) -> dict:
        """Follow a background action (the 303 of its POST) until it ends; its last JSON state."""
        assert started.status_code == 303, started.text
        url = started.headers["Location"].removesuffix("/") + ".json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.get(url).get_json()
            if state["record"]["state"] != "running":
                return state
            time.sleep(0.2)
        raise AssertionError(f"action {url} still running after {timeout} s")

    def finish_record(self, action_id: str, timeout: float = 60) -> dict:
        """Wait for an action on every dead letter to end; its record."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.ops.action_records.get(action_id)
            if record["state"] != "running":
                return record
            time.sleep(0.1)
        raise AssertionError(f"action {action_id} still running after {timeout} s")

    def confirm_token(self, path: str) -> str:
        page = self.get(path)
        assert page.status_code == 200, page.text
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def make_site(stack: Stack, pg_database, **overrides) -> Site:
    settings = settings_for(stack, **overrides)
    ops = Ops(settings, sqs=stack.sqs, s3=stack.s3, redis=redis_lib.Redis.from_url(REDIS_URL),
              database=pg_database)
    app = create_app(settings, ops)
    return Site(stack, app, app.test_client(), ops)


@pytest.fixture
def site(private_stack, pg_database) -> Site:
    return make_site(private_stack, pg_database)


def receive_all(stack: Stack, queue: str) -> list[dict]:
    found: dict[str, dict] = {}
    for _ in range(4):
        for message in stack.sqs.receive_message(
            QueueUrl=stack.url(queue), MaxNumberOfMessages=10, VisibilityTimeout=60
        ).get("Messages", []):
            found[message["MessageId"]] = message
    return list(found.values())
