"""The framework's own cost per job: SQL statements and Redis round trips.

A no-op job through the shared flow (lock -> mark_processing -> work ->
complete -> release, with its progress writes) on real PostgreSQL and Redis:
at most 2 SQL statements and 5 Redis round trips.
"""

from __future__ import annotations

import uuid

import redis as redis_lib
from sqlalchemy import event

from adapters.db import SqlJobRepository
from adapters.redis import RedisLock, RedisProgress
from domain.ai.handler import ProcessAIJobHandler
from domain.ai.model import AIJobRequest
from domain.flow import Outcome
from tests.conftest import insert_ai_job
from tests.services import REDIS_URL
from tests.unit.fakes import FakeEngine, FakeStorage


class CountingConnection(redis_lib.Connection):
    """A redis-py connection that counts what it sends: one send is one round trip."""

    sent = 0

    def send_packed_command(self, command, check_health=True):
        CountingConnection.sent += 1
        return super().send_packed_command(command, check_health)


def no_op(request, source, progress):
    return {}


def test_a_no_op_job_costs_two_statements_and_four_round_trips(pg_database, tables):
    pool = redis_lib.ConnectionPool.from_url(REDIS_URL, connection_class=CountingConnection)
    client = redis_lib.Redis(connection_pool=pool)
    handler = ProcessAIJobHandler(
        jobs=SqlJobRepository(pg_database, tables.kinds["ai"]), lock=RedisLock(client, ttl_ms=60_000),
        progress=RedisProgress(client), engines={"noop": FakeEngine(no_op)}, storage=FakeStorage(),
    )
    statements: list[str] = []

    def record(_connection, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(pg_database, "before_cursor_execute", record)
    try:
        for attempt in range(2):  # the first job also loads the Lua scripts and opens connections
            job_id = str(uuid.uuid4())
            insert_ai_job(pg_database, tables["ai"], job_id, "noop", {})
            statements.clear()
            CountingConnection.sent = 0
            assert handler.handle(AIJobRequest(job_id, "noop", {})) is Outcome.COMPLETED
    finally:
        event.remove(pg_database, "before_cursor_execute", record)
    assert [s.split()[0] for s in statements if not s.startswith("select pg_")] == ["UPDATE", "UPDATE"]
    # SET NX PX, progress "running" (the handler starts the engine), "saving", "done", release
    assert CountingConnection.sent == 5
