"""The worker's own metrics, and ``METRICS``: the instance the adapters record into.

prometheus_client is imported only by ``Metrics.start``: it picks its
multiprocess mode when first imported, which must happen after
PROMETHEUS_MULTIPROC_DIR is set (JobMetrics.after_process_boot). Until then,
and in processes where metrics are off, every method does nothing, so the
adapters that record do not depend on Prometheus being configured.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

JOB_SECONDS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
STEP_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)
WAIT_SECONDS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)


def _never_raises(method: Callable[..., None]) -> Callable[..., None]:
    # A metric must never fail a job or a dead letter (a full disk under the
    # multiprocess files, say): log once and carry on.
    @functools.wraps(method)
    def record(self: Metrics, *args: Any) -> None:
        if not self.started:
            return
        try:
            method(self, *args)
        except Exception:
            if not self._warned:
                self._warned = True
                log.warning("could not record metric %s", method.__name__, exc_info=True)

    return record


class Metrics:
    """media_worker_* metrics; see docs/OBSERVABILITY.md for their meaning."""

    def __init__(self) -> None:
        self.started = False
        self._warned = False

    def start(self, registry: Any = None) -> None:
        """Create the metrics (in ``registry``; default: a private one, as Dramatiq's)."""
        import prometheus_client as prom

        registry = registry if registry is not None else prom.CollectorRegistry()
        self.jobs = prom.Counter(
            "media_worker_jobs", "Runs of job messages, by how they ended.", ["job_type", "outcome"], registry=registry
        )
        self.job_seconds = prom.Histogram(
            "media_worker_job_duration_seconds", "Time one run of a job took.", ["job_type"],
            buckets=JOB_SECONDS, registry=registry,
        )
        self.step_seconds = prom.Histogram(
            "media_worker_step_duration_seconds", "Time from one progress step of a job to the next.",
            ["job_type", "step"], buckets=STEP_SECONDS, registry=registry,
        )
        self.dead_letters = prom.Counter(
            "media_worker_dead_letters", "Messages sent to a dead-letter queue.", ["queue", "reason"],
            registry=registry,
        )
        self.lock_contention = prom.Counter(
            "media_worker_lock_contention", "Runs that found their job locked by another worker.", ["job_type"],
            registry=registry,
        )
        self.visibility_extensions = prom.Counter(
            "media_worker_visibility_extensions", "In-flight SQS messages whose visibility a heartbeat extended.",
            registry=registry,
        )
        self.lock_extensions = prom.Counter(
            "media_worker_lock_extensions", "Job locks a heartbeat extended.", registry=registry
        )
        self.queue_wait_seconds = prom.Histogram(
            "media_worker_queue_wait_seconds",
            "Time a message waited in its queue, from when it could first run to when a worker started it.",
            ["queue"], buckets=WAIT_SECONDS, registry=registry,
        )
        self.locks_lost = prom.Counter(
            "media_worker_locks_lost", "Job locks found expired or taken over when a heartbeat tried to extend them.",
            registry=registry,
        )
        self.started = True

    @_never_raises
    def job(self, job_type: str, outcome: str, seconds: float | None) -> None:
        self.jobs.labels(job_type, outcome).inc()
        if seconds is not None:
            self.job_seconds.labels(job_type).observe(seconds)

    @_never_raises
    def step(self, job_type: str, step: str, seconds: float) -> None:
        self.step_seconds.labels(job_type, step).observe(seconds)

    @_never_raises
    def queue_wait(self, queue: str, seconds: float) -> None:
        self.queue_wait_seconds.labels(queue).observe(seconds)

    @_never_raises
    def dead_letter(self, queue: str, reason: str) -> None:
        self.dead_letters.labels(queue, reason).inc()

    @_never_raises
    def lock_busy(self, job_type: str) -> None:
        self.lock_contention.labels(job_type).inc()

    @_never_raises
    def visibility_extended(self, count: int) -> None:
        self.visibility_extensions.inc(count)

    @_never_raises
    def locks_extended(self, extended: int, lost: int) -> None:
        self.lock_extensions.inc(extended)
        self.locks_lost.inc(lost)


#: The process's metrics; JobMetrics starts it in each worker process when METRICS_PORT is set.
METRICS = Metrics()


def counted(beat: Callable[[], int], record: Callable[[int], None]) -> Callable[[], int]:
    """``beat``, also passing the count it returns to ``record`` (a heartbeat step)."""

    @functools.wraps(beat)
    def run() -> int:
        count = beat()
        record(count)
        return count

    return run
