"""ProcessAIJobHandler against in-memory fakes: the shared flow on AI rows."""

from __future__ import annotations

import pytest

from domain.ai.handler import ProcessAIJobHandler
from domain.ai.model import AI, AIJobRequest, AIJobStatus
from domain.errors import SourceNotFound, TransientError, UnknownJobType, UnsafeKey
from domain.flow import Outcome
from tests.unit.fakes import FakeEngine, FakeJobRepository, FakeLock, FakeProgress, FakeRow, FakeStorage

JOB_ID = "5f0c2f0e-8d1a-4a52-9a51-0d3c1f1f8b11"
REQUEST = AIJobRequest(JOB_ID, "echo", {"text": "안녕"}, 7)


def echo(request, source, progress):
    progress.step("running", 0.5)
    return {"text": request.payload["text"], "input": source.read_bytes().decode() if source else None}


def flaky(request, source, progress):
    raise TransientError("the engine's model server is busy")


Echo, Flaky = (lambda: FakeEngine(echo)), (lambda: FakeEngine(flaky))


def build(status=AIJobStatus.PENDING, engines=None, objects=None, allowed_prefixes=()):
    repo = FakeJobRepository(AI, FakeRow(JOB_ID, status))
    lock, progress = FakeLock(), FakeProgress()
    engines = {"echo": Echo()} if engines is None else engines
    handler = ProcessAIJobHandler(jobs=repo, lock=lock, progress=progress, engines=engines,
                                  storage=FakeStorage(objects or {}), allowed_prefixes=allowed_prefixes)
    return handler, repo, lock, progress


def test_engine_result_lands_in_a_done_row():
    handler, repo, lock, progress = build()
    assert handler.handle(REQUEST) is Outcome.COMPLETED
    assert repo.rows[JOB_ID].status is AIJobStatus.DONE
    assert repo.rows[JOB_ID].result == {"text": "안녕", "input": None}
    assert [r[1] for r in progress.reports] == ["running", "running", "saving", "done"]
    assert lock.held == set()


def test_unknown_job_type_fails_the_row_with_a_reason_naming_it():
    handler, repo, *_ = build(engines={})
    with pytest.raises(UnknownJobType):
        handler.handle(REQUEST)
    assert repo.rows[JOB_ID].error == "no engine is registered for job_type 'echo'"


def test_done_row_is_skipped():
    handler, repo, *_ = build(AIJobStatus.DONE)
    assert handler.handle(REQUEST) is Outcome.SKIPPED and repo.writes == []


def test_transient_engine_error_is_left_to_the_retry():
    handler, repo, lock, progress = build(engines={"echo": Flaky()})
    with pytest.raises(TransientError):
        handler.handle(REQUEST)
    assert repo.rows[JOB_ID].status is AIJobStatus.PROCESSING and lock.held == set()
    # Whoever watches sees why it waits, in a step of CONTRACT section 3.
    assert progress.reports[-1][1:] == ("running", 10, "the engine's model server is busy")
    assert handler.give_up(JOB_ID, "gave up after 3 attempts") is True
    assert repo.rows[JOB_ID].status is AIJobStatus.FAILED


def test_the_input_file_is_checked_and_downloaded_before_the_engine_runs():
    engines = {"echo": FakeEngine(echo, takes_file=True)}
    request = AIJobRequest(JOB_ID, "echo", {"text": "x", "file_key": "uploads/7/page.txt"}, 7)
    handler, repo, _, progress = build(engines=engines, objects={"uploads/7/page.txt": b"page"},
                                       allowed_prefixes=("uploads/",))
    assert handler.handle(request) is Outcome.COMPLETED
    assert repo.rows[JOB_ID].result["input"] == "page"
    assert [r[1] for r in progress.reports] == ["downloading", "running", "running", "saving", "done"]

    for key, error in (("elsewhere/page.txt", UnsafeKey), ("uploads/missing.txt", SourceNotFound)):
        handler, repo, *_ = build(engines=engines, objects={}, allowed_prefixes=("uploads/",))
        with pytest.raises(error):
            handler.handle(AIJobRequest(JOB_ID, "echo", {"text": "x", "file_key": key}, 7))
        assert repo.rows[JOB_ID].status is AIJobStatus.FAILED


@pytest.mark.parametrize("taken_over", [False, True])
def test_files_are_uploaded_only_while_the_attempt_still_owns_the_job(taken_over):
    def run(request, source, progress):
        if taken_over:  # the lock expired while it was stalled, and a newer attempt started
            repo.mark_processing(request.job_id)
        return {"text": "written"}

    engines = {"echo": FakeEngine(run, files={"captions.vtt": b"WEBVTT\n"})}
    handler, repo, lock, progress = build(engines=engines)
    outcome = handler.handle(REQUEST)
    storage = handler.storage
    if taken_over:
        assert outcome is Outcome.SUPERSEDED and storage.objects == {}
        assert ("complete", JOB_ID) not in repo.writes
    else:
        assert outcome is Outcome.COMPLETED and repo.rows[JOB_ID].result == {"text": "written"}
        assert storage.objects == {f"ai/7/{JOB_ID}/captions.vtt": b"WEBVTT\n"}
        assert [r[1] for r in progress.reports] == ["running", "saving", "saving", "done"]
    assert lock.held == set()
