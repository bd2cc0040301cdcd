"""Worker presence: each worker process says it is alive, for the ops tools.

Keys (not part of the contract with the API; only this project reads them):
  ``ops:workers``          sorted set of worker ids, scored by their last beat (epoch seconds)
  ``ops:worker:{id}``      hash: host, pid, queues, in_flight (JSON), waits (JSON), started_at, last_beat, state

A worker whose last beat is older than ``gone_after`` seconds, or which said
it stopped, is shown as gone; entries older than ``forget_after`` are removed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import redis

from adapters.redis.text import as_text

INDEX = "ops:workers"
PREFIX = "ops:worker:"


@dataclass(frozen=True)
class WorkerRecord:
    """One worker process as the ops tools show it."""

    worker_id: str
    host: str
    pid: int
    queues: tuple[str, ...]
    in_flight: tuple[dict, ...]
    started_at: str
    last_beat: float
    state: str  # "running", "stopped", or "gone" (stopped beating)
    waits: dict = field(default_factory=dict)  # queue -> {last, last_at, max, count} of the last minutes

    @property
    def last_beat_iso(self) -> str:
        return datetime.fromtimestamp(self.last_beat, timezone.utc).isoformat(timespec="seconds")

    def as_dict(self) -> dict:
        return {
            "worker_id": self.worker_id,
            "host": self.host,
            "pid": self.pid,
            "queues": list(self.queues),
            "in_flight": list(self.in_flight),
            "started_at": self.started_at,
            "last_beat": self.last_beat_iso,
            "state": self.state,
            "waits": self.waits,
        }


class WorkerRegistry:
    """Writes and reads worker presence in Redis.

    Parameters:
      client: a redis-py client.
      gone_after: seconds without a beat after which a worker is shown as gone.
      forget_after: seconds after which a silent worker's entry is deleted.
      clock: returns the time in epoch seconds (tests pass their own).
    """

    def __init__(
        self, client: redis.Redis, *, gone_after: float = 60, forget_after: float = 86400, clock=time.time
    ) -> None:
        self.client = client
        self.gone_after = gone_after
        self.forget_after = forget_after
        self.clock = clock

    def beat(
        self, worker_id: str, *, host: str, pid: int, queues: list[str], in_flight: list[dict], started_at: str,
        waits: dict[str, dict] | None = None,
    ) -> None:
        """Record that ``worker_id`` is alive and what it is doing, in one round trip."""
        now = self.clock()
        key = PREFIX + worker_id
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(
            key,
            mapping={
                "host": host,
                "pid": str(pid),
                "queues": ",".join(queues),
                "in_flight": json.dumps(in_flight),
                "waits": json.dumps(waits or {}),
                "started_at": started_at,
                "last_beat": repr(now),
                "state": "running",
            },
        )
        pipe.expire(key, int(self.forget_after))
        pipe.zadd(INDEX, {worker_id: now})
        pipe.execute()

    def stopped(self, worker_id: str) -> None:
        """Record a clean stop: the worker shows as stopped, not as gone."""
        key = PREFIX + worker_id
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(key, mapping={"state": "stopped", "in_flight": "[]", "last_beat": repr(self.clock())})
        pipe.expire(key, int(self.forget_after))
        pipe.execute()

    def workers(self) -> list[WorkerRecord]:
        """Every known worker, the living first, most recent beat first."""
        now = self.clock()
        self.client.zremrangebyscore(INDEX, 0, now - self.forget_after)
        ids = [as_text(worker_id) for worker_id in self.client.zrevrange(INDEX, 0, -1)]
        pipe = self.client.pipeline(transaction=False)
        for worker_id in ids:
            pipe.hgetall(PREFIX + worker_id)
        records = []
        for worker_id, raw in zip(ids, pipe.execute()):
            if not raw:
                continue
            fields = {as_text(k): as_text(v) for k, v in raw.items()}
            last_beat = _number(fields.get("last_beat"), float, 0.0)
            state = fields.get("state", "running")
            if state == "running" and now - last_beat > self.gone_after:
                state = "gone"
            records.append(
                WorkerRecord(
                    worker_id=worker_id,
                    host=fields.get("host", "?"),
                    pid=_number(fields.get("pid"), int, 0),
                    queues=tuple(q for q in fields.get("queues", "").split(",") if q),
                    in_flight=_jobs(fields.get("in_flight")) if state == "running" else (),
                    started_at=fields.get("started_at", ""),
                    last_beat=last_beat,
                    state=state,
                    waits=_waits(fields.get("waits")) if state == "running" else {},
                )
            )
        records.sort(key=lambda record: (record.state != "running", -record.last_beat))
        return records


def _number(text: str | None, kind: type, default):
    """A number written by a beat; ``default`` for anything else (a damaged or foreign record)."""
    try:
        value = kind(text)
    except (TypeError, ValueError, OverflowError):
        return default
    return value if value == value and abs(value) < 1e15 else default  # not nan, not absurd


def _jobs(text: str | None) -> tuple[dict, ...]:
    """The in-flight jobs of a beat: a JSON list of objects each with a "job" name; () for anything else."""
    try:
        items = json.loads(text or "[]")
    except (ValueError, RecursionError):
        return ()
    if not isinstance(items, list):
        return ()
    return tuple(item for item in items if isinstance(item, dict) and isinstance(item.get("job"), str))


def _waits(text: str | None) -> dict[str, dict]:
    """The queue waits of a beat: queue -> numbers; {} for anything else."""
    try:
        waits = json.loads(text or "{}")
    except (ValueError, RecursionError):
        return {}
    if not isinstance(waits, dict):
        return {}
    numbers = ("last", "last_at", "max", "count")
    return {queue: {name: value[name] for name in numbers}
            for queue, value in waits.items()
            if isinstance(value, dict) and all(isinstance(value.get(name), (int, float))
                                               and not isinstance(value.get(name), bool) for name in numbers)}
