"""SqlJobRepository: every transition is ONE conditional UPDATE that reports
whether it took effect. Never read-then-write.

The fence of an attempt is the start time its mark_processing wrote
(``processing_started_at`` for videos, ``started_at`` for AI jobs);
complete and fail match on it, so an attempt whose lock expired and was
taken over cannot overwrite the newer one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import DBAPIError

from adapters.db.tables import KindTable
from domain.errors import TransientError
from domain.jobs import JobState


def as_utc(moment: datetime | None) -> datetime | None:
    """``moment`` timezone-aware: SQLite gives back naive datetimes, which are UTC here (CONTRACT 2)."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _values(statuses: frozenset) -> list[str]:
    return sorted(status.value for status in statuses)


class SqlJobRepository:
    """The JobRepository port on one kind's table.

    Parameters:
      database: the database (a SQLAlchemy Engine: PostgreSQL through psycopg2, or SQLite).
      table: the kind's table, with its transitions and the columns it writes.
    """

    def __init__(self, database: Engine, table: KindTable) -> None:
        self.database = database
        self.kind = table.kind
        self.table = table.table
        self.spec = table.spec

    def status_of(self, job_id: Any) -> Enum | None:
        with self._connection() as connection:
            status = connection.execute(select(self.table.c.status).where(self.table.c.id == job_id)).scalar()
        return self.kind.statuses(status) if status else None

    def state_of(self, job_id: Any) -> JobState | None:
        columns = self.table.c
        with self._connection() as connection:
            row = connection.execute(select(columns.status, columns.tenant_id, columns.created_at,
                                            columns[self.spec.started].label("started"))
                                     .where(columns.id == job_id)).first()
        if row is None:
            return None
        return JobState(self.kind.statuses(row.status), row.tenant_id, as_utc(row.created_at), as_utc(row.started))

    def mark_processing(self, job_id: Any) -> datetime | None:
        now = utcnow()
        values = {self.spec.started: now, self.spec.error: None}
        if self.spec.finished:
            values[self.spec.finished] = None
        changed = self._update(job_id, self.kind.start_from, None, status=self.kind.processing.value, **values)
        return now if changed else None

    def attempt_is_current(self, job_id: Any, fence: datetime) -> bool:
        table = self.table
        statement = select(table.c.id).where(
            table.c.id == job_id,
            table.c.status == self.kind.processing.value,
            table.c[self.spec.started] == fence,
        )
        with self._connection() as connection:
            return connection.execute(statement).first() is not None

    def complete(self, job_id: Any, result: Any, *, fence: datetime) -> bool:
        return self._update(job_id, self.kind.complete_from, fence, status=self.kind.completed.value,
                            **self.spec.result(result), **self._finished())

    def fail(self, job_id: Any, reason: str, *, fence: datetime | None = None) -> bool:
        return self._update(job_id, self.kind.fail_from, fence, status=self.kind.failed.value,
                            **{self.spec.error: reason}, **self._finished())

    def _finished(self) -> dict[str, datetime]:
        return {self.spec.finished: utcnow()} if self.spec.finished else {}

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        try:
            with self.database.begin() as connection:
                yield connection
        except DBAPIError as error:
            # The driver's text can name hosts and users; keep the reason plain.
            raise TransientError(f"the database is unavailable ({type(error.orig).__name__})") from error

    def _update(self, job_id: Any, from_statuses: frozenset, fence: datetime | None, **values) -> bool:
        table = self.table
        statement = update(table).where(table.c.id == job_id, table.c.status.in_(_values(from_statuses)))
        if fence is not None:
            statement = statement.where(table.c[self.spec.started] == fence)
        with self._connection() as connection:
            return connection.execute(statement.values(updated_at=utcnow(), **values)).rowcount == 1
