"""The ops tools' composition root: what the dashboard and the CLI read and do.

Built from the worker's own settings, so the tools see exactly the queues,
tables, bucket and Redis the worker uses. Tests pass their own clients.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import boto3
import redis
from botocore.config import Config
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.ai.registry import build_registry
from adapters.db import build_tables, create_engine_from_url
from adapters.db.job_queries import JobQueries
from adapters.logs.redact import Redactor, secret_values
from adapters.messages import AIJobBody, VideoJobBody, validate_body
from adapters.redis.broker_admin import RedisQueueAdmin
from adapters.redis.presence import WorkerRecord, WorkerRegistry
from adapters.redis.text import as_text
from adapters.sqs.admin import MAX_BROWSE, SqsQueueAdmin
from adapters.sqs.publisher import LegacyPublisher, ai_body, video_body
from bootstrap import AI_ACTOR, VIDEO_ACTOR
from domain.errors import InvalidMessage
from domain.operations import DeadLetter, QueueAdmin, Tally
from ops.actions import ActionRecords, BackgroundActions, act
from settings import Settings

BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=15)


class OpsError(Exception):
    """Something an operator asked for cannot be done; the message says why."""


class Ops:
    """Queues, dead letters, jobs, progress, outputs and workers of one deployment.

    Parameters:
      settings: the worker's settings (the same environment variables).
      sqs, s3: boto3 clients (default: built from settings).
      redis_client: a redis-py client (default: REDIS_URL).
      engine: a SQLAlchemy engine (default: DATABASE_URL).
    """

    def __init__(self, settings: Settings, *, sqs=None, s3=None, redis_client=None, engine=None) -> None:
        self.settings = settings
        if sqs is not None:
            self.__dict__["sqs"] = sqs
        if s3 is not None:
            self.__dict__["s3"] = s3
        if redis_client is not None:
            self.__dict__["redis"] = redis_client
        if engine is not None:
            self.__dict__["engine"] = engine

    # --- clients ---------------------------------------------------------
    @cached_property
    def sqs(self):
        s = self.settings
        return boto3.client("sqs", region_name=s.aws_region, endpoint_url=s.sqs_endpoint_url, config=BOTO_CONFIG)

    @cached_property
    def s3(self):
        s = self.settings
        return boto3.client("s3", region_name=s.aws_region, endpoint_url=s.s3_endpoint_url, config=BOTO_CONFIG)

    @cached_property
    def redis(self) -> redis.Redis:
        # One quick retry: a page or a command waiting out redis-py's default backoff (about 3 s
        # per call) during an outage would hang instead of saying Redis is unreachable.
        return redis.Redis.from_url(
            self.settings.redis_client_url, socket_timeout=5, socket_connect_timeout=5, retry=fail_fast_retry()
        )

    @cached_property
    def engine(self):
        return create_engine_from_url(self.settings.database_url)

    # --- views -------------------------------------------------------------
    @cached_property
    def queues(self) -> QueueAdmin:
        s = self.settings
        if s.broker == "sqs":
            return SqsQueueAdmin(
                self.sqs, {s.video_queue: s.video_dead_letter_queue, s.ai_queue: s.ai_dead_letter_queue}
            )
        if s.broker == "redis":
            return RedisQueueAdmin(self.redis, [s.video_queue, s.ai_queue])
        raise OpsError("BROKER=stub has no queues to inspect; use sqs or redis")

    @cached_property
    def jobs(self) -> JobQueries:
        return JobQueries(self.engine, build_tables(self.settings.video_table, self.settings.ai_job_table))

    @cached_property
    def worker_registry(self) -> WorkerRegistry:
        return WorkerRegistry(self.redis, gone_after=self.settings.worker_gone_seconds)

    def workers(self) -> list[WorkerRecord]:
        return self.worker_registry.workers()

    def queue_of(self, name: str) -> str:
        """The job queue an operator names: its full name, or "video"/"ai"."""
        aliases = {"video": self.settings.video_queue, "ai": self.settings.ai_queue}
        queue = aliases.get(name, name)
        if queue not in (self.settings.video_queue, self.settings.ai_queue):
            raise OpsError(f"unknown queue {name!r}: use video, ai, {self.settings.video_queue} or {self.settings.ai_queue}")
        return queue

    def progress(self, kind: str, job_id: str) -> dict[str, str]:
        """The live progress hash of CONTRACT section 3 (empty when none)."""
        raw = self.redis.hgetall(f"progress:{kind}:{job_id}")
        return {as_text(k): as_text(v) for k, v in raw.items()}

    def output_prefix(self, kind: str, row: dict[str, Any]) -> str:
        """Where a job's files are (CONTRACT section 4)."""
        tenant = row.get("tenant_id")
        tenant_part = "shared" if tenant is None else str(tenant)
        return f"videos/{tenant_part}/{row['id']}/" if kind == "video" else f"ai/{tenant_part}/{row['id']}/"

    def outputs(self, kind: str, row: dict[str, Any], limit: int = 200) -> list[dict[str, Any]]:
        """The job's objects in the bucket: key, size, last modified."""
        paginator = self.s3.get_paginator("list_objects_v2")
        found: list[dict[str, Any]] = []
        for page in paginator.paginate(Bucket=self.settings.s3_bucket, Prefix=self.output_prefix(kind, row)):
            for item in page.get("Contents", []):
                found.append(
                    {"key": item["Key"], "size": item["Size"], "last_modified": item["LastModified"].isoformat()}
                )
                if len(found) >= limit:
                    return found
        return found

    @cached_property
    def publisher(self) -> LegacyPublisher:
        """Keeps the queue URLs it looked up, like the worker's own publisher."""
        return LegacyPublisher(self.sqs, video_queue=self.settings.video_queue, ai_queue=self.settings.ai_queue)

    def dead_letter(self, queue: str, letter_id: str) -> DeadLetter | None:
        """One dead letter by its id, or None. SQS cannot fetch a message by id, so up
        to MAX_BROWSE dead letters are browsed (and handed back) to find it."""
        letters = self.queues.dead_letters(queue, limit=MAX_BROWSE)
        return next((letter for letter in letters if letter.id == letter_id), None)

    @cached_property
    def redact(self) -> Redactor:
        """Masks the deployment's secrets in any text the tools show (pages, CLI lines)."""
        return Redactor(secret_values(self.settings))

    # --- actions -----------------------------------------------------------
    def act_on_dead_letters(self, action: str, queue: str, ids: Sequence[str] | None, *, user: str, via: str) -> Tally:
        """Redrive or delete dead letters now, audited; the tally says what was done.

        Raises what the broker's QueueAdmin raises (DeadLetterNotFound after
        the other letters were handled, outages), after the audit line.
        """
        tally = Tally(action, queue)
        act(self.queues, tally, ids, user=user, via=via)
        return tally

    @cached_property
    def background(self) -> BackgroundActions:
        """Actions on every dead letter of a queue, run by a thread of this process (the dashboard)."""
        return BackgroundActions(self.queues, self.action_records)

    @cached_property
    def action_records(self) -> ActionRecords:
        return ActionRecords(self.redis)

    def enqueue_video(self, video_id: int, file_key: str, tenant_id: int | None = None) -> str:
        body = video_body(video_id, file_key, tenant_id)
        self._validate(VideoJobBody, body)
        return self._publish(self.settings.video_queue, VIDEO_ACTOR, body)

    def enqueue_ai(self, job_id: str, job_type: str, payload: dict[str, Any], tenant_id: int | None = None) -> str:
        body = ai_body(job_id, job_type, payload, tenant_id)
        self._validate(AIJobBody, body)
        engines = build_registry(self.settings.extra_engine_modules)
        if job_type not in engines:
            raise OpsError(f"unknown job_type {job_type!r}: the worker runs {', '.join(sorted(engines))}")
        try:
            engines[job_type].validate_payload(payload)
        except InvalidMessage as error:
            raise OpsError(error.reason) from None
        return self._publish(self.settings.ai_queue, AI_ACTOR, body)

    @staticmethod
    def _validate(model, body: str) -> None:
        """Refuse what the worker would dead-letter, with the worker's own reason."""
        try:
            validate_body(model, json.loads(body))
        except InvalidMessage as error:
            raise OpsError(error.reason) from None

    def _publish(self, queue: str, actor: str, body: str) -> str:
        """Publish a body as the API does; return the message id."""
        if self.settings.broker == "sqs":
            return self.publisher.send(queue, body)
        if self.settings.broker == "redis":
            from dramatiq import Message
            from dramatiq.brokers.redis import RedisBroker

            broker = RedisBroker(client=self.redis, middleware=[])
            broker.declare_queue(queue)
            message = Message(queue_name=queue, actor_name=actor, args=(), kwargs=json.loads(body), options={})
            return broker.enqueue(message).message_id
        raise OpsError("BROKER=stub cannot publish; use sqs or redis")

    def status(self) -> dict[str, Any]:
        """Everything the `status` command and the dashboard's front page show."""
        return {
            "broker": self.settings.broker,
            "queues": [stats.as_dict() for stats in self.queues.stats()],
            "jobs": self.jobs.counts(),
            "workers": [record.as_dict() for record in self.workers()],
        }


def fail_fast_retry() -> Retry:
    return Retry(NoBackoff(), 1)


def operator() -> str:
    """Who runs the CLI, for the audit line: the OS user (and the Heroku dyno, when there is one)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    dyno = os.environ.get("DYNO")
    return f"{user}@{dyno}" if dyno else user
