"""What the dashboard and the CLI read and do, over the worker's own Infrastructure.

Built from the worker's own settings and job kinds (``bootstrap.Infrastructure``),
so the tools see exactly the queues, tables, bucket and Redis the worker uses.
Tests pass their own clients.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from adapters.db.job_queries import JobQueries
from adapters.logs.redact import Redactor, secret_values
from adapters.redis.parts import RedisPartsBoard
from adapters.redis.presence import WorkerRecord
from adapters.redis.progress import RedisProgress
from adapters.sqs.admin import MAX_BROWSE
from adapters.sqs.publisher import JsonPublisher, json_body
from bootstrap import OPS_CLIENTS, Infrastructure
from domain.errors import PermanentError
from domain.operations import DeadLetter, QueueAdmin, Tally
from kinds import KindDeclaration
from ops.actions import ActionRecords, act
from ops.all_actions import AllActions
from settings import Settings

class OpsError(Exception):
    """Something an operator asked for cannot be done; the message says why."""


class Ops(Infrastructure):
    """Queues, dead letters, jobs, progress, outputs and workers of one deployment.

    Built on the worker's own Infrastructure (the same settings, kinds and
    clients), with clients that give up quickly (``OPS_CLIENTS``).

    Parameters:
      settings: the worker's settings (the same environment variables).
      **given: Infrastructure's ``job_kinds``, ``sqs``, ``s3``, ``redis`` or
        ``database`` to use instead of building them (tests).
    """

    def __init__(self, settings: Settings, **given: Any) -> None:
        super().__init__(settings, clients=OPS_CLIENTS, **given)

    def kind(self, name: str) -> KindDeclaration:
        """A kind by its name; OpsError naming the kinds there are."""
        if name not in self.kinds:
            raise OpsError(f"unknown job kind {name!r}: use {', '.join(self.kinds)}")
        return self.kinds[name]

    def kind_of_queue(self, queue: str) -> KindDeclaration | None:
        """The kind whose queue it is; None for the worker's own parts queue."""
        return next((kind for kind in self.kinds.values() if kind.queue_name(self.settings) == queue), None)

    def queue_labels(self) -> dict[str, str]:
        """Every queue -> how the tools name what is on it: the kind's name, or "video parts"."""
        return {queue: kind.name if (kind := self.kind_of_queue(queue)) else "video parts"
                for queue in self.dead_letter_queues}

    def dead_letter_queue_of(self, queue: str) -> str:
        """Where the queue's dead letters are, as operators should read it."""
        if self.settings.broker != "sqs":
            return f"{queue} (dead letters)"
        return self.dead_letter_queues[queue]

    # --- views -------------------------------------------------------------
    @cached_property
    def queues(self) -> QueueAdmin:
        admin = self.queue_admin
        if admin is None:
            raise OpsError("BROKER=stub has no queues to inspect; use sqs or redis")
        return admin

    @cached_property
    def jobs(self) -> JobQueries:
        return JobQueries(self.database, self.tables)

    def workers(self) -> list[WorkerRecord]:
        return self.worker_registry.workers()

    @staticmethod
    def queue_waits(workers: Sequence[WorkerRecord]) -> dict[str, dict[str, float]]:
        """How long messages waited before a worker started them, per queue, over the running workers
        (each reports its last 5 minutes): the most recent wait, the longest, and how many started."""
        waits: dict[str, dict[str, float]] = {}
        for record in workers:
            for queue, seen in record.waits.items():
                total = waits.setdefault(queue, {"last": 0.0, "last_at": 0.0, "max": 0.0, "count": 0})
                if seen["last_at"] >= total["last_at"]:
                    total["last"], total["last_at"] = seen["last"], seen["last_at"]
                total["max"] = max(total["max"], seen["max"])
                total["count"] += seen["count"]
        return waits

    def queue_of(self, name: str) -> str:
        """The queue an operator names: its full name, or its kind's name ("video", "ai")."""
        if name in self.kinds:
            return self.kinds[name].queue_name(self.settings)
        if name not in self.dead_letter_queues:
            raise OpsError(f"unknown queue {name!r}: use {', '.join([*self.kinds, *self.dead_letter_queues])}")
        return name

    def progress(self, kind: str, job_id: str) -> dict[str, str]:
        """The live progress hash of CONTRACT section 3 (empty when none)."""
        return RedisProgress(self.redis).read(self.kind(kind).kind.key(job_id))

    def parts(self, kind: str, job_id: str) -> list[dict[str, Any]]:
        """The pieces of the job's latest attempt in parts (a long video's), in order; [] for a job in
        one pass. From the parts board in Redis: states for people, not what finishes the video."""
        entries = RedisPartsBoard(self.redis).read(self.kind(kind).kind.key(job_id))
        latest = max((entry["attempt"] for entry in entries.values()), default=None)
        return [{"piece": piece, **entry} for piece, entry in sorted(entries.items()) if entry["attempt"] == latest]

    def output_prefix(self, kind: str, row: dict[str, Any]) -> str:
        """Where a job's files are (CONTRACT section 4), with a trailing slash."""
        return self.kind(kind).kind.output_prefix(row.get("tenant_id"), row["id"]) + "/"

    def outputs(self, kind: str, row: dict[str, Any], limit: int = 200) -> list[dict[str, Any]]:
        """The job's objects in the bucket: key, size, last modified."""
        paginator = self.s3.get_paginator("list_objects_v2")
        found: list[dict[str, Any]] = []
        for page in paginator.paginate(Bucket=self.settings.s3_bucket, Prefix=self.output_prefix(kind, row)):
            for item in page.get("Contents", []):
                found.append(
                    {"key": item["Key"], "size": item["Size"], "last_modified": item["LastModified"].isoformat()}
                )
                if len(found) >= limit:
                    return found
        return found

    @cached_property
    def publisher(self) -> JsonPublisher:
        """Keeps the queue URLs it looked up, like the worker's own publisher."""
        return JsonPublisher(self.sqs)

    def dead_letter(self, queue: str, letter_id: str) -> DeadLetter | None:
        """One dead letter by its id, or None. SQS cannot fetch a message by id, so up
        to MAX_BROWSE dead letters are browsed (and handed back) to find it."""
        letters = self.queues.dead_letters(queue, limit=MAX_BROWSE)
        return next((letter for letter in letters if letter.id == letter_id), None)

    @cached_property
    def redact(self) -> Redactor:
        """Masks the deployment's secrets in any text the tools show (pages, CLI lines)."""
        return Redactor(secret_values(self.settings))

    # --- actions -----------------------------------------------------------
    def act_on_dead_letters(self, action: str, queue: str, ids: Sequence[str] | None, *, user: str, via: str) -> Tally:
        """Redrive or delete dead letters now, audited; the tally says what was done.

        ``ids`` None means every dead letter: one such action per queue at a
        time (ActionRunning when another runs; its progress is recorded in Redis).
        Raises what the broker's QueueAdmin raises (DeadLetterNotFound after
        the other letters were handled, outages), after the audit line.
        """
        if ids is None:
            return self.all_actions.run(action, queue, user=user, via=via)
        tally = Tally(action, queue)
        act(self.queues, tally, ids, user=user, via=via)
        return tally

    @cached_property
    def all_actions(self) -> AllActions:
        """Actions on every dead letter of a queue: one per queue at a time, in any process."""
        return AllActions(self.queues, self.action_records, self.redis)

    @cached_property
    def action_records(self) -> ActionRecords:
        return ActionRecords(self.redis)

    def enqueue(self, kind: str, fields: dict[str, Any]) -> str:
        """Publish a job of ``kind`` as the API does; return the message id.

        Refuses, with the worker's own reason, what the worker would reject or
        fail at once: a body that breaks the kind's schema, an unregistered engine.
        """
        declaration = self.kind(kind)
        try:
            request = declaration.parse(fields)
            declaration.publishable(request, self)
        except PermanentError as error:
            raise OpsError(error.reason) from None
        queue = declaration.queue_name(self.settings)
        body = json_body(fields)
        if self.settings.broker == "sqs":
            return self.publisher.send(queue, body)
        if self.settings.broker == "redis":
            from dramatiq import Message
            from dramatiq.brokers.redis import RedisBroker

            broker = RedisBroker(client=self.redis, middleware=[])
            broker.declare_queue(queue)
            message = Message(queue_name=queue, actor_name=declaration.actor, args=(), kwargs=json.loads(body),
                              options={})
            return broker.enqueue(message).message_id
        raise OpsError("BROKER=stub cannot publish; use sqs or redis")

    def status(self) -> dict[str, Any]:
        """Everything the `status` command and the dashboard's front page show."""
        workers = self.workers()
        waits = self.queue_waits(workers)
        return {
            "broker": self.settings.broker,
            "queues": [stats.as_dict() | {"waits": waits.get(stats.name)} for stats in self.queues.stats()],
            "jobs": self.jobs.counts(),
            "workers": [record.as_dict() for record in workers],
        }


def operator() -> str:
    """Who runs the CLI, for the audit line: the OS user (and the Heroku dyno, when there is one)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    dyno = os.environ.get("DYNO")
    return f"{user}@{dyno}" if dyno else user
