"""ProcessAIJobHandler against in-memory fakes: the shared flow on AI rows."""

from __future__ import annotations

import pytest

from domain.entities import AIJob, AIJobRequest
from domain.errors import TransientError
from domain.handlers.ai import ProcessAIJobHandler, UnknownJobType
from domain.handlers.flow import AttemptSuperseded, Outcome
from domain.statuses import AIJobStatus
from tests.unit.fakes import FakeAIJobRepository, FakeLock, FakeProgress

JOB_ID = "5f0c2f0e-8d1a-4a52-9a51-0d3c1f1f8b11"
REQUEST = AIJobRequest(JOB_ID, "echo", {"text": "안녕"}, 7)


class Echo:
    def run(self, request, progress, is_current):
        progress.step("running", 0.5)
        return {"text": request.payload["text"]}


class Flaky:
    def run(self, request, progress, is_current):
        raise TransientError("the engine's model server is busy")


class WritesFiles:
    """Asks whether its attempt is current before writing, as the sandbox does."""

    def __init__(self, repo, taken_over: bool) -> None:
        self.repo, self.taken_over, self.answers = repo, taken_over, []

    def run(self, request, progress, is_current):
        if self.taken_over:  # the lock expired while stalled; a newer attempt started
            self.repo.rows[request.job_id].started_at = self.repo.mark_processing(request.job_id)
        self.answers.append(is_current())
        if not self.answers[-1]:
            raise AttemptSuperseded(f"AI job {request.job_id}")
        return {"text": "written"}


def build(status=AIJobStatus.PENDING, engines=None):
    repo = FakeAIJobRepository(AIJob(id=JOB_ID, job_type="echo", status=status))
    lock, progress = FakeLock(), FakeProgress()
    engines = {"echo": Echo()} if engines is None else engines
    return ProcessAIJobHandler(jobs=repo, lock=lock, progress=progress, engines=engines), repo, lock, progress


def test_engine_result_lands_in_a_done_row():
    handler, repo, lock, progress = build()
    assert handler.handle(REQUEST) is Outcome.COMPLETED
    assert repo.rows[JOB_ID].status is AIJobStatus.DONE and repo.rows[JOB_ID].result == {"text": "안녕"}
    assert [r[1] for r in progress.reports] == ["running", "saving", "done"]
    assert lock.held == set()


def test_unknown_job_type_fails_the_row_with_a_reason_naming_it():
    handler, repo, *_ = build(engines={})
    with pytest.raises(UnknownJobType):
        handler.handle(REQUEST)
    assert repo.rows[JOB_ID].error_message == "no engine is registered for job_type 'echo'"


def test_done_row_is_skipped():
    handler, repo, *_ = build(AIJobStatus.DONE)
    assert handler.handle(REQUEST) is Outcome.SKIPPED and repo.writes == []


def test_transient_engine_error_is_left_to_the_retry():
    handler, repo, lock, _ = build(engines={"echo": Flaky()})
    with pytest.raises(TransientError):
        handler.handle(REQUEST)
    assert repo.rows[JOB_ID].status is AIJobStatus.PROCESSING and lock.held == set()
    assert handler.give_up(JOB_ID, "gave up after 3 attempts") is True
    assert repo.rows[JOB_ID].status is AIJobStatus.FAILED


@pytest.mark.parametrize("taken_over", [False, True])
def test_engine_is_told_whether_its_attempt_still_owns_the_job(taken_over):
    handler, repo, lock, _ = build()
    engine = WritesFiles(repo, taken_over)
    handler.engines = {"echo": engine}
    outcome = handler.handle(REQUEST)
    assert engine.answers == [not taken_over]
    assert outcome is (Outcome.SUPERSEDED if taken_over else Outcome.COMPLETED)
    assert ("complete_job", JOB_ID) not in repo.writes if taken_over else repo.rows[JOB_ID].result == {"text": "written"}
    assert lock.held == set()
