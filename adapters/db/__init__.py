"""SQLAlchemy 2 tables of CONTRACT section 2, the job repository and the ops tools' queries."""

from adapters.db.repositories import SqlJobRepository
from adapters.db.tables import JobTableSpec, KindTable, Tables, build_tables, connect_database, job_columns

__all__ = ["JobTableSpec", "KindTable", "SqlJobRepository", "Tables", "build_tables", "connect_database",
           "job_columns"]
