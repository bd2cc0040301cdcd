"""RedisQueueAdmin: queue depths and dead-letter tools for BROKER=redis.

Reads the keys Dramatiq's RedisBroker keeps (see dramatiq/brokers/redis/dispatch.lua):
  ``{ns}:{queue}``          list of message ids ready to run
  ``{ns}:{queue}.msgs``     hash id -> message (ready and in flight)
  ``{ns}:{queue}.DQ.msgs``  the delay queue's messages (retries waiting out their backoff)
  ``{ns}:{queue}.XQ``       sorted set of dead-lettered ids, scored by time (ms)
  ``{ns}:{queue}.XQ.msgs``  hash id -> dead-lettered message
Dramatiq stores no reason with a dead letter; ``DeadLetterReasons`` (a
middleware) records one beside it under ``ops:dead-letter-reasons:{queue}``.

Each redrive or delete of one letter is one Lua script, so two operators
acting at once can never move the same letter twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import dramatiq
import redis
from dramatiq.middleware import Middleware

from adapters.redis.text import as_text
from adapters.worker.reasons import dead_letter_reason
from domain.operations import DeadLetter, DeadLetterNotFound, DeadLetterRefused, QueueStats, Tally, UnknownQueue

log = logging.getLogger(__name__)

REASONS = "ops:dead-letter-reasons:"

# KEYS: dead-letter set, dead-letter hash, reasons hash, queue hash, queue list
# ARGV: message id, the stored message as read, the message to put back
# Moves the letter only if it is still there, unchanged: 1 if this call moved it.
REDRIVE_SCRIPT = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
redis.call('RPUSH', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""
# KEYS: dead-letter set, dead-letter hash, reasons hash; ARGV: message id. 1 if this call deleted it.
DELETE_SCRIPT = """
local removed = redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return removed
"""


class DeadLetterReasons(Middleware):
    """Records why each message was dead-lettered by the Redis broker.

    Parameters:
      client: a redis-py client on the broker's Redis.
      ttl_seconds: how long a reason is kept (Dramatiq keeps dead letters 7 days).
    """

    def __init__(self, client: redis.Redis, ttl_seconds: int = 7 * 86400) -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds

    def after_nack(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy) -> None:
        key = REASONS + message.queue_name
        try:
            pipe = self.client.pipeline(transaction=False)
            # The broker files dead letters under its own id, not the message's.
            stored_as = message.options.get("redis_message_id", message.message_id)
            pipe.hset(key, stored_as, dead_letter_reason(message).text)
            pipe.expire(key, self.ttl_seconds)
            pipe.execute()
        except redis.RedisError:
            log.warning("could not record why message %s was dead-lettered", message.message_id)


class RedisQueueAdmin:
    """QueueAdmin on Dramatiq's Redis broker.

    Parameters:
      client: a redis-py client on the broker's Redis.
      queues: the job queue names (settings VIDEO_QUEUE, AI_QUEUE).
      namespace: the broker's key namespace (Dramatiq's default "dramatiq").
    """

    def __init__(self, client: redis.Redis, queues: Sequence[str], namespace: str = "dramatiq") -> None:
        self.client = client
        self._queues = list(queues)
        self.namespace = namespace
        self._redrive = client.register_script(REDRIVE_SCRIPT)
        self._delete = client.register_script(DELETE_SCRIPT)

    def queues(self) -> list[str]:
        return list(self._queues)

    def stats(self) -> list[QueueStats]:
        pipe = self.client.pipeline(transaction=False)
        for queue in self._queues:
            key = self._key(queue)
            pipe.llen(key)
            pipe.hlen(key + ".msgs")
            pipe.hlen(key + ".DQ.msgs")
            pipe.zcard(key + ".XQ")
        counts = pipe.execute()
        result = []
        for index, queue in enumerate(self._queues):
            ready, stored, delayed, dead = counts[index * 4 : index * 4 + 4]
            result.append(
                QueueStats(
                    name=queue,
                    dead_letter_queue=f"{queue}.XQ",
                    visible=ready,
                    in_flight=max(stored - ready, 0),
                    delayed=delayed,
                    dead_letters=dead,
                )
            )
        return result

    def dead_letters(self, queue: str, limit: int = 100) -> list[DeadLetter]:
        key = self._key(queue) + ".XQ"
        entries = self.client.zrange(key, 0, max(limit, 1) - 1, withscores=True)
        if not entries:
            return []
        ids = [as_text(member) for member, _ in entries]
        bodies = self.client.hmget(key + ".msgs", ids)
        reasons = self.client.hmget(REASONS + queue, ids)
        letters = []
        for (message_id, (_, score)), body, reason in zip(zip(ids, entries), bodies, reasons):
            if body is None:
                continue
            data = _message(body)
            letters.append(
                DeadLetter(
                    id=message_id,
                    queue=queue,
                    body=as_text(body),
                    reason=as_text(reason) if reason else _from_traceback(data),
                    receive_count=_retries(data) + 1 if data is not None else None,
                    dead_lettered_at=datetime.fromtimestamp(score / 1000, timezone.utc).isoformat(),
                    original_id=str(data.get("message_id", "")) if data is not None else "",
                )
            )
        return letters

    def redrive(self, queue: str, ids: Sequence[str] | None = None, tally: Tally | None = None) -> int:
        """Put dead letters back on ``queue``, their retry count reset (a
        redriven job gets its full retries again), each in one atomic move."""
        keys = self._keys(queue)
        tally = tally or Tally("redrive", queue)

        def move(message_id: str, stored: bytes) -> bool:
            message = _message(stored)
            if message is None:
                tally.refuse(message_id)
                return False
            options = message.get("options")
            if isinstance(options, dict):
                for spent in ("retries", "traceback", "requeue_timestamp"):
                    options.pop(spent, None)
            fresh = json.dumps(message, separators=(",", ":"))
            return bool(self._redrive(keys=[*keys, self._key(queue) + ".msgs", self._key(queue)],
                                      args=[message_id, stored, fresh]))

        return self._act(queue, ids, move, tally)

    def delete(self, queue: str, ids: Sequence[str] | None = None, tally: Tally | None = None) -> int:
        keys = self._keys(queue)
        return self._act(queue, ids, lambda message_id, stored: bool(self._delete(keys=keys, args=[message_id])),
                         tally or Tally("delete", queue))

    def _act(self, queue: str, ids: Sequence[str] | None, move, tally: Tally) -> int:
        dead = self._key(queue) + ".XQ"
        # "All" means the letters there now: a letter dead-lettered again meanwhile waits for the next action.
        chosen = [as_text(i) for i in self.client.zrange(dead, 0, -1)] if ids is None else list(dict.fromkeys(ids))
        tally.started(len(chosen))
        missing = []
        for message_id in chosen:
            stored = self.client.hget(dead + ".msgs", message_id)
            if stored is not None and move(message_id, stored):
                tally.count()
            elif message_id not in tally.refused:
                missing.append(message_id)  # gone, or moved by someone else first
        if ids is not None and missing:
            tally.not_found(missing)
            raise DeadLetterNotFound(f"no dead letter {', '.join(missing)} in {queue}.XQ")
        if tally.refused:
            raise DeadLetterRefused(
                f"{', '.join(tally.refused)} in {queue}.XQ is not a Dramatiq message and cannot be redriven; "
                "delete it instead"
            )
        return tally.done

    def _keys(self, queue: str) -> list[str]:
        dead = self._key(queue) + ".XQ"
        return [dead, dead + ".msgs", REASONS + queue]

    def _key(self, queue: str) -> str:
        if queue not in self._queues:
            raise UnknownQueue(f"{queue!r} is not a queue of this worker ({', '.join(self._queues)})")
        return f"{self.namespace}:{queue}"


def _message(stored: bytes | str) -> dict[str, Any] | None:
    """A stored dead letter as a Dramatiq message dict, or None if it is not one."""
    try:
        data = json.loads(stored)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _retries(message: dict[str, Any]) -> int:
    options = message.get("options")
    retries = options.get("retries", 0) if isinstance(options, dict) else 0
    return retries if isinstance(retries, int) and not isinstance(retries, bool) and 0 <= retries < 10**6 else 0


def _from_traceback(message: dict[str, Any] | None) -> str:
    if message is None:
        return "(not a Dramatiq message)"
    options = message.get("options")
    lines = str(options.get("traceback", "") if isinstance(options, dict) else "").strip().splitlines()
    return lines[-1] if lines else "(no reason recorded)"
