"""Prometheus for the ``dramatiq`` command: the middleware, and the exposition process it forks."""

from __future__ import annotations

import dramatiq

from adapters.logs.redact import secret_values
from adapters.logs.setup import configure_logging
from adapters.metrics.exposition import prometheus_middleware, serve
from adapters.metrics.middleware import JobMetrics
from adapters.metrics.prometheus import METRICS
from adapters.metrics.queues import QueueDepths
from adapters.worker.tracking import JobTracking
from bootstrap.infrastructure import Infrastructure
from settings import Settings, load_settings


def observe(broker: dramatiq.Broker, settings: Settings, *, count_nacks: bool) -> None:
    """With METRICS_PORT, Dramatiq's Prometheus middleware and the job metrics (right after JobTracking).

    Parameters:
      broker: the broker to add them to.
      settings: validated settings.
      count_nacks: count every nack as a dead letter (the Redis and stub brokers; on SQS the
        dead-letter queue counts what it is sent).
    """
    if settings.metrics_port is None:
        return
    prometheus, multiproc_dir = prometheus_middleware(settings.metrics_host, settings.metrics_port, fork=serve_metrics)
    broker.add_middleware(prometheus)
    broker.add_middleware(JobMetrics(METRICS, multiproc_dir=multiproc_dir, count_nacks=count_nacks), after=JobTracking)


def serve_metrics() -> int:
    """The process the dramatiq command forks to serve /metrics (see ServedPrometheus), with the
    job queues' depths read from the broker at each scrape."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level, secret_values(settings))
    admin = Infrastructure(settings).queue_admin
    collectors = [QueueDepths(admin.stats)] if admin is not None else []
    return serve(settings.metrics_host, settings.metrics_port, collectors)
