"""Goal 3: the per-job cost of this framework against a bare Dramatiq actor.

Full path: a plain-JSON AI body on the queue -> RoutedSQSConsumer (or Dramatiq's
RedisBroker) -> this project's middleware -> the actor -> lock ->
mark_processing -> a no-op engine -> complete_job -> release -> ack, with the
row in PostgreSQL and lock and progress in Redis. Baseline: a bare actor that
does nothing, on the same broker, same machine, same worker threads. Both
drain N messages already on the queue; throughput is N / time.

    .venv/bin/python bench/framework_cost.py [--jobs 300] [--runs 3] [--broker sqs|redis|both]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dramatiq  # noqa: E402
from dramatiq.brokers.redis import RedisBroker  # noqa: E402
from dramatiq_sqs import SQSBroker  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from adapters.db import connect_database  # noqa: E402
from adapters.sqs.publisher import ai_body  # noqa: E402
from bench.common import REDIS_URL, parse_options, wait_until_done  # noqa: E402
from bootstrap import Container, build_broker  # noqa: E402
from domain.errors import PermanentError  # noqa: E402
from settings import Settings  # noqa: E402
from tests.services import AWS_ENV, POSTGRES_URL, MotoServer, fresh_tables, unique  # noqa: E402
from tests.unit.fakes import FakeEngine  # noqa: E402

THREADS = 4
SMOKE = {"jobs": 10, "runs": 1}


def drain(broker: dramatiq.Broker, queue: str, jobs: int, done) -> float:
    """Seconds for a worker to process ``jobs`` messages already waiting on ``queue``."""
    worker = dramatiq.Worker(broker, worker_threads=THREADS, worker_timeout=100)
    began = time.perf_counter()
    worker.start()
    try:
        wait_until_done(done, jobs, f"jobs on {queue}")
        return time.perf_counter() - began
    finally:
        worker.stop(timeout=10_000)


def full_path(kind: str, moto: MotoServer | None, jobs: int) -> float:
    queue = unique("bench-ai-")
    tables = fresh_tables()
    engine = connect_database(POSTGRES_URL)
    tables.create(engine)
    try:
        return drain_full_path(kind, moto, jobs, queue, tables, engine)
    finally:
        tables.metadata.drop_all(engine)
        engine.dispose()


def drain_full_path(kind: str, moto: MotoServer | None, jobs: int, queue: str, tables, engine) -> float:
    """Seconds for the whole path to process ``jobs`` no-op AI jobs (see ``drain``).

    Parameters:
      kind: the broker, "sqs" or "redis".
      moto: moto's server (SQS), None on Redis.
      jobs: how many.
      queue: the AI queue's name.
      tables: the job tables.
      engine: the database they are in.
    """
    settings = Settings(
        _env_file=None, broker=kind, ai_queue=queue, video_queue=unique("bench-video-"),
        video_table=tables["video"].name, ai_job_table=tables["ai"].name, database_url=POSTGRES_URL,
        redis_url=REDIS_URL, sqs_endpoint_url=moto.url if moto else None, s3_endpoint_url=moto.url if moto else None,
        video_parts_min_seconds=None,  # no video here: no parts queue to look up
    )
    container = Container(settings, engines={"noop": FakeEngine(lambda request, source, progress: {})})
    broker = build_broker(settings, container)
    declaration = container.kinds["ai"]
    done = {"n": 0}

    # As tasks.declare declares the kind's actor (tasks builds the process's own container from the environment).
    @dramatiq.actor(actor_name=declaration.actor, queue_name=declaration.queue_name(settings), broker=broker,
                    throws=(PermanentError,), max_retries=settings.max_retries, **container.actor_options(declaration))
    def process_ai_job(**body):
        container.handler("ai").handle(declaration.parse(body))
        done["n"] += 1

    now = datetime.now(timezone.utc)
    ids = [str(uuid.uuid4()) for _ in range(jobs)]
    with engine.begin() as connection:
        connection.execute(insert(tables["ai"]), [
            {"id": i, "job_type": "noop", "status": "PENDING", "payload": {}, "created_at": now, "updated_at": now}
            for i in ids])
    if kind == "sqs":
        broker.declare_queue(queue)
        broker._ensure_queue(queue)
        sqs = moto.client("sqs")
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        for start in range(0, jobs, 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "MessageBody": ai_body(i, "noop", {})} for n, i in enumerate(ids[start:start + 10])])
    else:
        for i in ids:
            process_ai_job.send(job_id=i, job_type="noop", payload={})
    return drain(broker, queue, jobs, lambda: done["n"])


def bare(kind: str, moto: MotoServer | None, jobs: int) -> float:
    queue = unique("bench-bare-")
    if kind == "sqs":
        broker = SQSBroker(endpoint_url=moto.url, region_name="us-east-1")
    else:
        broker = RedisBroker(url=REDIS_URL)
    done = {"n": 0}

    @dramatiq.actor(queue_name=queue, broker=broker)
    def nothing(**body):
        done["n"] += 1

    for _ in range(jobs):
        nothing.send(job_id=str(uuid.uuid4()), job_type="noop", payload={})
    return drain(broker, queue, jobs, lambda: done["n"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--broker", choices=["sqs", "redis", "both"], default="both")
    options = parse_options(parser, SMOKE)
    os.environ.update(AWS_ENV)
    moto = MotoServer().start()
    try:
        for kind in (["sqs", "redis"] if options.broker == "both" else [options.broker]):
            full, base = [], []
            for _ in range(options.runs):  # interleaved: drift hits both alike
                full.append(options.jobs / full_path(kind, moto, options.jobs))
                base.append(options.jobs / bare(kind, moto, options.jobs))
            ratio = statistics.median(full) / statistics.median(base)
            print(f"{kind}: full path {statistics.median(full):.0f} jobs/s (min {min(full):.0f}, max {max(full):.0f}), "
                  f"bare actor {statistics.median(base):.0f} jobs/s (min {min(base):.0f}, max {max(base):.0f}), "
                  f"ratio {ratio:.2f}   goal >= 0.5   ({options.jobs} jobs x {options.runs} runs, {THREADS} threads)")
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
