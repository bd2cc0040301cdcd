"""Running one AI engine as the worker does: sandboxed, through the AI handler, on fakes of the other ports."""

from __future__ import annotations

from domain.ai.handler import ProcessAIJobHandler
from domain.ai.model import AI, AIJobRequest, AIJobStatus
from domain.flow import Outcome
from tests.unit.fakes import FakeJobRepository, FakeLock, FakeProgress, FakeRow, FakeStorage

JOB = "5f0c2f0e-8d1a-4a52-9a51-0d3c1f1f8b11"


class _TakenOver:
    """Wraps an engine: once it has run, a newer attempt takes the job over (the lock expired while it stalled)."""

    def __init__(self, engine, jobs: FakeJobRepository) -> None:
        self.engine, self.jobs = engine, jobs

    def prepare(self, payload):
        return self.engine.prepare(payload)

    def input_key(self, payload):
        return self.engine.input_key(payload)

    def earlier_output(self, request, fetch, workdir):
        return self.engine.earlier_output(request, fetch, workdir)

    def run(self, request, source, workdir, progress):
        output = self.engine.run(request, source, workdir, progress)
        self.jobs.mark_processing(request.job_id)
        return output


def run_engine(engine, job_type: str, payload: dict, *, storage: FakeStorage | None = None, tenant: int | None = 7,
               job_id: str = JOB, taken_over: bool = False):
    """Run ``engine`` on one job; return (the row's result or None, the bucket's objects, the progress reports, the Outcome).

    Errors the handler re-raises (permanent, transient) propagate, as they would to the actor.
    """
    storage = storage if storage is not None else FakeStorage()
    sink = FakeProgress()
    jobs = FakeJobRepository(AI, FakeRow(job_id, AIJobStatus.PENDING, tenant_id=tenant))
    if taken_over:
        engine = _TakenOver(engine, jobs)
    handler = ProcessAIJobHandler(jobs=jobs, lock=FakeLock(), progress=sink, storage=storage,
                                  engines={job_type: engine})
    outcome = handler.handle(AIJobRequest(job_id, job_type, payload, tenant))
    result = jobs.rows[job_id].result if outcome is Outcome.COMPLETED else None
    return result, storage.objects, sink.reports, outcome
