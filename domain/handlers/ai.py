"""ProcessAIJobHandler: one AI message, from lock to final row."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from domain.entities import AIJobRequest
from domain.errors import PermanentError
from domain.handlers.flow import JobRow, Outcome, give_up_job, run_job
from domain.ports import AIJobRepository, JobLock, ProgressSink
from domain.progress import AI_STEPS, Progress
from domain.statuses import AI_FINAL


class UnknownJobType(PermanentError):
    """The message names a job_type no engine is registered for."""


class Engine(Protocol):
    """An AI engine: runs one job's payload and returns its JSON result.

    ``is_current()`` tells whether this attempt still owns the job; an engine
    that writes files checks it just before writing and raises
    AttemptSuperseded when it is false.
    """

    def run(self, request: AIJobRequest, progress: Progress, is_current: Callable[[], bool]) -> dict[str, Any]: ...


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
        progress = Progress(self.progress, request.lock_key, AI_STEPS)
        return run_job(
            self._row(request.job_id), self.lock, progress, lambda fence: self._run(request, progress, fence), "saving"
        )

    def give_up(self, job_id: str, reason: str) -> bool:
        """Fail the row after the last retry (or a rejected message); True if it changed."""
        return give_up_job(self._row(job_id), self.lock, Progress(self.progress, f"ai:{job_id}", AI_STEPS), reason)

    def _run(self, request: AIJobRequest, progress: Progress, fence: datetime) -> dict[str, Any]:
        engine = self.engines.get(request.job_type)
        if engine is None:
            raise UnknownJobType(f"no engine is registered for job_type {request.job_type!r}")
        return engine.run(request, progress, lambda: self.jobs.attempt_is_current(request.job_id, fence))

    def _row(self, job_id: str) -> JobRow[dict[str, Any]]:
        jobs = self.jobs
        return JobRow(
            label=f"AI job {job_id}",
            lock_key=f"ai:{job_id}",
            final=AI_FINAL,
            status_of=lambda: jobs.status_of(job_id),
            mark_processing=lambda: jobs.mark_processing(job_id),
            complete=lambda result, fence: jobs.complete_job(job_id, result, fence=fence),
            fail=lambda reason, fence: jobs.fail_job(job_id, reason, fence=fence),
        )
