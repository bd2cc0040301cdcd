"""The flow every job handler shares: lock -> mark_processing (skip if final)
-> work -> complete -> release, with failure and give-up rules."""

from __future__ import annotations

import logging
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar

from domain.errors import JobNotFound, LockBusy, PermanentError, TransientError
from domain.jobs import JobKind
from domain.ports import JobLock, JobRepository, ProgressSink
from domain.progress import Progress

log = logging.getLogger(__name__)
Request = TypeVar("Request")
Result = TypeVar("Result")


class Outcome(str, Enum):
    COMPLETED = "completed"
    SKIPPED = "skipped"  # the row was already final (or its work runs elsewhere): ack, never reprocess
    SUPERSEDED = "superseded"  # a newer attempt owns the row: our result is dropped
    DEFERRED = "deferred"  # the work goes on in other messages (a video's parts): the row stays PROCESSING


class Deferred:
    """What ``work`` returns when the job's work goes on in other messages (a video encoded in
    parts): nothing is completed now; those messages finish or fail the row under its fence."""


class AttemptSuperseded(Exception):
    """Raised by a job's work when a newer attempt has taken the row over (its
    lock expired while it was stalled): stop without writing anything more."""


class JobHandler(Generic[Request, Result]):
    """Runs one job of a kind from lock to final row; subclasses say what the work is.

    ``handle`` takes the job's lock before any repository call and always
    releases it. A permanent error fails the row with its reason and is
    re-raised (dead letter, no retry); any other error leaves the row to the
    retry and is re-raised, the reason of a transient one shown in the progress.

    Parameters:
      kind: the kind of job (its keys, steps and statuses).
      jobs: the repository of the kind's rows.
      lock: the per-job lock.
      progress: where live progress is written.
    """

    def __init__(self, *, kind: JobKind, jobs: JobRepository, lock: JobLock, progress: ProgressSink) -> None:
        self.kind = kind
        self.jobs = jobs
        self.lock = lock
        self.progress = progress

    def handle(self, request: Request) -> Outcome:
        job_id = request.job_id  # type: ignore[attr-defined]
        key = self.kind.key(job_id)
        progress = Progress(self.progress, key, self.kind.steps)
        if not self.lock.acquire(key):
            raise LockBusy(f"{self.kind.label(job_id)} is being processed by another worker")
        try:
            if self.running_elsewhere(request):
                log.info("%s is running in other messages; duplicate acknowledged", self.kind.label(job_id))
                return Outcome.SKIPPED
            fence = self.jobs.mark_processing(job_id)
            if fence is None:
                return self._not_startable(job_id)
            try:
                result = self.work(request, fence, progress)
            except AttemptSuperseded:
                log.warning("%s was taken over by a newer attempt; stopped before writing", self.kind.label(job_id))
                return Outcome.SUPERSEDED
            except PermanentError as error:
                self.jobs.fail(job_id, error.reason, fence=fence)
                progress.failed(error.reason)
                raise
            except TransientError as error:
                progress.note(error.reason)  # people watching see why it stalls; the retry decides the rest
                raise
            if isinstance(result, Deferred):
                return Outcome.DEFERRED
            progress.step(self.kind.last_step)
            if not self.jobs.complete(job_id, result, fence=fence):
                log.warning("%s was taken over by a newer attempt; result dropped", self.kind.label(job_id))
                return Outcome.SUPERSEDED
            progress.step("done")
            return Outcome.COMPLETED
        finally:
            self.lock.release(key)

    def give_up(self, job_id: Any, reason: str) -> bool:
        """Fail the row after the last retry (or a rejected message); True if it changed.

        Under the lock: a worker running the job right now (a duplicate
        delivery) decides its outcome and is not failed under its feet.
        """
        key = self.kind.key(job_id)
        if not self.lock.acquire(key):
            log.warning("%s is running elsewhere; its row is left to that attempt", self.kind.label(job_id))
            return False
        try:
            changed = self.jobs.fail(job_id, reason)
        finally:
            self.lock.release(key)
        if changed:
            Progress(self.progress, key, self.kind.steps).failed(reason)
        return changed

    def running_elsewhere(self, request: Request) -> bool:
        """Under the lock, before ``mark_processing``: True when the job's current attempt goes on in
        other messages (a duplicate must not start a second one); the message is then acknowledged."""
        return False

    def work(self, request: Request, fence: datetime, progress: Progress) -> Result | Deferred:
        """The job's own work, under its lock, after ``mark_processing``; return what ``complete``
        writes, or ``Deferred()`` when other messages finish the job."""
        raise NotImplementedError

    def ensure_current(self, job_id: Any, fence: datetime) -> None:
        """Raise AttemptSuperseded when a newer attempt took the row over (call before writing outputs)."""
        if not self.jobs.attempt_is_current(job_id, fence):
            raise AttemptSuperseded(self.kind.label(job_id))

    def _not_startable(self, job_id: Any) -> Outcome:
        status = self.jobs.status_of(job_id)
        label = self.kind.label(job_id)
        if status is None:
            raise JobNotFound(f"{label} does not exist")
        if status in self.kind.final:
            log.info("%s is already %s; message acknowledged", label, status.value)
            return Outcome.SKIPPED
        # Only a final status refuses mark_processing; anything else is a row
        # changed under us between the two statements: let the retry decide.
        raise LockBusy(f"{label} changed status to {status.value} while starting")
