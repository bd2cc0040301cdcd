"""JobTracking: the job context of each message, and one "job finished" log line."""

from __future__ import annotations

import logging
from time import monotonic

import dramatiq
from dramatiq.middleware import Middleware

from adapters.worker.context import JobContext, current_job, enter_job, leave_job
from adapters.worker.labels import FAILED, JOB_LABELS, REJECTED, RETRIED, SUPERSEDED, identify, job_outcome
from adapters.worker.options import actor_option

log = logging.getLogger(__name__)

WARN_OUTCOMES = frozenset({FAILED, RETRIED, REJECTED, SUPERSEDED})


class JobTracking(Middleware):
    """Sets the current job (type, id, attempt) while a message runs, and logs
    "job finished" with its outcome and duration when it ends.

    Put it first in the broker's middleware: Dramatiq runs ``after_*`` hooks
    in reverse, so the context then covers every other hook's log lines and
    the retry middleware has already decided whether the message failed.

    An actor's ``job_labels`` option (JobLabels) says how its jobs are named.
    """

    @property
    def actor_options(self) -> set[str]:
        return {JOB_LABELS}

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        info = identify(message, actor_option(broker, message, JOB_LABELS))
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
