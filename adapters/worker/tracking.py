"""JobTracking: the job context of each message, and one "job finished" log line."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from time import monotonic

import dramatiq
from dramatiq.middleware import Middleware

from adapters.worker.context import JobContext, current_job, enter_job, leave_job
from adapters.worker.labels import FAILED, REJECTED, RETRIED, SUPERSEDED, JobLabels, identify, job_outcome

log = logging.getLogger(__name__)

WARN_OUTCOMES = frozenset({FAILED, RETRIED, REJECTED, SUPERSEDED})


class JobTracking(Middleware):
    """Sets the current job (type, id, attempt) while a message runs, and logs
    "job finished" with its outcome and duration when it ends.

    Put it first in the broker's middleware: Dramatiq runs ``after_*`` hooks
    in reverse, so the context then covers every other hook's log lines and
    the retry middleware has already decided whether the message failed.

    Parameters:
      kinds: actor name -> how its jobs are named (JobLabels).
    """

    def __init__(self, kinds: Mapping[str, JobLabels]) -> None:
        self.kinds = dict(kinds)

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        info = identify(message, self.kinds)
        attempt = int(message.options.get("retries", 0) or 0) + 1
        enter_job(JobContext(job_type=info.job_type, job_id=info.job_id, attempt=attempt, key=info.key))

    def after_process_message(
        self, broker: dramatiq.Broker, message: dramatiq.MessageProxy, *, result=None, exception=None
    ) -> None:
        job = current_job()
        if job is not None:
            self._finished(job, job_outcome(message, job.outcome, exception))

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        job = current_job()
        if job is not None:
            self._finished(job, REJECTED)

    def _finished(self, job: JobContext, outcome: str) -> None:
        try:
            level = logging.WARNING if outcome in WARN_OUTCOMES else logging.INFO
            log.log(level, "job finished", extra={"outcome": outcome, "duration": round(monotonic() - job.started, 3)})
        finally:
            leave_job()
