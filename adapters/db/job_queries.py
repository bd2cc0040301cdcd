"""Read-only queries of the job tables for the ops tools (never writes)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine, Table, func, select

from adapters.db.tables import Tables
from domain.statuses import AIJobStatus, VideoStatus

KINDS = ("video", "ai")
BIGINT_MAX = 2**63 - 1


class JobQueries:
    """Job rows by kind ("video" or "ai"), status and id.

    Parameters:
      engine: a SQLAlchemy engine on the platform's database.
      tables: the tables of CONTRACT section 2 under their configured names.
    """

    def __init__(self, engine: Engine, tables: Tables) -> None:
        self.engine = engine
        self.tables = tables

    def statuses(self, kind: str) -> list[str]:
        return [status.value for status in (VideoStatus if kind == "video" else AIJobStatus)]

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per status for each kind; every status present, zero when none."""
        result = {}
        with self.engine.connect() as connection:
            for kind in KINDS:
                table = self._table(kind)
                rows = connection.execute(select(table.c.status, func.count()).group_by(table.c.status))
                found = {status: count for status, count in rows}
                result[kind] = {status: found.pop(status, 0) for status in self.statuses(kind)} | found
        return result

    def recent(self, kind: str, status: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Rows of one kind, most recently updated first."""
        table = self._table(kind)
        query = select(table).order_by(table.c.updated_at.desc(), table.c.id.desc()).limit(limit).offset(offset)
        if status:
            query = query.where(table.c.status == status)
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def one(self, kind: str, job_id: str) -> dict[str, Any] | None:
        """One row, or None. ``job_id`` is the video id (digits) or the AI job id."""
        table = self._table(kind)
        if kind == "video":
            # ASCII digits only ("²".isdigit() is true, int("²") fails), within the column's bigint.
            if not re.fullmatch(r"[0-9]{1,19}", str(job_id)) or int(job_id) > BIGINT_MAX:
                return None
            key: Any = int(job_id)
        else:
            key = str(job_id)
            if len(key) > 64:  # the column's width: no such row
                return None
        with self.engine.connect() as connection:
            row = connection.execute(select(table).where(table.c.id == key)).mappings().one_or_none()
        return dict(row) if row else None

    def _table(self, kind: str) -> Table:
        if kind == "video":
            return self.tables.videos
        if kind == "ai":
            return self.tables.ai_jobs
        raise ValueError(f"unknown job kind {kind!r}: use video or ai")
