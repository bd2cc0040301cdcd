"""ObservedProgress: a ProgressSink that also tracks the running job's step."""

from __future__ import annotations

from time import monotonic

from adapters.metrics.prometheus import Metrics
from adapters.worker.context import current_job
from domain.ports import ProgressSink


class ObservedProgress:
    """Writes each report to ``sink``; when the report is the running job's and
    starts a new step, it records the step on the job context (log lines carry
    it) and observes how long the previous step took.

    Reports of no running job (a give-up in the consumer thread) only go to
    ``sink``. The last step before an error is not observed: it did not end.

    Parameters:
      sink: where reports are written (RedisProgress).
      metrics: where step durations are observed.
    """

    def __init__(self, sink: ProgressSink, metrics: Metrics) -> None:
        self.sink = sink
        self.metrics = metrics

    def write(self, key: str, step: str, percent: int, message: str) -> None:
        self.sink.write(key, step, percent, message)
        self._observe(key, step)

    def raise_to(self, key: str, step: str, percent: int, message: str) -> bool:
        written = self.sink.raise_to(key, step, percent, message)
        self._observe(key, step)
        return written

    def _observe(self, key: str, step: str) -> None:
        job = current_job()
        if job is None or job.key != key or job.step == step:
            return
        now = monotonic()
        if job.step is not None:
            self.metrics.step(job.job_type, job.step, now - job.step_started)
        job.step, job.step_started = step, now
