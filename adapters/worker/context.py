"""The job the current worker thread is running, for log lines and metrics.

Dramatiq runs a message's middleware hooks and its actor in the same worker
thread, so a ContextVar set in ``before_process_message`` is seen by every
log call of the job, by the progress sink and by the other middleware hooks.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from time import monotonic


@dataclass
class JobContext:
    """One run of one message.

    Parameters:
      job_type: the bounded job type label ("video", "ocr").
      job_id: the job's id as text.
      attempt: retries so far + 1.
      key: the job's progress key ("video:42"), None when the body has no id.
      started: ``time.monotonic()`` when the run began.
      step: the last progress step written, None before the first.
      step_started: ``time.monotonic()`` when ``step`` began.
      outcome: the Outcome value the actor reported, None until it returns.
    """

    job_type: str
    job_id: str
    attempt: int
    key: str | None = None
    started: float = field(default_factory=monotonic)
    step: str | None = None
    step_started: float = 0.0
    outcome: str | None = None


_current: ContextVar[JobContext | None] = ContextVar("media_worker_job", default=None)


def current_job() -> JobContext | None:
    return _current.get()


def enter_job(job: JobContext) -> None:
    _current.set(job)


def leave_job() -> None:
    _current.set(None)


def report_outcome(outcome: str) -> None:
    """Called by an actor with its handler's Outcome value (completed / skipped / superseded).

    Actors do not return it: without a results backend Dramatiq warns about
    every returned value.
    """
    job = _current.get()
    if job is not None:
        job.outcome = outcome
