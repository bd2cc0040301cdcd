"""The broker BROKER names, with this project's middleware in its order."""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import ShutdownNotifications, TimeLimit

from adapters.metrics.prometheus import METRICS, counted
from adapters.redis.broker_admin import DeadLetterReasons
from adapters.sqs.broker import RoutedSQSBroker
from adapters.sqs.codec import Route
from adapters.worker.give_up import GiveUp
from adapters.worker.heartbeat import Heartbeat
from adapters.worker.presence import Presence
from adapters.worker.reject import RejectBeforeRun
from adapters.worker.retries import CappedRetries
from adapters.worker.signals import CoalesceTermSignals
from adapters.worker.stop_receiving import StopReceiving
from adapters.worker.tracking import JobTracking
from adapters.worker.waits import DueTimes
from bootstrap.container import Container
from bootstrap.metrics import observe
from settings import Settings


def build_broker(settings: Settings, container: Container) -> dramatiq.Broker:
    """The broker named by BROKER, with this project's middleware.

    Parameters:
      settings: validated settings.
      container: the process's adapters (the lock the heartbeat extends, the
        kinds whose queues are routed, the worker registry).
    """
    sqs = settings.broker == "sqs"
    middleware: list[dramatiq.Middleware] = [
        # First: Dramatiq runs after_* hooks in reverse, so the job context then
        # covers every other hook's log lines (see JobTracking).
        JobTracking(),
        CoalesceTermSignals(),
        DueTimes(),
        # Past every child's own limit: ffmpeg's, and the longest an engine may run (a medium model's transcription).
        TimeLimit(time_limit=int((max(settings.ffmpeg_timeout_seconds, container.longest_engine_seconds()) + 600)
                                 * 1000)),
        ShutdownNotifications(notify_shutdown=True),
        GiveUp(),
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
        middleware[1:1] = [StopReceiving(), RejectBeforeRun(settings.max_receive_count)]
        routes = {
            declaration.queue_name(settings): Route(declaration.actor, declaration.dead_letter_queue_name(settings))
            for declaration in container.kinds.values()
        }
        if container.parts_queue_ready:
            parts_queue, parts_dlq = container.parts_queue_names
            routes[parts_queue] = Route(None, parts_dlq)  # the worker's own: Dramatiq envelopes only
        broker: dramatiq.Broker = RoutedSQSBroker(
            routes=routes,
            visibility_timeout=settings.visibility_timeout_seconds,
            outage_retry_seconds=settings.outage_retry_seconds,
            middleware=middleware,
            region_name=settings.aws_region,
            endpoint_url=settings.sqs_endpoint_url,
            config=container.clients.boto,
        )
        beats.insert(0, counted(broker.extend_visibility, METRICS.visibility_extended))
    elif settings.broker == "redis":
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=settings.redis_client_url, middleware=middleware)
        broker.add_middleware(DeadLetterReasons(container.redis))
    else:
        from dramatiq.brokers.stub import StubBroker

        broker = StubBroker(middleware=middleware)
    observe(broker, settings, count_nacks=not sqs)
    broker.add_middleware(Presence(container.worker_registry, interval_seconds=settings.heartbeat_seconds))
    broker.add_middleware(Heartbeat(settings.heartbeat_seconds, beats))
    return broker
