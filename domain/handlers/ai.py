"""ProcessAIJobHandler: one AI message, from lock to final row."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from domain.entities import AIJobRequest
from domain.errors import JobNotFound, LockBusy, PermanentError
from domain.handlers.video import Outcome
from domain.ports import AIJobRepository, JobLock, ProgressSink
from domain.progress import AI_STEPS, Progress
from domain.statuses import AI_FINAL

log = logging.getLogger(__name__)


class UnknownJobType(PermanentError):
    """The message names a job_type no engine is registered for."""


class Engine(Protocol):
    """An AI engine: runs one job's payload and returns its JSON result."""

    def run(self, request: AIJobRequest, progress: Progress) -> dict[str, Any]: ...


class ProcessAIJobHandler:
    """The video handler's flow for AI jobs: lock -> skip if final ->
    mark_processing -> run the engine -> complete_job -> release.

    Parameters:
      jobs: the repository of AI job rows.
      lock: the per-job lock; taken before any repository call.
      progress: where live progress is written.
      engines: job_type -> the engine that runs it.
    """

    def __init__(
        self, *, jobs: AIJobRepository, lock: JobLock, progress: ProgressSink, engines: Mapping[str, Engine]
    ) -> None:
        self.jobs = jobs
        self.lock = lock
        self.progress = progress
        self.engines = engines

    def handle(self, request: AIJobRequest) -> Outcome:
        if not self.lock.acquire(request.lock_key):
            raise LockBusy(f"AI job {request.job_id} is being processed by another worker")
        try:
            fence = self.jobs.mark_processing(request.job_id)
            if fence is None:
                return self._not_startable(request)
            return self._run_attempt(request, fence)
        finally:
            self.lock.release(request.lock_key)

    def give_up(self, job_id: str, reason: str) -> bool:
        """Fail the row after the last retry (or a rejected message), under the
        lock like the video handler's; True if it changed."""
        key = f"ai:{job_id}"
        if not self.lock.acquire(key):
            log.warning("AI job %s is running elsewhere; its row is left to that attempt", job_id)
            return False
        try:
            changed = self.jobs.fail_job(job_id, reason)
        finally:
            self.lock.release(key)
        if changed:
            Progress(self.progress, key, AI_STEPS).failed(reason)
        return changed

    def _not_startable(self, request: AIJobRequest) -> Outcome:
        status = self.jobs.status_of(request.job_id)
        if status is None:
            raise JobNotFound(f"AI job {request.job_id} does not exist")
        if status in AI_FINAL:
            log.info("AI job %s is already %s; message acknowledged", request.job_id, status.value)
            return Outcome.SKIPPED
        raise LockBusy(f"AI job {request.job_id} changed status to {status.value} while starting")

    def _run_attempt(self, request: AIJobRequest, fence: datetime) -> Outcome:
        progress = Progress(self.progress, request.lock_key, AI_STEPS)
        try:
            engine = self.engines.get(request.job_type)
            if engine is None:
                raise UnknownJobType(f"no engine is registered for job_type {request.job_type!r}")
            result = engine.run(request, progress)
        except PermanentError as error:
            self.jobs.fail_job(request.job_id, error.reason, fence=fence)
            progress.failed(error.reason)
            raise
        progress.step("saving")
        if not self.jobs.complete_job(request.job_id, result, fence=fence):
            log.warning("AI job %s was taken over by a newer attempt; result dropped", request.job_id)
            return Outcome.SUPERSEDED
        progress.step("done")
        return Outcome.COMPLETED
