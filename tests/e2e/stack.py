"""The real worker command in a subprocess, against real services."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import redis as redis_lib
from sqlalchemy import Engine, insert, select, text

from adapters.db import Tables
from adapters.sqs.publisher import json_body
from tests.services import AWS_ENV, BIN, POSTGRES_URL, REDIS_URL, ROOT, MotoServer, unique


@dataclass
class Stack:
    """Fresh queues, bucket and tables, and the environment a worker needs for them.

    ``database_url`` is where ``database`` connects (the machine's cluster unless a test started its own).
    """

    moto: MotoServer
    database: Engine
    tables: Tables
    database_url: str = POSTGRES_URL
    bucket: str = field(default_factory=lambda: unique("media-"))
    video_queue: str = field(default_factory=lambda: unique("video-jobs-"))
    ai_queue: str = field(default_factory=lambda: unique("ai-jobs-"))
    parts_queue: str = field(default_factory=lambda: unique("video-parts-"))

    def __post_init__(self) -> None:
        self.sqs = self.moto.client("sqs")
        self.s3 = self.moto.client("s3")
        self.s3.create_bucket(Bucket=self.bucket)
        for name in (self.video_queue, self.ai_queue, self.video_dlq, self.ai_dlq, self.parts_queue, self.parts_dlq):
            self.sqs.create_queue(QueueName=name)
        self.redis = redis_lib.Redis.from_url(REDIS_URL, decode_responses=True)

    @property
    def video_dlq(self) -> str:
        return f"{self.video_queue}-dlq"

    @property
    def ai_dlq(self) -> str:
        return f"{self.ai_queue}-dlq"

    @property
    def parts_dlq(self) -> str:
        return f"{self.parts_queue}-dlq"

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            **os.environ,
            **AWS_ENV,
            "BROKER": "sqs",
            "SQS_ENDPOINT_URL": self.moto.url,
            "S3_ENDPOINT_URL": self.moto.url,
            "S3_BUCKET": self.bucket,
            "VIDEO_QUEUE": self.video_queue,
            "AI_QUEUE": self.ai_queue,
            "VIDEO_PARTS_QUEUE": self.parts_queue,
            "VIDEO_PARTS_DLQ": self.parts_dlq,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_URL,
            "VIDEO_TABLE": self.tables["video"].name,
            "AI_JOB_TABLE": self.tables["ai"].name,
            "HLS_LADDER": "240p:240:300:64,360p:360:500:96,720p:720:1000:128",
            "HLS_SEGMENT_SECONDS": "2",
            "MIN_BACKOFF_MS": "300",
            "LOCK_BUSY_DELAY_MS": "1000",
            "MAX_RETRIES": "2",
            "VISIBILITY_TIMEOUT_SECONDS": "30",
            "LOCK_TTL_SECONDS": "30",
            "HEARTBEAT_SECONDS": "5",
            "PYTHONUNBUFFERED": "1",
            "AI_ENGINE_MODULES": "tests.ai_engines",
            "CAPTIONS_WAIT_RETRY_SECONDS": "2",
        }
        env.update(overrides)
        return env

    def url(self, queue: str) -> str:
        return self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]

    def send(self, queue: str, body: str) -> str:
        """Publish as the API does: plain boto3, the body as it is."""
        return self.sqs.send_message(QueueUrl=self.url(queue), MessageBody=body)["MessageId"]

    def upload(self, path: Path, key: str) -> None:
        self.s3.upload_file(str(path), self.bucket, key)

    def send_video(self, source: Path, *, video_id: int | None = None, tenant_id: int | None = 7) -> tuple[int, str]:
        """What the API does for an upload: the source in the bucket, an UPLOADED row, the plain-JSON
        message on the video queue; return the video's id (random unless given) and the message's body."""
        video_id = video_id if video_id is not None else random.randrange(10**6, 10**9)
        key = f"uploads/{tenant_id if tenant_id is not None else 'shared'}/{video_id}/source{source.suffix}"
        self.upload(source, key)
        table = self.tables["video"]
        now = datetime.now(timezone.utc)
        with self.database.begin() as connection:
            connection.execute(insert(table).values(id=video_id, tenant_id=tenant_id, file_key=key, status="UPLOADED",
                                                    created_at=now, updated_at=now))
        body = json_body({"video_id": video_id, "file_key": key, "tenant_id": tenant_id})
        self.send(self.video_queue, body)
        return video_id, body

    def video(self, video_id: int) -> dict:
        table = self.tables["video"]
        with self.database.connect() as connection:
            return dict(connection.execute(select(table).where(table.c.id == video_id)).mappings().one())

    def ai_job(self, job_id: str) -> dict:
        table = self.tables["ai"]
        with self.database.connect() as connection:
            return dict(connection.execute(select(table).where(table.c.id == job_id)).mappings().one())

    def wait_for(self, predicate, timeout: float = 90, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def wait_status(self, video_id: int, *statuses: str, timeout: float = 90) -> dict:
        return self.wait_for(
            lambda: (row := self.video(video_id))["status"] in statuses and row, timeout, f"video {video_id} {statuses}"
        )

    def dead_letters(self, queue: str, expect: int, timeout: float = 60) -> list[dict]:
        found: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(found) < expect and time.monotonic() < deadline:
            found += self.sqs.receive_message(
                QueueUrl=self.url(queue), MaxNumberOfMessages=10, WaitTimeSeconds=1,
                MessageAttributeNames=["All"], VisibilityTimeout=300,
            ).get("Messages", [])
        return found

    def depth(self, queue: str) -> int:
        a = self.sqs.get_queue_attributes(QueueUrl=self.url(queue), AttributeNames=["All"])["Attributes"]
        return sum(int(a[k]) for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                        "ApproximateNumberOfMessagesDelayed"))


class WorkerProcess:
    """``dramatiq tasks.video tasks.ai``, exactly as the Procfile starts it."""

    def __init__(self, env: dict[str, str], log: Path, *, processes: int = 1, threads: int = 2,
                 cpus: str | None = None) -> None:
        self.log = log
        self._log_file = open(log, "ab")
        pinned = ["taskset", "-c", cpus] if cpus is not None else []  # e.g. "0": one core, as a 1-core dyno
        self.process = subprocess.Popen(
            [*pinned, str(BIN / "dramatiq"), "tasks.video", "tasks.ai", "--processes", str(processes),
             "--threads", str(threads), "--worker-shutdown-timeout", "20000"],
            cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout: float = 30) -> float:
        """SIGTERM, as Heroku sends it; return the seconds until the process exited."""
        began = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()
        return time.monotonic() - began

    def pause(self) -> None:
        """SIGSTOP the whole process group (dramatiq, its worker, ffmpeg): a stalled worker."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class TransitionLog:
    """Records every status change of a table with a trigger, to count final writes.

    Parameters:
      database: the PostgreSQL database.
      table: the name of the table to watch.
    """

    def __init__(self, database: Engine, table: str) -> None:
        self.database, self.table, self.audit = database, table, f"{table}_audit"

    def __enter__(self) -> TransitionLog:
        audit, table = self.audit, self.table
        with self.database.begin() as connection:
            connection.execute(text(f"""
                CREATE TABLE {audit} (id text, old_status text, new_status text, at timestamptz DEFAULT clock_timestamp());
                CREATE FUNCTION {audit}_fn() RETURNS trigger AS $$
                BEGIN INSERT INTO {audit} (id, old_status, new_status) VALUES (NEW.id::text, OLD.status, NEW.status);
                RETURN NEW; END $$ LANGUAGE plpgsql;
                CREATE TRIGGER {audit}_tr AFTER UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {audit}_fn();
            """))
        return self

    def __exit__(self, *exc) -> None:
        with self.database.begin() as connection:
            connection.execute(text(
                f"DROP TRIGGER {self.audit}_tr ON {self.table}; DROP FUNCTION {self.audit}_fn(); DROP TABLE {self.audit}"
            ))

    def read(self, job_id) -> list[tuple[str, str]]:
        with self.database.connect() as connection:
            rows = connection.execute(
                text(f"SELECT old_status, new_status FROM {self.audit} WHERE id = :id ORDER BY at"), {"id": str(job_id)}
            )
            return [tuple(row) for row in rows]
