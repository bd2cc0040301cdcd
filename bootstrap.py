"""The composition root: builds adapters, handlers and the broker from settings and the job kinds.

Everything that reads settings or opens a connection is created here, once
per process and lazily, so tests can build a Container with their own
settings (or hand fakes to the handlers directly). What differs between the
kinds of job comes from their declarations (``kinds/``), by iteration.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
import dramatiq
import redis
from botocore.config import Config
from dramatiq.middleware import ShutdownNotifications, TimeLimit

import kinds
from adapters.ai.registry import build_registry
from adapters.ai.sandbox import SandboxedEngine
from adapters.ai.spec import EngineSpec
from adapters.ai.whisper_fetch import DownloadedModelEngine, ModelDownload
from adapters.db import SqlJobRepository, Tables, create_engine_from_url
from adapters.logs.redact import secret_values
from adapters.logs.setup import configure_logging
from adapters.media import FfmpegMediaProcessor, find_ffmpeg
from adapters.messages import salvage_id
from adapters.metrics.exposition import prometheus_middleware, serve
from adapters.metrics.middleware import JobMetrics
from adapters.metrics.progress import ObservedProgress
from adapters.metrics.prometheus import METRICS, counted
from adapters.redis import RedisLock, RedisProgress
from adapters.metrics.queues import QueueDepths
from adapters.redis.broker_admin import DeadLetterReasons, RedisQueueAdmin
from adapters.redis.presence import WorkerRegistry
from adapters.sqs.admin import SqsQueueAdmin
from adapters.sqs.broker import LegacySQSBroker
from adapters.sqs.codec import LegacyRoute
from adapters.storage import S3Storage
from adapters.worker.give_up import GiveUp, GiveUpCallback
from adapters.worker.heartbeat import Heartbeat
from adapters.worker.labels import JobLabels
from adapters.worker.presence import Presence
from adapters.worker.reject import RejectBeforeRun
from adapters.worker.retries import CappedRetries
from adapters.worker.signals import CoalesceTermSignals
from adapters.worker.stop_receiving import StopReceiving
from adapters.worker.tracking import JobTracking
from adapters.worker.waits import DueTimes
from domain.handlers.flow import JobHandler
from domain.operations import QueueAdmin
from domain.ports import Engine
from kinds import KindDeclaration
from settings import Settings, load_settings

log = logging.getLogger(__name__)

BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


class Container:
    """Adapters and handlers of one worker process, built on first use.

    Parameters:
      settings: validated settings.
      engines: AI engines by job_type (default: the registry's, each sandboxed).
      job_kinds: the kinds of job by name (default: the contract's and those of JOB_KIND_MODULES).
    """

    def __init__(self, settings: Settings, engines: dict[str, Engine] | None = None,
                 job_kinds: dict[str, KindDeclaration] | None = None) -> None:
        self.settings = settings
        self._engines = engines
        if job_kinds is not None:
            self.__dict__["kinds"] = dict(job_kinds)

    @cached_property
    def kinds(self) -> dict[str, KindDeclaration]:
        return load_job_kinds(self.settings)

    @cached_property
    def tables(self) -> Tables:
        return kinds.configured_tables(self.kinds, self.settings)

    @cached_property
    def database(self):
        """The SQLAlchemy engine on DATABASE_URL (not to be confused with the AI engines)."""
        database = create_engine_from_url(self.settings.database_url)
        if self.settings.create_tables:
            self.tables.create(database)
        return database

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.settings.redis_client_url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
        )

    @cached_property
    def lock(self) -> RedisLock:
        return RedisLock(self.redis, ttl_ms=self.settings.lock_ttl_seconds * 1000)

    @cached_property
    def progress(self) -> ObservedProgress:
        return ObservedProgress(RedisProgress(self.redis, ttl_seconds=self.settings.progress_ttl_seconds), METRICS)

    @cached_property
    def workers(self) -> WorkerRegistry:
        return WorkerRegistry(self.redis, gone_after=self.settings.worker_gone_seconds)

    @cached_property
    def s3(self):
        return boto3.client(
            "s3", region_name=self.settings.aws_region, endpoint_url=self.settings.s3_endpoint_url, config=BOTO_CONFIG
        )

    @cached_property
    def storage(self) -> S3Storage:
        return S3Storage(self.s3, self.settings.s3_bucket)

    @cached_property
    def media(self) -> FfmpegMediaProcessor:
        s = self.settings
        return FfmpegMediaProcessor(
            find_ffmpeg(s.ffmpeg_binary),
            timeout_seconds=s.ffmpeg_timeout_seconds,
            segment_seconds=s.hls_segment_seconds,
            preset=s.x264_preset,
            crf=s.video_crf,
            loudness_target_lufs=s.loudness_target_lufs,
        )

    @cached_property
    def engine_specs(self) -> dict[str, EngineSpec]:
        return build_registry(self.settings.extra_engine_modules)

    @cached_property
    def engines(self) -> dict[str, Engine]:
        if self._engines is not None:
            return dict(self._engines)
        options = self.settings.engine_options
        engines: dict[str, Engine] = {job_type: SandboxedEngine(spec, options=options.get(job_type))
                                      for job_type, spec in self.engine_specs.items()}
        if self.transcribe_model_download is not None and "transcribe" in engines:
            engines["transcribe"] = DownloadedModelEngine(engines["transcribe"], self.transcribe_model_download,
                                                          "transcribe")
        return engines

    @cached_property
    def transcribe_model_download(self) -> ModelDownload | None:
        """What fills TRANSCRIBE_MODEL's folder from TRANSCRIBE_MODEL_S3_PREFIX (None: no prefix set)."""
        s = self.settings
        if not s.transcribe_model_s3_prefix:
            return None
        return ModelDownload(self.storage, s.transcribe_model_s3_prefix, Path(s.transcribe_model))

    def report_unavailable_engines(self) -> None:
        """One ERROR line per engine this worker cannot run (downloading the transcribe engine's model
        first when it comes from S3); its jobs stay retried (another worker may run them)."""
        for engine in self.engines.values():
            unavailable = getattr(engine, "unavailable", lambda: None)()
            if unavailable:
                log.error("%s; its jobs are retried until a worker that can run it takes them", unavailable)

    def longest_engine_seconds(self) -> float:
        """The longest time limit any engine may get here (its limits under this deployment's options)."""
        options = self.settings.engine_options
        return max((spec.configured(options.get(job_type)).timeout_seconds
                    for job_type, spec in self.engine_specs.items()), default=0.0)

    @cached_property
    def queue_admin(self) -> QueueAdmin | None:
        """The job queues' depths and dead letters on the broker (None on the stub broker)."""
        s = self.settings
        return build_queue_admin(
            s, self.kinds,
            sqs=lambda: boto3.client("sqs", region_name=s.aws_region, endpoint_url=s.sqs_endpoint_url,
                                     config=BOTO_CONFIG),
            redis_client=lambda: self.redis,
        )

    def repository(self, kind: str) -> SqlJobRepository:
        return SqlJobRepository(self.database, self.tables.kinds[kind])

    @cached_property
    def handlers(self) -> dict[str, JobHandler]:
        """Each kind's handler, by kind name, built by its declaration."""
        return {name: declaration.handler(self) for name, declaration in self.kinds.items()}

    def handler(self, kind: str) -> JobHandler:
        return self.handlers[kind]

    @cached_property
    def labels(self) -> dict[str, JobLabels]:
        """How logs and metrics name the jobs of each actor (AI jobs by their registered job_type)."""
        return {
            declaration.actor: JobLabels(
                declaration.kind, declaration.id_field, declaration.type_field,
                lambda declaration=declaration: declaration.types(self),
            )
            for declaration in self.kinds.values()
        }

    def give_up_callbacks(self) -> dict[str, GiveUpCallback]:
        """actor name -> what fails the row of a message about to be dead-lettered."""
        return {declaration.actor: self._give_up(declaration) for declaration in self.kinds.values()}

    def _give_up(self, declaration: KindDeclaration) -> GiveUpCallback:
        field, id_type = declaration.id_field, declaration.kind.id_type

        def give_up(kwargs: dict[str, Any], body: str, reason: str) -> None:
            job_id = salvage_id_from(kwargs, body, field, id_type)
            if job_id is not None:
                self.handler(declaration.name).give_up(job_id, reason)

        return give_up


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


def build_queue_admin(settings: Settings, job_kinds: dict[str, KindDeclaration], *, sqs: Callable[[], Any],
                      redis_client: Callable[[], redis.Redis]) -> QueueAdmin | None:
    """The kinds' queues as operators see them, on the broker BROKER names (None for the stub broker).

    Parameters:
      settings: the deployment's settings.
      job_kinds: the kinds of job, whose queues and dead-letter queues it covers.
      sqs, redis_client: make the client the broker needs (only that one is made).
    """
    if settings.broker == "sqs":
        return SqsQueueAdmin(sqs(), {kind.queue_name(settings): kind.dead_letter_queue_name(settings)
                                     for kind in job_kinds.values()})
    if settings.broker == "redis":
        return RedisQueueAdmin(redis_client(), [kind.queue_name(settings) for kind in job_kinds.values()])
    return None


def salvage_id_from(kwargs: dict[str, Any], body: str, field: str, kind: type) -> Any:
    value = kwargs.get(field)
    if isinstance(value, kind) and not isinstance(value, bool):
        return value
    return salvage_id(body, field, kind)


def build_broker(settings: Settings, container: Container) -> dramatiq.Broker:
    """The broker named by BROKER, with this project's middleware."""
    sqs = settings.broker == "sqs"
    middleware: list[dramatiq.Middleware] = [
        CoalesceTermSignals(),
        DueTimes(),
        # Past every child's own limit: ffmpeg's, and the longest an engine may run (a medium model's transcription).
        TimeLimit(time_limit=int((max(settings.ffmpeg_timeout_seconds, container.longest_engine_seconds()) + 600)
                                 * 1000)),
        ShutdownNotifications(notify_shutdown=True),
        GiveUp(container.give_up_callbacks()),
        CappedRetries(
            max_retries=settings.max_retries,
            min_backoff=settings.min_backoff_ms,
            max_backoff=settings.max_backoff_ms,
            return_on_shutdown=sqs,
            busy_delay=settings.lock_busy_delay_ms,
        ),
    ]
    beats: list = [container.lock.extend_held]
    if sqs:
        middleware[:0] = [StopReceiving(), RejectBeforeRun(settings.max_receive_count)]
        broker: dramatiq.Broker = LegacySQSBroker(
            routes={
                declaration.queue_name(settings): LegacyRoute(
                    declaration.actor, declaration.body, declaration.dead_letter_queue_name(settings)
                )
                for declaration in container.kinds.values()
            },
            visibility_timeout=settings.visibility_timeout_seconds,
            outage_retry_seconds=settings.outage_retry_seconds,
            middleware=middleware,
            region_name=settings.aws_region,
            endpoint_url=settings.sqs_endpoint_url,
            config=BOTO_CONFIG,
        )
        beats.insert(0, counted(broker.extend_visibility, METRICS.visibility_extended))
    elif settings.broker == "redis":
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=settings.redis_client_url, middleware=middleware)
        broker.add_middleware(DeadLetterReasons(container.redis))
    else:
        from dramatiq.brokers.stub import StubBroker

        broker = StubBroker(middleware=middleware)
    observe(broker, settings, container, count_nacks=not sqs)
    broker.add_middleware(Presence(container.workers, interval_seconds=settings.heartbeat_seconds))
    broker.add_middleware(Heartbeat(settings.heartbeat_seconds, beats))
    return broker


def observe(broker: dramatiq.Broker, settings: Settings, container: Container, *, count_nacks: bool) -> None:
    """Job context for log lines, first in the chain (see JobTracking); with
    METRICS_PORT, Dramatiq's Prometheus middleware and the job metrics."""
    broker.add_middleware(JobTracking(container.labels), before=type(broker.middleware[0]))
    if settings.metrics_port is None:
        return
    prometheus, multiproc_dir = prometheus_middleware(settings.metrics_host, settings.metrics_port, fork=serve_metrics)
    broker.add_middleware(prometheus)
    broker.add_middleware(
        JobMetrics(METRICS, container.labels, multiproc_dir=multiproc_dir, count_nacks=count_nacks),
        after=JobTracking,
    )


def serve_metrics() -> int:
    """The process the dramatiq command forks to serve /metrics (see ServedPrometheus), with the
    job queues' depths read from the broker at each scrape."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level, secret_values(settings))
    container = Container(settings)
    admin = container.queue_admin
    collectors = [QueueDepths(admin.stats)] if admin is not None else []
    return serve(settings.metrics_host, settings.metrics_port, collectors)
