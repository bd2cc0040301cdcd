"""Redis: the per-job lock and live progress of CONTRACT section 3."""

from adapters.redis.lock import RedisLock
from adapters.redis.progress import RedisProgress

__all__ = ["RedisLock", "RedisProgress"]
