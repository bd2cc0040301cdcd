"""The per-job lock: ``SET NX PX`` with a random owner token.

Only the owner releases (compare-and-delete) or extends (compare-and-expire)
it, both as Lua scripts so the compare and the write are one atomic step.
"""

from __future__ import annotations

import logging
import secrets
import threading

import redis

from adapters.metrics.prometheus import METRICS
from adapters.redis.text import as_text
from domain.errors import TransientError

log = logging.getLogger(__name__)

RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class RedisLock:
    """JobLock on Redis keys ``lock:{job key}``.

    The locks this process holds are remembered with their tokens, so the
    worker's heartbeat can extend all of them on one beat (``extend_held``).

    Parameters:
      client: a redis-py client.
      ttl_ms: how long a lock lives without being extended; a crashed
        worker's locks vanish after this.
      prefix: key prefix (``lock:`` per the contract).
    """

    def __init__(self, client: redis.Redis, *, ttl_ms: int, prefix: str = "lock:") -> None:
        self.client = client
        self.ttl_ms = ttl_ms
        self.prefix = prefix
        self._release = client.register_script(RELEASE)
        self._extend = client.register_script(EXTEND)
        self._held: dict[str, str] = {}
        self._guard = threading.Lock()

    def acquire(self, key: str) -> bool:
        token = secrets.token_hex(16)
        try:
            taken = self.client.set(self.prefix + key, token, nx=True, px=self.ttl_ms)
        except redis.RedisError as error:
            raise TransientError(f"Redis is unavailable ({type(error).__name__})") from error
        if taken:
            with self._guard:
                self._held[key] = token
        return bool(taken)

    def release(self, key: str) -> None:
        with self._guard:
            token = self._held.pop(key, None)
        if token is None:
            return
        try:
            self._release(keys=[self.prefix + key], args=[token])
        except redis.RedisError:
            # The lock expires by itself after ttl_ms; failing the job over it
            # would turn a finished job into a retry.
            log.warning("could not release lock %s; it expires in %d ms", key, self.ttl_ms)

    def extend_held(self) -> list[str]:
        """Extend every lock this process holds; return the keys that were lost."""
        with self._guard:
            held = list(self._held.items())
        lost = []
        for key, token in held:
            if not self._extend(keys=[self.prefix + key], args=[token, self.ttl_ms]):
                lost.append(key)
        METRICS.locks_extended(len(held) - len(lost), len(lost))
        if lost:
            log.warning("locks lost before they could be extended: %s", ", ".join(lost))
        return lost

    def holds(self, key: str) -> bool:
        with self._guard:
            return key in self._held


class RedisLease:
    """One named lease whose value says who holds it: ``SET NX PX``, renewed and released only by its holder.

    For work that must not run twice at once anywhere (an action on every dead
    letter of a queue); a holder that dies without releasing it loses it after
    ``ttl_ms``, so it renews the lease while it works. Redis errors are raised.

    Parameters:
      client: a redis-py client.
      key: the lease's key.
      ttl_ms: how long it lives without being renewed.
    """

    def __init__(self, client: redis.Redis, key: str, *, ttl_ms: int) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = ttl_ms
        self._release = client.register_script(RELEASE)
        self._extend = client.register_script(EXTEND)

    def take(self, holder: str) -> bool:
        """Hold the lease as ``holder`` if no one does; whether it was taken."""
        return bool(self.client.set(self.key, holder, nx=True, px=self.ttl_ms))

    def holder(self) -> str | None:
        """Who holds the lease now, or None."""
        value = self.client.get(self.key)
        return None if value is None else as_text(value)

    def renew(self, holder: str) -> bool:
        """Give ``holder`` another ``ttl_ms``; False when it no longer holds the lease."""
        return bool(self._extend(keys=[self.key], args=[holder, self.ttl_ms]))

    def release(self, holder: str) -> None:
        """Let the lease go, if ``holder`` still holds it."""
        self._release(keys=[self.key], args=[holder])
