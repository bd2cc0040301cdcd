"""Repositories: every transition is ONE conditional UPDATE that reports
whether it took effect. Never read-then-write.

The fence of an attempt is the ``processing_started_at`` (``started_at`` for
AI jobs) that its mark_processing wrote; complete and fail match on it, so an
attempt whose lock expired and was taken over cannot overwrite the newer one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.exc import DBAPIError

from domain.entities import VideoOutput
from domain.errors import TransientError
from domain.statuses import (
    AI_COMPLETE_FROM,
    AI_FAIL_FROM,
    AI_MARK_PROCESSING_FROM,
    VIDEO_COMPLETE_FROM,
    VIDEO_FAIL_FROM,
    VIDEO_MARK_PROCESSING_FROM,
    AIJobStatus,
    VideoStatus,
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _values(statuses: frozenset) -> list[str]:
    return sorted(status.value for status in statuses)


class _SqlRepository:
    """Shared plumbing: one short transaction per statement, errors made transient."""

    def __init__(self, engine: Engine, table: Table) -> None:
        self.engine = engine
        self.table = table

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except DBAPIError as error:
            # The driver's text can name hosts and users; keep the reason plain.
            raise TransientError(f"the database is unavailable ({type(error.orig).__name__})") from error

    def _update(self, job_id: Any, from_statuses: frozenset, fence_column: str | None, fence: Any, **values) -> bool:
        table = self.table
        statement = update(table).where(table.c.id == job_id, table.c.status.in_(_values(from_statuses)))
        if fence is not None:
            statement = statement.where(table.c[fence_column] == fence)
        with self._connection() as connection:
            return connection.execute(statement.values(updated_at=utcnow(), **values)).rowcount == 1

    def _is_processing_under(self, job_id: Any, processing: str, fence_column: str, fence: datetime) -> bool:
        table = self.table
        statement = select(table.c.id).where(
            table.c.id == job_id, table.c.status == processing, table.c[fence_column] == fence
        )
        with self._connection() as connection:
            return connection.execute(statement).first() is not None

    def _status(self, job_id: Any) -> str | None:
        with self._connection() as connection:
            return connection.execute(select(self.table.c.status).where(self.table.c.id == job_id)).scalar()


class SqlVideoRepository(_SqlRepository):
    """VideoRepository on the video table.

    Parameters:
      engine: a SQLAlchemy engine (PostgreSQL through psycopg2, or SQLite).
      table: the video table from ``build_tables``.
    """

    def status_of(self, video_id: int) -> VideoStatus | None:
        status = self._status(video_id)
        return VideoStatus(status) if status else None

    def mark_processing(self, video_id: int) -> datetime | None:
        now = utcnow()
        changed = self._update(
            video_id, VIDEO_MARK_PROCESSING_FROM, None, None,
            status=VideoStatus.PROCESSING.value, processing_started_at=now, error_reason=None,
        )
        return now if changed else None

    def attempt_is_current(self, video_id: int, fence: datetime) -> bool:
        return self._is_processing_under(video_id, VideoStatus.PROCESSING.value, "processing_started_at", fence)

    def complete_video(self, video_id: int, output: VideoOutput, *, fence: datetime) -> bool:
        return self._update(
            video_id, VIDEO_COMPLETE_FROM, "processing_started_at", fence,
            status=VideoStatus.READY.value, hls_path=output.hls_path,
            thumbnail_key=output.thumbnail_key, duration_seconds=output.duration_seconds,
        )

    def fail_video(self, video_id: int, reason: str, *, fence: datetime | None = None) -> bool:
        return self._update(
            video_id, VIDEO_FAIL_FROM, "processing_started_at", fence,
            status=VideoStatus.FAILED.value, error_reason=reason,
        )


class SqlAIJobRepository(_SqlRepository):
    """AIJobRepository on the AI job table.

    Parameters:
      engine: a SQLAlchemy engine (PostgreSQL through psycopg2, or SQLite).
      table: the AI job table from ``build_tables``.
    """

    def status_of(self, job_id: str) -> AIJobStatus | None:
        status = self._status(job_id)
        return AIJobStatus(status) if status else None

    def mark_processing(self, job_id: str) -> datetime | None:
        now = utcnow()
        changed = self._update(
            job_id, AI_MARK_PROCESSING_FROM, None, None,
            status=AIJobStatus.PROCESSING.value, started_at=now, finished_at=None, error_message=None,
        )
        return now if changed else None

    def attempt_is_current(self, job_id: str, fence: datetime) -> bool:
        return self._is_processing_under(job_id, AIJobStatus.PROCESSING.value, "started_at", fence)

    def complete_job(self, job_id: str, result: dict[str, Any], *, fence: datetime) -> bool:
        return self._update(
            job_id, AI_COMPLETE_FROM, "started_at", fence,
            status=AIJobStatus.DONE.value, result=result, finished_at=utcnow(),
        )

    def fail_job(self, job_id: str, reason: str, *, fence: datetime | None = None) -> bool:
        return self._update(
            job_id, AI_FAIL_FROM, "started_at", fence,
            status=AIJobStatus.FAILED.value, error_message=reason, finished_at=utcnow(),
        )
