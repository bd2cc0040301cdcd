"""Live progress: the hash of CONTRACT section 3, plus a publish for live viewers."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import redis

from adapters.redis.text import as_text

log = logging.getLogger(__name__)

# Raise only: several workers report one video's parts at once, and a report
# computed from an older sum must not move the percent back. Same percent,
# same step: the message may change ("part 7 of 120 done").
RAISE = """
local percent = tonumber(redis.call('hget', KEYS[1], 'percent') or '-1')
local step = redis.call('hget', KEYS[1], 'step')
local wanted = tonumber(ARGV[2])
if wanted < percent or (wanted == percent and step ~= ARGV[1]) then return 0 end
redis.call('hset', KEYS[1], 'step', ARGV[1], 'percent', ARGV[2], 'message', ARGV[3], 'updated_at', ARGV[4])
redis.call('expire', KEYS[1], ARGV[5])
redis.call('publish', KEYS[1], ARGV[6])
return 1
"""


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

        self._raise = client.register_script(RAISE)

    def write(self, key: str, step: str, percent: int, message: str) -> None:
        name = self.prefix + key
        fields = _fields(step, percent, message)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hset(name, mapping=fields)
            pipe.expire(name, self.ttl_seconds)
            pipe.publish(name, json.dumps(fields))
            pipe.execute()
        except redis.RedisError:
            # Progress is for people watching; a Redis hiccup must not fail a job.
            log.warning("could not write progress for %s", key)

    def raise_to(self, key: str, step: str, percent: int, message: str) -> bool:
        """Write the report only if it does not move the percent back (one atomic Lua step);
        True if it was written."""
        name = self.prefix + key
        fields = _fields(step, percent, message)
        try:
            return bool(self._raise(keys=[name], args=[step, fields["percent"], message, fields["updated_at"],
                                                       self.ttl_seconds, json.dumps(fields)]))
        except redis.RedisError:
            log.warning("could not write progress for %s", key)
            return False

    def read(self, key: str) -> dict[str, str]:
        """The hash of one job's progress (empty when there is none)."""
        return {as_text(name): as_text(value) for name, value in self.client.hgetall(self.prefix + key).items()}


def _fields(step: str, percent: int, message: str) -> dict[str, str]:
    return {"step": step, "percent": str(int(percent)), "message": message,
            "updated_at": datetime.now(timezone.utc).isoformat()}
