"""The strategy and signal-sender tasks on a real worker: `refresh_strategy_dashboard(time_range)`
warms exactly the keys the strategy page reads for that range, `refresh_signal_sender_dashboards`
those of every active strategy, and `invalidate_strategy_cache` makes the next strategy read miss.
"Warm" means the page's own read is a cache hit that runs no SQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from celery import Celery
from sqlalchemy import event

from app.config import Settings
from data_access.cache import sections
from data_access.db import configure_database
from data_access.signal_sender_dashboard import TIME_RANGES as SIGNAL_SENDER_RANGES, signal_sender_dashboard_for
from data_access.strategy_dashboard import strategy_dashboard
from data_access.warming import active_strategies
from tests.celery_worker import result_or_worker_output, running_worker
from tests.conftest import demo_seeded


@contextmanager
def counting_sql(engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def read_without_sql(engine, read: Callable[[], dict]) -> bool:
    """Whether ``read()`` was answered from the cache without a single SQL statement."""
    with counting_sql(engine) as statements:
        doc = read()
    assert "errors" not in doc, doc["errors"]
    return doc["metadata"]["cached"] is True and statements == []


@pytest.fixture
def seeded_worker(sqlite_url, redis_url, redis_client):
    """A demo database, this process's cache on the test Redis, a real worker and a way to run tasks on it."""
    demo_seeded(sqlite_url)
    engine = configure_database(sqlite_url)
    sections.configure(cache_type="RedisCache", redis_url=redis_url, ttl=Settings().ttl_tiers)
    celery = Celery(broker=redis_url, backend=redis_url)
    with running_worker(redis_url, sqlite_url, f"tasks-{uuid.uuid4().hex[:6]}@localhost") as worker:
        def run(name: str, *args) -> dict:
            return result_or_worker_output(celery.send_task(name, args=args), worker, 60, f"{name} failed")

        yield engine, run


def test_refresh_strategy_dashboard_warms_its_range_and_invalidate_makes_the_next_read_miss(seeded_worker):
    engine, run = seeded_worker
    assert run("tasks.dashboards.refresh_strategy_dashboard", "30d")["built_ms"].keys() == {"30d"}
    assert read_without_sql(engine, lambda: strategy_dashboard("30d"))
    assert not read_without_sql(engine, lambda: strategy_dashboard("90d"))  # only the range asked for

    assert run("tasks.dashboards.invalidate_strategy_cache") == {"invalidated": "backtests"}
    missed = strategy_dashboard("30d")
    assert missed["metadata"]["cached"] is False and missed["metadata"]["cache_hits"] == []
    assert missed["backtest_count"] > 0
    assert read_without_sql(engine, lambda: strategy_dashboard("30d"))  # that read stored it again


def test_refresh_signal_sender_dashboards_warms_every_active_strategy_and_range(seeded_worker):
    engine, run = seeded_worker
    strategies = active_strategies()
    assert len(strategies) >= 2
    outcome = run("tasks.dashboards.refresh_signal_sender_dashboards")
    assert outcome["strategies"] == len(strategies) and set(outcome["built_ms"]) == set(strategies)
    settings = Settings()
    for name in strategies:
        assert set(outcome["built_ms"][name]) == set(SIGNAL_SENDER_RANGES)
        for time_range in SIGNAL_SENDER_RANGES:
            assert read_without_sql(engine, lambda: signal_sender_dashboard_for(settings, name, time_range)), \
                (name, time_range)
