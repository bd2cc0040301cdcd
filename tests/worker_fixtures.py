"""Fixtures of the end-to-end and chaos tests: a fresh stack per module and the real worker command."""

from __future__ import annotations

import pytest

from tests.e2e.stack import Stack, WorkerProcess
from tests.media_samples import make_video
from tests.services import fresh_tables


@pytest.fixture(scope="module")
def stack(moto, pg_database):
    tables = fresh_tables()
    tables.create(pg_database)
    yield Stack(moto, pg_database, tables)
    tables.metadata.drop_all(pg_database)


@pytest.fixture(scope="module")
def worker(stack, tmp_path_factory):
    """One worker for the module, with the stack's default settings."""
    process = WorkerProcess(stack.env(), tmp_path_factory.mktemp("worker") / "worker.log")
    yield process
    process.terminate()


@pytest.fixture
def private_stack(stack):
    """Queues and a bucket of its own (sharing the module's tables), for workers with special settings."""
    return Stack(stack.moto, stack.database, stack.tables)


@pytest.fixture
def start_worker(private_stack, tmp_path):
    """Start workers with their own settings on ``private_stack``; all are stopped afterwards."""
    stack = private_stack
    started: list[WorkerProcess] = []

    def start(processes: int = 1, threads: int = 2, **overrides: str) -> WorkerProcess:
        process = WorkerProcess(
            stack.env(**overrides), tmp_path / f"worker-{len(started)}.log", processes=processes, threads=threads
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate()


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory):
    """3 s, 640x360, with audio."""
    return make_video(tmp_path_factory.mktemp("media") / "source.mp4", seconds=3, width=640, height=360)


@pytest.fixture(scope="session")
def silent_video(tmp_path_factory):
    """2 s, 320x180, without audio: below the lowest rung."""
    return make_video(tmp_path_factory.mktemp("media") / "silent.mp4", seconds=2, width=320, height=180, audio=False)
