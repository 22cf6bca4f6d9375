"""/api/v1/health: database, Redis and worker heartbeats."""

from __future__ import annotations

import dataclasses
import time
import uuid

import pytest

from app.services import free_port
from tests.celery_worker import output_tail, running_worker
from tests.conftest import build_app

HEALTH_KEYS = {"status", "version", "uptime_seconds", "database", "redis", "workers"}


def test_health_is_public_and_reports_database_and_redis(app, redis_client):
    response = app.server.test_client().get("/api/v1/health")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert HEALTH_KEYS <= set(body)
    assert body["database"]["ok"] is True and body["database"]["dialect"] == "sqlite"
    assert body["database"]["latency_ms"] >= 0
    assert body["redis"]["ok"] is True and body["redis"]["latency_ms"] >= 0
    assert body["workers"] == {"ok": False, "count": 0, "last_seen_seconds_ago": None}
    assert body["status"] == "degraded"  # no worker is running
    assert body["uptime_seconds"] >= 0


def test_health_counts_fresh_heartbeats(app, redis_client):
    redis_client.set("tb:worker:w1@host", f"{time.time() - 4:.3f}", ex=30)
    redis_client.set("tb:worker:w2@host", f"{time.time() - 1:.3f}", ex=30)
    body = app.server.test_client().get("/api/v1/health").get_json()
    assert body["status"] == "healthy"
    assert body["workers"]["count"] == 2
    assert 0.5 <= body["workers"]["last_seen_seconds_ago"] < 3


def test_health_is_degraded_and_fast_when_redis_is_down(app_settings, redis_client):
    closed = free_port()
    dash_app = build_app(dataclasses.replace(app_settings, REDIS_URL=f"redis://127.0.0.1:{closed}/0"))
    started = time.monotonic()
    response = dash_app.server.test_client().get("/api/v1/health")
    assert time.monotonic() - started < 2.0
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is False and "error" in body["redis"]
    assert body["workers"]["ok"] is False


def test_health_is_503_unhealthy_when_the_database_does_not_answer(app_settings):
    closed = free_port()
    settings = dataclasses.replace(app_settings, DATABASE_URL=f"postgresql+psycopg2://nobody@127.0.0.1:{closed}/none")
    from app import create_app

    response = create_app(settings).server.test_client().get("/api/v1/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unhealthy"
    assert body["database"] == {"ok": False, "latency_ms": None, "dialect": "postgresql", "error": body["database"]["error"]}


def test_a_real_worker_is_seen_through_its_heartbeat(app, app_settings, redis_client):
    hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
    key = f"tb:worker:{hostname}"
    with running_worker(app_settings.REDIS_URL, app_settings.DATABASE_URL, hostname) as worker:
        deadline = time.monotonic() + 45
        while redis_client.get(key) is None:
            if worker.poll() is not None:
                pytest.fail(f"the worker exited: {output_tail(worker)}")
            if time.monotonic() > deadline:
                pytest.fail("no heartbeat from the worker within 45 s")
            time.sleep(0.2)
        assert 0 < redis_client.ttl(key) <= 30
        body = app.server.test_client().get("/api/v1/health").get_json()
        assert body["status"] == "healthy"
        assert body["workers"]["ok"] is True and body["workers"]["count"] == 1
        assert body["workers"]["hosts"] == [hostname]
        assert body["workers"]["last_seen_seconds_ago"] < 15
    assert worker.returncode == 0
    assert redis_client.get(key) is None  # a clean shutdown removes its heartbeat


def test_health_and_sign_in_work_on_postgresql(pg_url, redis_url, redis_client, tmp_path, login, users):
    from sqlalchemy import create_engine

    from app.config import Settings
    from data_access.db import Base

    settings = Settings(DATABASE_URL=pg_url, REDIS_URL=redis_url, VAR_DIR=str(tmp_path), SECRET_KEY="pg-test-key")
    engine = create_engine(pg_url)
    Base.metadata.drop_all(engine)  # the session's database may hold tables from another test
    engine.dispose()
    dash_app = build_app(settings)
    client = dash_app.server.test_client()
    body = client.get("/api/v1/health").get_json()
    assert body["database"]["ok"] is True and body["database"]["dialect"] == "postgresql"
    assert login(client, "admin", users["admin"]).status_code == 303
    assert client.get("/_dash-layout").status_code == 200
    dash_app.server.extensions["tradeboard"].engine.dispose()
