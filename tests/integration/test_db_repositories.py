"""Repositories on real PostgreSQL (and SQLite): one conditional UPDATE per transition."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, inspect, select

from adapters.db import SqlJobRepository, connect_database
from domain.ai.model import AIJobStatus
from domain.errors import TransientError
from domain.video.model import VideoOutput, VideoStatus
from tests.conftest import insert_ai_job, insert_video
from tests.services import fresh_tables

OUTPUT = VideoOutput("videos/7/1/hls/master.m3u8", "videos/7/1/thumbnail.jpg", 12.5)
JOB_ID = "5f0c2f0e-8d1a-4a52-9a51-0d3c1f1f8b11"


@pytest.fixture(params=["postgresql", "sqlite"])
def db(request, tmp_path):
    if request.param == "postgresql":
        engine, tables = request.getfixturevalue("pg_database"), request.getfixturevalue("tables")
    else:
        engine = connect_database(f"sqlite:///{tmp_path / 'jobs.db'}")
        tables = fresh_tables()
        tables.create(engine)
    return engine, tables


def row(engine, table, job_id):
    with engine.connect() as connection:
        return connection.execute(select(table).where(table.c.id == job_id)).mappings().one()


def count_updates(engine):
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    return statements


def test_contract_columns_on_postgresql(pg_database, tables):
    columns = {c["name"]: c for c in inspect(pg_database).get_columns(tables["video"].name)}
    assert list(columns) == [
        "id", "tenant_id", "file_key", "status", "hls_path", "thumbnail_key", "duration_seconds",
        "error_reason", "processing_started_at", "created_at", "updated_at",
    ]
    assert str(columns["id"]["type"]) == "BIGINT"
    assert str(columns["status"]["type"]) == "VARCHAR(20)"
    assert str(columns["file_key"]["type"]) == "VARCHAR(1024)"
    assert str(columns["duration_seconds"]["type"]) == "DOUBLE PRECISION"
    assert columns["processing_started_at"]["type"].timezone is True
    ai = {c["name"]: c for c in inspect(pg_database).get_columns(tables["ai"].name)}
    assert list(ai) == [
        "id", "tenant_id", "job_type", "status", "payload", "result", "error_message",
        "started_at", "finished_at", "created_at", "updated_at",
    ]
    assert str(ai["id"]["type"]) == "VARCHAR(64)" and str(ai["payload"]["type"]) == "JSONB"


def test_video_lifecycle_is_one_update_each(db):
    engine, tables = db
    insert_video(engine, tables["video"], 1, "uploads/7/1/source.mp4")
    repo = SqlJobRepository(engine, tables.kinds["video"])
    statements = count_updates(engine)
    fence = repo.mark_processing(1)
    assert fence is not None
    assert repo.complete(1, OUTPUT, fence=fence) is True
    assert [s.split()[0] for s in statements] == ["UPDATE", "UPDATE"]
    assert all("status IN" in s for s in statements)
    saved = row(engine, tables["video"], 1)
    assert saved["status"] == "READY" and saved["hls_path"] == OUTPUT.hls_path
    assert saved["duration_seconds"] == 12.5 and saved["updated_at"] >= saved["created_at"]
    assert repo.mark_processing(1) is None  # READY is final
    assert repo.fail(1, "late") is False
    assert repo.status_of(1) is VideoStatus.READY
    assert repo.status_of(999) is None


@pytest.mark.parametrize("status,allowed", [("PENDING", True), ("UPLOADED", True), ("PROCESSING", True),
                                            ("FAILED", True), ("READY", False)])
def test_video_mark_processing_from(db, status, allowed):
    engine, tables = db
    insert_video(engine, tables["video"], 2, "k", status=status)
    assert (SqlJobRepository(engine, tables.kinds["video"]).mark_processing(2) is not None) is allowed


def test_fence_stops_a_stale_attempt(db):
    engine, tables = db
    insert_video(engine, tables["video"], 3, "k")
    repo = SqlJobRepository(engine, tables.kinds["video"])
    stale = repo.mark_processing(3)
    newer = repo.mark_processing(3)
    assert stale != newer
    assert repo.attempt_is_current(3, newer) is True and repo.attempt_is_current(3, stale) is False
    assert repo.complete(3, OUTPUT, fence=stale) is False
    assert repo.fail(3, "stale", fence=stale) is False
    assert repo.complete(3, OUTPUT, fence=newer) is True


def test_failed_row_keeps_reason_and_retry_clears_it(db):
    engine, tables = db
    insert_video(engine, tables["video"], 4, "k")
    repo = SqlJobRepository(engine, tables.kinds["video"])
    fence = repo.mark_processing(4)
    assert repo.fail(4, "the source is not a video file", fence=fence)
    assert row(engine, tables["video"], 4)["error_reason"] == "the source is not a video file"
    assert repo.mark_processing(4) is not None  # FAILED -> PROCESSING: a deliberate retry
    assert row(engine, tables["video"], 4)["error_reason"] is None


def test_concurrent_completes_write_once(pg_database, tables):
    insert_video(pg_database, tables["video"], 5, "k")
    repo = SqlJobRepository(pg_database, tables.kinds["video"])
    fence = repo.mark_processing(5)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: repo.complete(5, OUTPUT, fence=fence), range(16)))
    assert results.count(True) == 1


def test_ai_lifecycle(db):
    engine, tables = db
    insert_ai_job(engine, tables["ai"], JOB_ID, "ocr", {"file_key": "a.png"})
    repo = SqlJobRepository(engine, tables.kinds["ai"])
    stale = repo.mark_processing(JOB_ID)
    fence = repo.mark_processing(JOB_ID)
    assert repo.attempt_is_current(JOB_ID, fence) is True and repo.attempt_is_current(JOB_ID, stale) is False
    assert repo.complete(JOB_ID, {"text": "안녕 hello"}, fence=fence)
    assert repo.attempt_is_current(JOB_ID, fence) is False  # DONE: no attempt owns it any more
    saved = row(engine, tables["ai"], JOB_ID)
    assert saved["status"] == "DONE" and saved["result"] == {"text": "안녕 hello"} and saved["finished_at"]
    assert repo.mark_processing(JOB_ID) is None and repo.status_of(JOB_ID) is AIJobStatus.DONE
    assert repo.fail(JOB_ID, "late") is False


def test_state_of_tells_status_tenant_and_an_aware_creation_time(db):
    engine, tables = db
    insert_video(engine, tables["video"], 77, "uploads/7/77/source.mp4", status="READY", tenant_id=None)
    state = SqlJobRepository(engine, tables.kinds["video"]).state_of(77)
    assert state.status is VideoStatus.READY and state.tenant_id is None
    # Compared with the time now by the captions' 6-hour wait: naive (SQLite) would raise TypeError.
    assert state.created_at.tzinfo is not None and abs(datetime.now(timezone.utc) - state.created_at) < timedelta(minutes=5)
    assert SqlJobRepository(engine, tables.kinds["video"]).state_of(78) is None


def test_database_down_is_transient_without_secrets():
    engine = connect_database("postgresql+psycopg2://secretuser:secretpw@127.0.0.1:1/none")
    repo = SqlJobRepository(engine, fresh_tables().kinds["video"])
    with pytest.raises(TransientError) as caught:
        repo.mark_processing(1)
    assert "secret" not in caught.value.reason and "database is unavailable" in caught.value.reason
