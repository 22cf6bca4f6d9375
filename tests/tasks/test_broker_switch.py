"""One process that builds apps on several Redis servers (as the test suite does) can still queue
work after returning to a broker it used before."""

from __future__ import annotations

import redis

import tasks
from app.config import Settings
from tests.conftest import make_url_redis


def queued_messages(url: str) -> int:
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        return client.llen("celery")
    finally:
        client.close()


def test_work_is_queued_after_switching_to_another_broker_and_back(redis_url, redis_client):
    first, second = redis_url, make_url_redis(redis_url, 14 if redis_url.endswith("/15") else 15)
    redis.Redis.from_url(second, socket_timeout=2).flushdb()
    for url in (first, second, first, second, first):
        app = tasks.use_settings(Settings(REDIS_URL=url, SECRET_KEY="test-secret-key-not-for-production"))
        before = queued_messages(url)
        app.send_task("tasks.heartbeat.beat_pulse")
        assert queued_messages(url) == before + 1, url
    redis_client.flushdb()
    redis.Redis.from_url(second, socket_timeout=2).flushdb()
