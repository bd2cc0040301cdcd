"""The lock and progress adapters against the real Redis server."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import redis as redis_lib

from adapters.redis import RedisLock, RedisProgress
from domain.errors import TransientError
from domain.progress import Progress
from domain.video.model import STEPS as VIDEO_STEPS


@pytest.fixture
def job_key():
    return f"video:{uuid.uuid4().int % 10**12}"


def test_lock_is_exclusive_and_only_its_owner_releases(redis_client, job_key):
    one, two = RedisLock(redis_client, ttl_ms=5000), RedisLock(redis_client, ttl_ms=5000)
    assert one.acquire(job_key) is True
    token = redis_client.get(f"lock:{job_key}")
    assert len(token) == 32 and 0 < redis_client.pttl(f"lock:{job_key}") <= 5000
    assert two.acquire(job_key) is False
    two.release(job_key)  # not its lock: a no-op
    assert redis_client.get(f"lock:{job_key}") == token
    one.release(job_key)
    assert redis_client.exists(f"lock:{job_key}") == 0
    assert two.acquire(job_key) is True
    two.release(job_key)


def test_release_after_expiry_never_deletes_the_new_owners_lock(redis_client, job_key):
    old, new = RedisLock(redis_client, ttl_ms=100), RedisLock(redis_client, ttl_ms=5000)
    assert old.acquire(job_key)
    time.sleep(0.2)
    assert new.acquire(job_key)
    old.release(job_key)  # compare-and-delete: the token differs
    assert redis_client.exists(f"lock:{job_key}") == 1
    assert old.extend_held() == []  # released, so no longer held
    new.release(job_key)


def test_extend_held_pushes_back_expiry_and_reports_lost_locks(redis_client, job_key):
    lock = RedisLock(redis_client, ttl_ms=300)
    assert lock.acquire(job_key)
    for _ in range(4):
        time.sleep(0.15)
        assert lock.extend_held() == []
    assert redis_client.exists(f"lock:{job_key}") == 1  # alive after 600 ms thanks to the beats
    redis_client.set(f"lock:{job_key}", "someone-else")
    assert lock.extend_held() == [job_key]
    assert redis_client.get(f"lock:{job_key}") == "someone-else"  # compare-and-expire left it alone
    redis_client.delete(f"lock:{job_key}")
    lock.release(job_key)


def test_lock_with_redis_down_is_transient():
    client = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    with pytest.raises(TransientError, match="Redis is unavailable"):
        RedisLock(client, ttl_ms=1000).acquire("video:1")


def test_progress_hash_ttl_and_publish(redis_client, job_key):
    pubsub = redis_client.pubsub()
    pubsub.subscribe(f"progress:{job_key}")
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    progress = Progress(RedisProgress(redis_client, ttl_seconds=120), job_key, VIDEO_STEPS)
    progress.step("transcoding", 0.5, "encoding 3 renditions")
    progress.step("downloading")  # backwards: ignored
    stored = redis_client.hgetall(f"progress:{job_key}")
    assert stored["step"] == "transcoding" and stored["percent"] == "48"
    assert stored["message"] == "encoding 3 renditions" and "T" in stored["updated_at"]
    assert 0 < redis_client.ttl(f"progress:{job_key}") <= 120
    published = pubsub.get_message(timeout=2)
    assert json.loads(published["data"])["percent"] == "48"
    assert pubsub.get_message(timeout=0.2) is None  # the backwards report was never written
    pubsub.close()
    redis_client.delete(f"progress:{job_key}")
