"""Table definitions matching CONTRACT section 2 column for column.

Django's migrations own these tables in production; ``Tables.create`` exists
for tests and local runs only.
"""

from __future__ import annotations

from dataclasses import dataclass

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

JSON_COLUMN = JSON().with_variant(JSONB(), "postgresql")


@dataclass(frozen=True)
class Tables:
    metadata: MetaData
    videos: Table
    ai_jobs: Table

    def create(self, engine: Engine) -> None:
        """Create missing tables: tests and local runs only."""
        self.metadata.create_all(engine)


def build_tables(video_table: str = "video_video", ai_job_table: str = "ai_aijob") -> Tables:
    """Build the table objects under the configured names.

    Parameters:
      video_table: name of the video table (setting VIDEO_TABLE).
      ai_job_table: name of the AI job table (setting AI_JOB_TABLE).
    """
    metadata = MetaData()
    videos = Table(
        video_table,
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("tenant_id", BigInteger, nullable=True),
        Column("file_key", String(1024), nullable=False),
        Column("status", String(20), nullable=False),
        Column("hls_path", String(1024), nullable=True),
        Column("thumbnail_key", String(1024), nullable=True),
        Column("duration_seconds", Double, nullable=True),
        Column("error_reason", Text, nullable=True),
        Column("processing_started_at", DateTime(timezone=True), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    ai_jobs = Table(
        ai_job_table,
        metadata,
        Column("id", String(64), primary_key=True),
        Column("tenant_id", BigInteger, nullable=True),
        Column("job_type", String(50), nullable=False),
        Column("status", String(20), nullable=False),
        Column("payload", JSON_COLUMN, nullable=False),
        Column("result", JSON_COLUMN, nullable=True),
        Column("error_message", Text, nullable=True),
        Column("started_at", DateTime(timezone=True), nullable=True),
        Column("finished_at", DateTime(timezone=True), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    return Tables(metadata, videos, ai_jobs)


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
