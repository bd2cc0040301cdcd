"""Live progress: the hash of CONTRACT section 3, plus a publish for live viewers."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import redis

from adapters.redis.text import as_text

log = logging.getLogger(__name__)


class RedisProgress:
    """ProgressSink writing ``progress:{job key}`` hashes with a TTL.

    Each report is one round trip: HSET, EXPIRE and PUBLISH pipelined. The
    channel is the key's own name, so a viewer of video 42 subscribes to
    ``progress:video:42`` and receives the same fields as JSON.

    Parameters:
      client: a redis-py client.
      ttl_seconds: how long a job's progress stays readable (default 24 h).
      prefix: key prefix (``progress:`` per the contract).
    """

    def __init__(self, client: redis.Redis, *, ttl_seconds: int = 86400, prefix: str = "progress:") -> None:
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.prefix = prefix

    def write(self, key: str, step: str, percent: int, message: str) -> None:
        name = self.prefix + key
        fields = {
            "step": step,
            "percent": str(int(percent)),
            "message": message,
            "updated_at": datetime.now(timezone.utc).isoformat(),
        }
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hset(name, mapping=fields)
            pipe.expire(name, self.ttl_seconds)
            pipe.publish(name, json.dumps(fields))
            pipe.execute()
        except redis.RedisError:
            # Progress is for people watching; a Redis hiccup must not fail a job.
            log.warning("could not write progress for %s", key)

    def read(self, key: str) -> dict[str, str]:
        """The hash of one job's progress (empty when there is none)."""
        return {as_text(name): as_text(value) for name, value in self.client.hgetall(self.prefix + key).items()}
