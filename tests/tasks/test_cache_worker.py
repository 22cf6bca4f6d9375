"""Stale sections refreshed on a real cache worker (tasks/cache.py): the web serves them stale and
runs none of their SQL; the worker stores each one once. Without a live cache worker, the web
refreshes them itself, as before."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cachelib.serializers import RedisSerializer
from sqlalchemy import event

import tasks
from app.config import Settings
from data_access.cache import sections
from data_access.client_dashboard import client_dashboard_for
from data_access.db import configure_database
from tasks.cache import HANDOVER_SECONDS, WORKER_CHECK_SECONDS, CacheWorkers
from tasks.heartbeat import cache_worker_count
from tests.celery_worker import output_tail, running_cache_worker
from tests.conftest import demo_seeded


@contextmanager
def statements_by_thread(engine) -> Iterator[dict[str, int]]:
    """SQL statements run in this process meanwhile, counted by the name of the thread that ran them."""
    counts: dict[str, int] = {}

    def count(*_args) -> None:
        name = threading.current_thread().name
        counts[name] = counts.get(name, 0) + 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", count)


def make_sections_stale(redis_client) -> list[bytes]:
    """Every stored section past its TTL (kept, as the cache keeps it one more TTL, as stale)."""
    serializer, made = RedisSerializer(), []
    for key in redis_client.scan_iter(match="tb:s:*"):
        entry = serializer.loads(redis_client.get(key))
        entry["fresh_until"] = time.time() - 1
        redis_client.set(key, serializer.dumps(entry), keepttl=True)
        made.append(key)
    return made


def wait_until_fresh(settings, deadline_s: float = 30) -> dict:
    deadline = time.monotonic() + deadline_s
    while True:
        doc = client_dashboard_for(settings)
        if not any(section["stale"] for section in doc["sections"].values()):
            return doc
        assert time.monotonic() < deadline, f"still stale: {[n for n, s in doc['sections'].items() if s['stale']]}"
        time.sleep(0.1)


@pytest.fixture
def demo_cache(sqlite_url, redis_url, redis_client):
    demo_seeded(sqlite_url)
    engine = configure_database(sqlite_url)
    settings = Settings(DATABASE_URL=sqlite_url, REDIS_URL=redis_url)
    sections.configure_from(settings)
    tasks.use_settings(settings)  # as create_app does: the web queues work on its own Redis
    yield engine, settings
    sections.refresh_elsewhere = None


def test_a_cache_worker_refreshes_the_stale_sections_and_the_web_runs_none_of_their_sql(demo_cache, redis_url,
                                                                                         redis_client, sqlite_url):
    engine, settings = demo_cache
    hostname = f"cache-{uuid.uuid4().hex[:8]}@localhost"
    with running_cache_worker(redis_url, sqlite_url, hostname, WARM_UP_AT_WORKER_START="true") as worker:
        deadline = time.monotonic() + 45
        while not cache_worker_count(redis_client):
            assert worker.poll() is None and time.monotonic() < deadline, output_tail(worker)
            time.sleep(0.2)
        assert redis_client.llen("celery") == 0  # a cache worker queues no warm-up of its own
        sections.refresh_elsewhere = CacheWorkers(sections.redis)

        client_dashboard_for(settings)  # cold: built here and stored
        assert len(make_sections_stale(redis_client)) >= 5
        with statements_by_thread(engine) as statements:
            stale = client_dashboard_for(settings)
            assert stale["sections"]["accounts"]["stale"] and stale["sections"]["equity"]["stale"]
            fresh = wait_until_fresh(settings)
        assert not any(name.startswith("stale-refresh") for name in statements), statements
        assert fresh["sections"]["accounts"]["computed_at"] > stale["sections"]["accounts"]["computed_at"]
        assert fresh["accounts"] == stale["accounts"]  # the same data, recomputed on the worker
        assert redis_client.keys("tb:lock:*") == []  # every lock released
        log = output_tail(worker, 20000)
        assert "refresh_stale_sections" in log and "succeeded" in log, log
    assert worker.returncode == 0
    assert cache_worker_count(redis_client) == 0  # a clean shutdown leaves the set


def test_without_a_live_cache_worker_the_web_refreshes_stale_sections_itself(demo_cache, redis_client):
    engine, settings = demo_cache
    redis_client.zadd("tb:cache-workers", {"long-gone@localhost": time.time() - 60})  # its last beat, a minute ago
    workers = CacheWorkers(sections.redis)
    sections.refresh_elsewhere = workers
    client_dashboard_for(settings)
    make_sections_stale(redis_client)
    with statements_by_thread(engine) as statements:
        client_dashboard_for(settings)
        wait_until_fresh(settings)
    assert not workers.alive()
    assert any(name.startswith("stale-refresh") for name in statements), statements
    assert redis_client.llen("cache") == 0  # nothing was queued for a worker that is not there


def test_a_cache_worker_killed_stale_sections_are_still_served_and_the_web_takes_their_refresh_over(
        demo_cache, redis_url, redis_client, sqlite_url):
    """SIGKILL, so the worker's heartbeat stays in the set (here for 5 s more: its last beat is made
    25 s old) and the web keeps handing refreshes to a queue nobody reads. Each hand-over's lock lapses
    after HANDOVER_SECONDS, readers keep getting the stale values at once, and once the heartbeat is
    too old the web refreshes them itself."""
    engine, settings = demo_cache
    hostname = f"doomed-{uuid.uuid4().hex[:8]}@localhost"
    with running_cache_worker(redis_url, sqlite_url, hostname) as worker:
        deadline = time.monotonic() + 45
        while not cache_worker_count(redis_client):
            assert worker.poll() is None and time.monotonic() < deadline, output_tail(worker)
            time.sleep(0.2)
        sections.refresh_elsewhere = CacheWorkers(sections.redis)
        client_dashboard_for(settings)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    redis_client.zadd("tb:cache-workers", {hostname: time.time() - 25})  # alive, as far as the web knows, 5 s more
    make_sections_stale(redis_client)
    slowest, started = 0.0, time.monotonic()
    with statements_by_thread(engine) as statements:
        while True:
            asked = time.perf_counter()
            doc = client_dashboard_for(settings)
            slowest = max(slowest, time.perf_counter() - asked)
            assert "errors" not in doc, doc["errors"]
            if not any(section["stale"] for section in doc["sections"].values()):
                break
            # the heartbeat's last 5 s, the web's look at it, two hand-overs' locks, slack: 23 s; a hand-over
            # holding its lock for CACHE_LOCK_SECONDS (30 s) would keep the sections stale for over 30 s
            assert time.monotonic() - started < 5 + WORKER_CHECK_SECONDS + 2 * HANDOVER_SECONDS + 3, \
                "the web did not take the refreshes over"
            time.sleep(0.25)
    assert slowest < 1.0  # nobody waited for a refresh, handed over or not
    assert redis_client.llen("cache") >= 1  # the first hand-overs went to the dead worker's queue
    assert any(name.startswith("stale-refresh") for name in statements), statements


@pytest.mark.parametrize("process", ["web", "worker"])
def test_a_web_process_hands_stale_sections_over_and_a_worker_refreshes_its_own(demo_cache, redis_client, monkeypatch,
                                                                                  process):
    """A worker builds the Dash app too (background callbacks), so it has the hand-over: a stale input it
    reads while computing something else must be refreshed there, not queued for itself."""
    from data_access.cache import SectionRefresh
    from tasks import cache as cache_tasks

    monkeypatch.setattr(cache_tasks, "_in_a_worker", process == "worker")
    redis_client.zadd("tb:cache-workers", {"alive@localhost": time.time()})
    redis_client.set("tb:lock:tb:s:x:g0:a", "reader", ex=30)
    handed = CacheWorkers(sections.redis)([SectionRefresh("x", ("a",), "tb:s:x:g0:a", 30, "reader")])
    assert handed is (process == "web")
    assert redis_client.llen("cache") == (1 if process == "web" else 0)
    assert 0 < redis_client.ttl("tb:lock:tb:s:x:g0:a") <= (5 if process == "web" else 30)
