"""A real Celery worker warms the client dashboard: afterwards the page's own read is a cache hit
that runs no SQL."""

from __future__ import annotations

import uuid

from celery import Celery
from sqlalchemy import event

from app.config import Settings
from data_access.cache import sections
from data_access.client_dashboard import TIME_RANGES, client_dashboard_for
from data_access.db import configure_database
from tests.celery_worker import result_or_worker_output, running_worker
from tests.conftest import demo_seeded


def test_a_worker_warms_the_keys_the_client_page_reads(sqlite_url, redis_url, redis_client):
    demo_seeded(sqlite_url)
    client = Celery(broker=redis_url, backend=redis_url)
    with running_worker(redis_url, sqlite_url, f"warm-{uuid.uuid4().hex[:8]}@localhost") as worker:
        result = client.send_task("tasks.dashboards.refresh_client_dashboard")
        outcome = result_or_worker_output(result, worker, 90, "warming failed")
    assert set(outcome["built_ms"]) == set(TIME_RANGES)

    engine = configure_database(sqlite_url)
    sections.configure(cache_type="RedisCache", redis_url=redis_url, ttl=Settings().ttl_tiers)
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for time_range in TIME_RANGES:
        doc = client_dashboard_for(Settings(), time_range)
        assert doc["metadata"]["cached"] is True, (time_range, doc["metadata"])
        assert doc["overview"]["total_aum"] > 0
    assert statements == []
