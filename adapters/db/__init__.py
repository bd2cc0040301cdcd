"""SQLAlchemy 2 tables of CONTRACT section 2, the job repository and the ops tools' queries."""

from adapters.db.repositories import SqlJobRepository
from adapters.db.tables import AI_JOB_TABLE, VIDEO_TABLE, JobTableSpec, KindTable, Tables, build_tables, create_engine_from_url

__all__ = ["AI_JOB_TABLE", "VIDEO_TABLE", "JobTableSpec", "KindTable", "SqlJobRepository", "Tables", "build_tables",
           "create_engine_from_url"]
