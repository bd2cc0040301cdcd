"""RedisQueueAdmin: queue depths and dead-letter tools for BROKER=redis.

Reads the keys Dramatiq's RedisBroker keeps (see dramatiq/brokers/redis/dispatch.lua):
  ``{ns}:{queue}``          list of message ids ready to run
  ``{ns}:{queue}.msgs``     hash id -> message (ready and in flight)
  ``{ns}:{queue}.DQ.msgs``  the delay queue's messages (retries waiting out their backoff)
  ``{ns}:{queue}.XQ``       sorted set of dead-lettered ids, scored by time (ms)
  ``{ns}:{queue}.XQ.msgs``  hash id -> dead-lettered message
Dramatiq stores no reason with a dead letter; ``DeadLetterReasons`` (a
middleware) records one beside it under ``ops:dead-letter-reasons:{queue}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timezone

import dramatiq
import redis
from dramatiq.middleware import Middleware

from adapters.redis.text import as_text
from adapters.worker.reasons import dead_letter_reason
from domain.operations import DeadLetter, DeadLetterNotFound, QueueStats, UnknownQueue

log = logging.getLogger(__name__)

REASONS = "ops:dead-letter-reasons:"


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
            pipe.hset(key, stored_as, dead_letter_reason(message))
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
        entries = self.client.zrange(key, 0, limit - 1, withscores=True)
        if not entries:
            return []
        ids = [as_text(member) for member, _ in entries]
        bodies = self.client.hmget(key + ".msgs", ids)
        reasons = self.client.hmget(REASONS + queue, ids)
        letters = []
        for (message_id, (_, score)), body, reason in zip(zip(ids, entries), bodies, reasons):
            if body is None:
                continue
            data = json.loads(body)
            letters.append(
                DeadLetter(
                    id=message_id,
                    queue=queue,
                    body=as_text(body),
                    reason=as_text(reason) if reason else _from_traceback(data),
                    receive_count=int(data.get("options", {}).get("retries", 0)) + 1,
                    dead_lettered_at=datetime.fromtimestamp(score / 1000, timezone.utc).isoformat(),
                    original_id=str(data.get("message_id", "")),
                )
            )
        return letters

    def redrive(self, queue: str, ids: Sequence[str] | None = None) -> int:
        """Put dead letters back on ``queue``, their retry count reset (a
        redriven job gets its full retries again), in one transaction each."""

        def send_back(pipe, message_id: str, data: bytes) -> None:
            message = json.loads(data)
            for spent in ("retries", "traceback", "requeue_timestamp"):
                message.get("options", {}).pop(spent, None)
            pipe.hset(self._key(queue) + ".msgs", message_id, json.dumps(message, separators=(",", ":")))
            pipe.rpush(self._key(queue), message_id)

        return self._settle(queue, ids, send_back)

    def delete(self, queue: str, ids: Sequence[str] | None = None) -> int:
        return self._settle(queue, ids, lambda pipe, message_id, data: None)

    def _settle(self, queue: str, ids: Sequence[str] | None, act) -> int:
        dead = self._key(queue) + ".XQ"
        chosen = [as_text(i) for i in self.client.zrange(dead, 0, -1)] if ids is None else list(ids)
        missing = []
        done = 0
        for message_id in chosen:
            data = self.client.hget(dead + ".msgs", message_id)
            if data is None:
                missing.append(message_id)
                continue
            pipe = self.client.pipeline(transaction=True)
            act(pipe, message_id, data)
            pipe.zrem(dead, message_id)
            pipe.hdel(dead + ".msgs", message_id)
            pipe.hdel(REASONS + queue, message_id)
            pipe.execute()
            done += 1
        if missing:
            raise DeadLetterNotFound(f"no dead letter {', '.join(missing)} in {queue}.XQ")
        return done

    def _key(self, queue: str) -> str:
        if queue not in self._queues:
            raise UnknownQueue(f"{queue!r} is not a queue of this worker ({', '.join(self._queues)})")
        return f"{self.namespace}:{queue}"


def _from_traceback(message: dict) -> str:
    lines = str(message.get("options", {}).get("traceback", "")).strip().splitlines()
    return lines[-1] if lines else "(no reason recorded)"
