"""The job tables of CONTRACT section 2, column for column, and what the worker writes in each.

Django's migrations own these tables in production; ``Tables.create`` exists
for tests and local runs only. The two tables differ in the names of the
columns the worker writes (``error_reason``/``error_message``,
``processing_started_at``/``started_at``, a ``finished_at`` only for AI jobs):
each ``JobTableSpec`` says which, so one repository serves every kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Double,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB

from domain.jobs import JobKind
from domain.video.model import VideoOutput

JSON_COLUMN = JSON().with_variant(JSONB(), "postgresql")


def whole_number(text: str) -> int:
    """A whole number as typed, within a bigint column; ValueError for anything else ("²", "1e3", 2**64)."""
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or abs(int(text)) > 2**63 - 1:
        raise ValueError(f"not a whole number: {text[:40]!r}")
    return int(text)


@dataclass(frozen=True)
class SearchField:
    """A column the ops tools can find jobs by (beside the id and the status).

    Parameters:
      column: the column.
      option: its name on the command line and in the dashboard's form ("tenant", "file-key-prefix").
      prefix: match values starting with the text (``%`` and ``_`` taken literally), else equal ones.
      parse: turns the typed text into the column's value; ValueError when it cannot.
    """

    column: str
    option: str
    prefix: bool = False
    parse: Callable[[str], Any] = str


TENANT = SearchField("tenant_id", "tenant", parse=whole_number)


@dataclass(frozen=True)
class JobTableSpec:
    """One kind's table: its columns and which of them the worker writes.

    Parameters:
      columns: makes the table's columns (fresh Column objects for each Table).
      started: the column ``mark_processing`` sets: the attempt's fence.
      error: the column ``fail`` writes the reason into.
      result: the values ``complete`` writes, from the handler's result.
      finished: the column ``complete`` and ``fail`` stamp, if the table has one.
      listed: columns the ops tools show in lists of jobs (beside id, status, times, error).
      search: columns the ops tools find jobs by (beside id and status).
    """

    columns: Callable[[], list[Column]]
    started: str
    error: str
    result: Callable[[Any], dict[str, Any]]
    finished: str | None = None
    listed: tuple[str, ...] = ("tenant_id",)
    search: tuple[SearchField, ...] = (TENANT,)

    def define(self, metadata: MetaData, name: str) -> Table:
        return Table(name, metadata, *self.columns())


def _timestamps() -> list[Column]:
    return [Column("created_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False)]


def _video_columns() -> list[Column]:
    return [
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("tenant_id", BigInteger, nullable=True),
        Column("file_key", String(1024), nullable=False),
        Column("status", String(20), nullable=False),
        Column("hls_path", String(1024), nullable=True),
        Column("thumbnail_key", String(1024), nullable=True),
        Column("duration_seconds", Double, nullable=True),
        Column("error_reason", Text, nullable=True),
        Column("processing_started_at", DateTime(timezone=True), nullable=True),
        *_timestamps(),
    ]


def _ai_job_columns() -> list[Column]:
    return [
        Column("id", String(64), primary_key=True),
        Column("tenant_id", BigInteger, nullable=True),
        Column("job_type", String(50), nullable=False),
        Column("status", String(20), nullable=False),
        Column("payload", JSON_COLUMN, nullable=False),
        Column("result", JSON_COLUMN, nullable=True),
        Column("error_message", Text, nullable=True),
        Column("started_at", DateTime(timezone=True), nullable=True),
        Column("finished_at", DateTime(timezone=True), nullable=True),
        *_timestamps(),
    ]


def _video_output(output: VideoOutput) -> dict[str, Any]:
    return {"hls_path": output.hls_path, "thumbnail_key": output.thumbnail_key,
            "duration_seconds": output.duration_seconds}


#: ``video_video`` (setting VIDEO_TABLE)
VIDEO_TABLE = JobTableSpec(_video_columns, started="processing_started_at", error="error_reason",
                           result=_video_output,
                           search=(TENANT, SearchField("file_key", "file-key-prefix", prefix=True)))
#: ``ai_aijob`` (setting AI_JOB_TABLE)
AI_JOB_TABLE = JobTableSpec(_ai_job_columns, started="started_at", error="error_message",
                            result=lambda result: {"result": result}, finished="finished_at",
                            listed=("tenant_id", "job_type"), search=(TENANT, SearchField("job_type", "job-type")))


@dataclass(frozen=True)
class KindTable:
    """One kind's table under its configured name, with the kind's rules and its spec."""

    kind: JobKind
    table: Table
    spec: JobTableSpec


@dataclass(frozen=True)
class Tables:
    """The job tables of a deployment, by kind name.

    Parameters:
      metadata: the MetaData holding them.
      kinds: kind name -> its table.
    """

    metadata: MetaData
    kinds: Mapping[str, KindTable] = field(default_factory=dict)

    def __getitem__(self, kind: str) -> Table:
        return self.kinds[kind].table

    def __iter__(self) -> Iterator[KindTable]:
        return iter(self.kinds.values())

    def create(self, engine: Engine) -> None:
        """Create missing tables: tests and local runs only."""
        self.metadata.create_all(engine)


def build_tables(tables: Mapping[str, tuple[JobKind, JobTableSpec, str]]) -> Tables:
    """The tables of ``tables`` (kind name -> (kind, spec, table name)) in one MetaData."""
    metadata = MetaData()
    return Tables(metadata, {
        name: KindTable(kind, spec.define(metadata, table_name), spec)
        for name, (kind, spec, table_name) in tables.items()
    })


def create_engine_from_url(url: str) -> Engine:
    """An engine that survives restarts of the database (pre-ping) and, on
    SQLite, waits for the write lock instead of failing at once."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _wal(dbapi_connection, _record):  # several worker processes share one file
            dbapi_connection.execute("PRAGMA journal_mode=WAL")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
