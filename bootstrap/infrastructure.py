"""Infrastructure: the clients of every outside system, built from settings, once and lazily.

The worker's ``Container`` and the ops tools' ``Ops`` both build on it, so both
see the same queues, tables, bucket and Redis; each says how patient its
clients are. Tests pass their own clients in.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
import redis
from botocore.config import Config
from redis.backoff import NoBackoff
from redis.retry import Retry

import kinds
from adapters.ai.registry import build_registry
from adapters.ai.spec import EngineSpec
from adapters.db import SqlJobRepository, Tables, connect_database
from adapters.redis.broker_admin import RedisQueueAdmin
from adapters.redis.presence import WorkerRegistry
from adapters.sqs.admin import SqsQueueAdmin
from adapters.storage import S3Storage
from domain.operations import QueueAdmin
from kinds import KindDeclaration, video_parts
from settings import Settings


@dataclass(frozen=True)
class ClientOptions:
    """How patient a process's clients are.

    Parameters:
      boto: botocore's Config of the SQS and S3 clients (retries, timeouts).
      redis: keyword arguments of ``redis.Redis.from_url`` (timeouts, retry).
    """

    boto: Config
    redis: Mapping[str, Any] = field(default_factory=dict)


#: The worker: retries ride out a blip; a job is not waiting on a person.
WORKER_CLIENTS = ClientOptions(
    Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30),
    {"socket_timeout": 10, "socket_connect_timeout": 5, "health_check_interval": 30},
)
#: The ops tools: one quick retry, so a page or a command says at once that a service is unreachable
#: instead of hanging through redis-py's default backoff (about 3 s a call) during an outage.
OPS_CLIENTS = ClientOptions(
    Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=15),
    {"socket_timeout": 5, "socket_connect_timeout": 5, "retry": Retry(NoBackoff(), 1)},
)


class Infrastructure:
    """The deployment's kinds of job and the clients of its database, Redis, SQS and S3.

    Parameters:
      settings: validated settings.
      clients: how patient the clients are (``WORKER_CLIENTS``, ``OPS_CLIENTS``).
      job_kinds: the kinds of job by name (default: the contract's and those of JOB_KIND_MODULES).
      sqs, s3, redis, database: clients to use instead of building them (tests).
    """

    def __init__(self, settings: Settings, *, clients: ClientOptions = WORKER_CLIENTS,
                 job_kinds: Mapping[str, KindDeclaration] | None = None, sqs=None, s3=None, redis=None,
                 database=None) -> None:
        self.settings = settings
        self.clients = clients
        given = {"kinds": dict(job_kinds) if job_kinds is not None else None, "sqs": sqs, "s3": s3,
                 "redis": redis, "database": database}
        self.__dict__.update({name: value for name, value in given.items() if value is not None})

    @cached_property
    def kinds(self) -> dict[str, KindDeclaration]:
        return load_job_kinds(self.settings)

    @cached_property
    def tables(self) -> Tables:
        return kinds.configured_tables(self.kinds, self.settings)

    @cached_property
    def database(self):
        """The SQLAlchemy Engine on DATABASE_URL (tables created first when CREATE_TABLES is set)."""
        database = connect_database(self.settings.database_url)
        if self.settings.create_tables:
            self.tables.create(database)
        return database

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_client_url, **self.clients.redis)

    @cached_property
    def sqs(self):
        s = self.settings
        return boto3.client("sqs", region_name=s.aws_region, endpoint_url=s.sqs_endpoint_url, config=self.clients.boto)

    @cached_property
    def s3(self):
        s = self.settings
        return boto3.client("s3", region_name=s.aws_region, endpoint_url=s.s3_endpoint_url, config=self.clients.boto)

    @cached_property
    def storage(self) -> S3Storage:
        return S3Storage(self.s3, self.settings.s3_bucket)

    @cached_property
    def engine_specs(self) -> dict[str, EngineSpec]:
        """The AI engines of this deployment, by job_type (the built-in ones and AI_ENGINE_MODULES')."""
        return build_registry(self.settings.extra_engine_modules)

    @cached_property
    def worker_registry(self) -> WorkerRegistry:
        return WorkerRegistry(self.redis, gone_after=self.settings.worker_gone_seconds)

    @cached_property
    def dead_letter_queues(self) -> dict[str, str]:
        """Every queue the workers consume -> its dead-letter queue: the kinds' queues, then the
        worker's own parts queue when parts are on (VIDEO_PARTS_MIN_SECONDS set)."""
        s = self.settings
        queues = {kind.queue_name(s): kind.dead_letter_queue_name(s) for kind in self.kinds.values()}
        if s.video_parts_min_seconds is not None:
            parts_queue, parts_dlq = video_parts.queue_names(s)
            queues[parts_queue] = parts_dlq
        return queues

    @cached_property
    def queue_admin(self) -> QueueAdmin | None:
        """Those queues as operators see them, on the broker BROKER names (None on the stub broker)."""
        if self.settings.broker == "sqs":
            # The parts queue is the worker's own and created by an operator: until then it is shown missing.
            parts_queue, _ = video_parts.queue_names(self.settings)
            return SqsQueueAdmin(self.sqs, self.dead_letter_queues, may_be_missing={parts_queue})
        if self.settings.broker == "redis":
            return RedisQueueAdmin(self.redis, list(self.dead_letter_queues))
        return None

    def repository(self, kind: str) -> SqlJobRepository:
        return SqlJobRepository(self.database, self.tables.kinds[kind])


def load_job_kinds(settings: Settings) -> dict[str, KindDeclaration]:
    """The deployment's kinds of job, their names checked; one line and exit 2 when they are wrong
    (a module of JOB_KIND_MODULES that is missing, a bad or shared queue or table name)."""
    try:
        job_kinds = kinds.load_kinds(settings.extra_kind_modules)
        kinds.check_queues(job_kinds, settings)
    except ValueError as error:
        message = str(error).removeprefix("invalid configuration: ")
        print(f"invalid configuration: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    return job_kinds
