"""The job tables of CONTRACT section 2 and what the worker writes in each, for any kind.

Django's migrations own these tables in production; ``Tables.create`` exists
for tests and local runs only. The kinds' tables differ in the names of the
columns the worker writes (``error_reason``/``error_message``,
``processing_started_at``/``started_at``, a ``finished_at`` only for AI jobs):
each kind's ``JobTableSpec`` (declared with the kind, in ``kinds/``) says
which, so one repository serves every kind.
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
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB

from domain.jobs import JobKind
from domain.numbers import whole_number

JSON_COLUMN = JSON().with_variant(JSONB(), "postgresql")


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


def job_columns(id_type: type, own: Callable[[], list[Column]],
                status_after: str | None = None) -> Callable[[], list[Column]]:
    """The columns of a job table: those every kind has (``id``, ``tenant_id``, ``status``,
    ``created_at``, ``updated_at``, as Django's TimestampModel makes them) around the kind's own,
    in the order the contract lists them (the order a test-made table has; Django owns the real one).

    Parameters:
      id_type: ``int`` (a bigint id) or ``str`` (a varchar(64) id, e.g. a UUID).
      own: makes the kind's own columns (fresh Column objects each time).
      status_after: the own column ``status`` follows (``file_key`` in ``video_video``);
        ``None``: ``status`` comes before the kind's own columns.
    """

    def columns() -> list[Column]:
        key = (Column("id", BigInteger, primary_key=True, autoincrement=False) if id_type is int
               else Column("id", String(64), primary_key=True))
        kinds_own = own()
        names = [column.name for column in kinds_own]
        if status_after is not None and status_after not in names:
            raise ValueError(f"status_after={status_after!r} is not one of the kind's columns {names}")
        split = names.index(status_after) + 1 if status_after is not None else 0
        return [key, Column("tenant_id", BigInteger, nullable=True), *kinds_own[:split],
                Column("status", String(20), nullable=False), *kinds_own[split:],
                Column("created_at", DateTime(timezone=True), nullable=False),
                Column("updated_at", DateTime(timezone=True), nullable=False)]

    return columns


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

    def create(self, database: Engine) -> None:
        """Create missing tables: tests and local runs only."""
        self.metadata.create_all(database)


def build_tables(tables: Mapping[str, tuple[JobKind, JobTableSpec, str]]) -> Tables:
    """The tables of ``tables`` (kind name -> (kind, spec, table name)) in one MetaData."""
    metadata = MetaData()
    return Tables(metadata, {
        name: KindTable(kind, spec.define(metadata, table_name), spec)
        for name, (kind, spec, table_name) in tables.items()
    })


def connect_database(url: str) -> Engine:
    """The database at ``url`` (a SQLAlchemy Engine) that survives its restarts (pre-ping) and, on
    SQLite, waits for the write lock instead of failing at once."""
    if url.startswith("sqlite"):
        database = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(database, "connect")
        def _wal(dbapi_connection, _record):  # several worker processes share one file
            dbapi_connection.execute("PRAGMA journal_mode=WAL")

        return database
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
