"""The composition root: builds adapters, handlers and the broker from settings.

Everything that reads settings or opens a connection is created here, once
per process and lazily, so tests can build a Container with their own
settings (or hand fakes to the handlers directly).
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
import dramatiq
import redis
from botocore.config import Config
from dramatiq.middleware import ShutdownNotifications, TimeLimit

from adapters.ai.registry import build_registry
from adapters.ai.sandbox import SandboxedEngine
from adapters.db import SqlAIJobRepository, SqlVideoRepository, build_tables, create_engine_from_url
from adapters.logs.redact import secret_values
from adapters.logs.setup import configure_logging
from adapters.media import FfmpegMediaProcessor, find_ffmpeg
from adapters.messages import AIJobBody, VideoJobBody, salvage_id
from adapters.metrics.exposition import prometheus_middleware, serve
from adapters.metrics.middleware import JobMetrics
from adapters.metrics.progress import ObservedProgress
from adapters.metrics.prometheus import METRICS, counted
from adapters.redis import RedisLock, RedisProgress
from adapters.redis.broker_admin import DeadLetterReasons
from adapters.redis.presence import WorkerRegistry
from adapters.sqs.broker import LegacySQSBroker
from adapters.sqs.codec import LegacyRoute
from adapters.sqs.reject import RejectBeforeRun
from adapters.sqs.stop_receiving import StopReceiving
from adapters.storage import S3Storage
from adapters.worker.give_up import GiveUp
from adapters.worker.heartbeat import Heartbeat
from adapters.worker.labels import JobKind
from adapters.worker.presence import Presence
from adapters.worker.signals import CoalesceTermSignals
from adapters.worker.retries import CappedRetries
from adapters.worker.tracking import JobTracking
from domain.entities import VideoJob
from domain.handlers.ai import Engine, ProcessAIJobHandler
from domain.handlers.video import ProcessVideoJobHandler, VideoLimits
from settings import Settings, load_settings

log = logging.getLogger(__name__)

VIDEO_ACTOR = "process_video"
AI_ACTOR = "process_ai_job"
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


class Container:
    """Adapters and handlers of one worker process, built on first use.

    Parameters:
      settings: validated settings.
      engines: AI engines by job_type (default: the registry's, each sandboxed).
    """

    def __init__(self, settings: Settings, engines: dict[str, Engine] | None = None) -> None:
        self.settings = settings
        self._engines = engines

    @cached_property
    def tables(self):
        return build_tables(self.settings.video_table, self.settings.ai_job_table)

    @cached_property
    def engine(self):
        engine = create_engine_from_url(self.settings.database_url)
        if self.settings.create_tables:
            self.tables.create(engine)
        return engine

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
    def video_handler(self) -> ProcessVideoJobHandler:
        s = self.settings
        return ProcessVideoJobHandler(
            videos=SqlVideoRepository(self.engine, self.tables.videos),
            lock=self.lock,
            progress=self.progress,
            storage=self.storage,
            media=self.media,
            limits=VideoLimits(
                max_source_bytes=s.max_source_bytes,
                max_duration_seconds=s.max_duration_seconds,
                max_height=s.max_source_height,
                ladder=s.ladder,
                allowed_prefixes=s.source_prefixes,
            ),
            workdir=Path(s.work_dir) if s.work_dir else None,
        )

    @cached_property
    def engines(self) -> dict[str, Engine]:
        if self._engines is not None:
            return dict(self._engines)
        workdir = Path(self.settings.work_dir) if self.settings.work_dir else None
        return {
            job_type: SandboxedEngine(
                spec, self.storage, workdir=workdir, allowed_prefixes=self.settings.source_prefixes
            )
            for job_type, spec in build_registry(self.settings.extra_engine_modules).items()
        }

    @cached_property
    def ai_handler(self) -> ProcessAIJobHandler:
        return ProcessAIJobHandler(
            jobs=SqlAIJobRepository(self.engine, self.tables.ai_jobs),
            lock=self.lock,
            progress=self.progress,
            engines=self.engines,
        )

    @cached_property
    def job_kinds(self) -> dict[str, JobKind]:
        """How logs and metrics name the jobs of each actor (AI jobs by their registered job_type)."""
        return {
            VIDEO_ACTOR: JobKind("video", "video_id"),
            AI_ACTOR: JobKind("ai", "job_id", "job_type", lambda: self.engines),
        }

    def give_up_video(self, kwargs: dict[str, Any], body: str, reason: str) -> None:
        video_id = salvage_id_from(kwargs, body, "video_id", int)
        if video_id is not None:
            self.video_handler.give_up(VideoJob(video_id=video_id, file_key=""), reason)

    def give_up_ai(self, kwargs: dict[str, Any], body: str, reason: str) -> None:
        job_id = salvage_id_from(kwargs, body, "job_id", str)
        if job_id is not None:
            self.ai_handler.give_up(job_id, reason)


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
        TimeLimit(time_limit=int((settings.ffmpeg_timeout_seconds + 600) * 1000)),
        ShutdownNotifications(notify_shutdown=True),
        GiveUp({VIDEO_ACTOR: container.give_up_video, AI_ACTOR: container.give_up_ai}),
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
                settings.video_queue: LegacyRoute(VIDEO_ACTOR, VideoJobBody),
                settings.ai_queue: LegacyRoute(AI_ACTOR, AIJobBody),
            },
            dead_letter_queues={
                settings.video_queue: settings.video_dead_letter_queue,
                settings.ai_queue: settings.ai_dead_letter_queue,
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
    broker.add_middleware(JobTracking(container.job_kinds), before=type(broker.middleware[0]))
    if settings.metrics_port is None:
        return
    prometheus, multiproc_dir = prometheus_middleware(settings.metrics_host, settings.metrics_port, fork=serve_metrics)
    broker.add_middleware(prometheus)
    broker.add_middleware(
        JobMetrics(METRICS, container.job_kinds, multiproc_dir=multiproc_dir, count_nacks=count_nacks),
        after=JobTracking,
    )


def serve_metrics() -> int:
    """The process the dramatiq command forks to serve /metrics (see ServedPrometheus)."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level, secret_values(settings))
    return serve(settings.metrics_host, settings.metrics_port)
