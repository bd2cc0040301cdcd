"""SQLAlchemy 2 tables and repositories for the video and AI job rows."""

from adapters.db.repositories import SqlAIJobRepository, SqlVideoRepository
from adapters.db.tables import Tables, build_tables, create_engine_from_url

__all__ = ["SqlAIJobRepository", "SqlVideoRepository", "Tables", "build_tables", "create_engine_from_url"]
