"""Read-only queries of the job tables for the ops tools (never writes)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from adapters.db.tables import KindTable, Tables
from domain.jobs import unstorable


class UnknownKind(LookupError):
    """The name given is not a kind of job of this deployment."""


class BadFilter(ValueError):
    """A search value that no row of the kind can match (a tenant that is not a number, a NUL character)."""


class JobQueries:
    """Job rows by kind, status and id.

    Parameters:
      database: the platform's database (a SQLAlchemy Engine).
      tables: the job tables under their configured names, by kind.
    """

    def __init__(self, database: Engine, tables: Tables) -> None:
        self.database = database
        self.tables = tables

    def statuses(self, kind: str) -> list[str]:
        return self._kind(kind).kind.status_names()

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per status for each kind; every status present, zero when none."""
        result = {}
        with self.database.connect() as connection:
            for entry in self.tables:
                table = entry.table
                rows = connection.execute(select(table.c.status, func.count()).group_by(table.c.status))
                found = {status: count for status, count in rows}
                result[entry.kind.name] = {status: found.pop(status, 0) for status in entry.kind.status_names()} | found
        return result

    def recent(self, kind: str, status: str | None = None, limit: int = 50, offset: int = 0,
               filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Rows of one kind, most recently updated first, matching ``status`` and ``filters``.

        ``filters`` maps a search option of the kind (``tenant``, ``file-key-prefix``, ``id``...) to
        the text an operator typed; a prefix matches literally (``%`` and ``_`` are not wildcards).
        Raises BadFilter when a value cannot be one the column holds.
        """
        entry = self._kind(kind)
        table = entry.table
        query = select(table).order_by(table.c.updated_at.desc(), table.c.id.desc()).limit(limit).offset(offset)
        if status:
            query = query.where(table.c.status == status)
        fields = {field.option: field for field in entry.spec.search}
        for option, text in (filters or {}).items():
            if (why := unstorable(text)) is not None:
                raise BadFilter(f"{option}: {text[:40]!r} {why}; the database can neither store nor search for that")
            if option == "id":
                job_id = entry.kind.parse_id(text)
                if job_id is None:
                    raise BadFilter(f"no {entry.kind.noun} can have the id {text[:40]!r}")
                query = query.where(table.c.id == job_id)
                continue
            if option not in fields:
                raise BadFilter(f"{kind} jobs cannot be searched by {option!r}: use id, "
                                + ", ".join(fields))
            field = fields[option]
            try:
                value = field.parse(text)
            except ValueError as error:
                raise BadFilter(f"{option}: {error}") from None
            column = table.c[field.column]
            query = query.where(column.startswith(value, autoescape=True) if field.prefix else column == value)
        with self.database.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def one(self, kind: str, job_id: str) -> dict[str, Any] | None:
        """One row, or None (also for an id no row of the kind can have)."""
        entry = self._kind(kind)
        key = entry.kind.parse_id(str(job_id))
        if key is None:
            return None
        with self.database.connect() as connection:
            row = connection.execute(select(entry.table).where(entry.table.c.id == key)).mappings().one_or_none()
        return dict(row) if row else None

    def _kind(self, kind: str) -> KindTable:
        try:
            return self.tables.kinds[kind]
        except KeyError:
            raise UnknownKind(f"unknown job kind {kind!r}: use {', '.join(self.tables.kinds)}") from None
