"""The heartbeat's lock extensions, counted on real Redis."""

from __future__ import annotations

import uuid

from prometheus_client import CollectorRegistry

from adapters.metrics.prometheus import Metrics
from adapters.redis import RedisLock


def test_extend_held_counts_extended_and_lost_locks(redis_client, monkeypatch):
    registry = CollectorRegistry()
    metrics = Metrics()
    metrics.start(registry)
    monkeypatch.setattr("adapters.redis.lock.METRICS", metrics)
    lock = RedisLock(redis_client, ttl_ms=5000)
    keys = [f"video:{uuid.uuid4().int % 10**12}" for _ in range(3)]
    try:
        for key in keys:
            assert lock.acquire(key)
        redis_client.delete(f"lock:{keys[0]}")  # expired while we held it
        assert lock.extend_held() == [keys[0]]
        assert lock.extend_held() == [keys[0]]  # still remembered until released
    finally:
        for key in keys:
            lock.release(key)
    assert registry.get_sample_value("media_worker_lock_extensions_total") == 4
    assert registry.get_sample_value("media_worker_locks_lost_total") == 2
