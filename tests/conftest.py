"""Fixtures that start or reach real services: PostgreSQL, Redis, moto's server."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
import redis as redis_lib
from sqlalchemy import insert

from adapters.db import connect_database
from tests.services import AWS_ENV, POSTGRES_URL, REDIS_URL, MotoServer, fresh_tables, unique

os.environ.update(AWS_ENV)
pytest_plugins = ["tests.worker_fixtures", "tests.ops_site"]


def pytest_addoption(parser):
    parser.addoption("--soak", action="store_true", default=False, help="run the chaos scenarios at soak length")


@pytest.fixture
def figures(request):
    """Each scenario records its measured figures; printed in the summary for docs/RELIABILITY.md."""
    record: dict[str, object] = {"scenario": request.node.name}
    yield record
    request.config._chaos_figures = getattr(request.config, "_chaos_figures", []) + [record]


def pytest_terminal_summary(terminalreporter, config):
    for record in getattr(config, "_chaos_figures", []):
        terminalreporter.write_line("chaos figures: " + ", ".join(f"{k}={v}" for k, v in record.items()))


@pytest.fixture(scope="session")
def moto():
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_database():
    database = connect_database(POSTGRES_URL)
    yield database
    database.dispose()


@pytest.fixture
def tables(pg_database):
    """Fresh video and AI tables under unique names (VIDEO_TABLE, AI_JOB_TABLE)."""
    tables = fresh_tables()
    tables.create(pg_database)
    yield tables
    tables.metadata.drop_all(pg_database)


@pytest.fixture
def redis_client():
    client = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def bucket(moto):
    name = unique("media-")
    moto.client("s3").create_bucket(Bucket=name)
    return name


def insert_video(database, table, video_id: int, file_key: str, status: str = "UPLOADED", tenant_id=7) -> None:
    now = datetime.now(timezone.utc)
    with database.begin() as connection:
        connection.execute(
            insert(table).values(
                id=video_id, tenant_id=tenant_id, file_key=file_key, status=status, created_at=now, updated_at=now
            )
        )


def insert_ai_job(database, table, job_id: str, job_type: str, payload: dict, status: str = "PENDING") -> None:
    now = datetime.now(timezone.utc)
    with database.begin() as connection:
        connection.execute(
            insert(table).values(
                id=job_id, tenant_id=7, job_type=job_type, status=status, payload=payload, created_at=now, updated_at=now
            )
        )
