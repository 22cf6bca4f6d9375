"""Breaking things on purpose, on loopback, bounded in time: Redis stopped under load, a worker
killed mid-sweep, the database gone for one section and for all, an external provider hanging."""

from __future__ import annotations

import dataclasses
import threading
import time

from collections import Counter

import pytest
import requests
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from app.auth import create_token
from app.services import PrivateRedis
from data_access.migrate import upgrade

from data_access.seed import seed
from tests.celery_worker import output_tail, result_or_worker_output, running_beat, running_worker
from tests.conftest import build_app, demo_seeded
from tests.providers.http_server import ProviderServer


class Served:
    """The app behind a real threaded HTTP server on a free loopback port."""

    def __init__(self, dash_app) -> None:
        self.server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()


def bearer(dash_app, username: str = "admin") -> dict[str, str]:
    with dash_app.server.extensions["tradeboard"].session() as session:
        return {"Authorization": f"Bearer {create_token(session, username, 'faults')}"}


def seeded_app(settings):
    if settings.DATABASE_URL.startswith("sqlite"):
        demo_seeded(settings.DATABASE_URL)
    else:
        upgrade(settings.DATABASE_URL)
        seed(settings.DATABASE_URL, scale="demo", progress=False)
    return build_app(settings)


def until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {seconds:g} s"
        time.sleep(0.05)


def test_redis_stopped_under_load_no_5xx_degraded_then_caching_resumes(app_settings, tmp_path):
    redis = PrivateRedis(tmp_path / "redis").start()
    settings = dataclasses.replace(app_settings, REDIS_URL=redis.url, CACHE_RETRY_SECONDS=1.0)
    dash_app = seeded_app(settings)
    served, headers = Served(dash_app), bearer(dash_app)
    paths = ["/api/v1/dashboards/paper-trading/lite", "/api/v1/dashboards/client", "/api/v1/dashboards/paper-trading"]
    results: list[tuple[str, float, int, dict]] = []
    stop = threading.Event()

    def load() -> None:
        session = requests.Session()
        i = 0
        while not stop.is_set():
            path = paths[i % len(paths)]
            i += 1
            response = session.get(served.url + path, headers=headers, timeout=30)
            body = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
            results.append((path, time.monotonic(), response.status_code, body.get("metadata", {})))

    workers = [threading.Thread(target=load) for _ in range(6)]
    try:
        for w in workers:
            w.start()
        # under load, every path answered and the cache answering, before Redis stops
        until(lambda: {p for p, _t, _s, _m in list(results)} == set(paths)
              and any(meta.get("cached") for _p, _t, _s, meta in list(results)), 30, "cached answers")
        redis.stop()
        stopped_at = time.monotonic()
        until(lambda: sum(1 for _p, t, _s, meta in list(results) if t > stopped_at and meta.get("degraded")) >= 6,
              15, "degraded answers with Redis stopped")
        health = requests.get(served.url + "/api/v1/health", headers=headers, timeout=10).json()
        redis.start()  # the same port
        back_at = time.monotonic()
        deadline = back_at + 15
        cached_again = None
        while time.monotonic() < deadline and cached_again is None:
            time.sleep(0.2)
            cached_again = next((t for _p, t, status, meta in list(results)
                                 if t > back_at and meta.get("cached") and not meta.get("degraded")), None)
    finally:
        stop.set()
        for w in workers:
            w.join(30)
        served.stop()
        redis.stop()
    statuses = Counter(status for _p, _t, status, _m in results)
    assert statuses and all(status < 500 for status in statuses), statuses
    assert any(meta.get("degraded") for _p, t, _s, meta in results if stopped_at < t < back_at), "no degraded answers"
    assert health["status"] == "degraded" and health["redis"]["ok"] is False
    assert cached_again is not None and cached_again - back_at < 10, "caching did not resume"


# A dead worker's task comes back after 3 s + 1 s; beat's watchdog looks for stalled sweeps every 2 s.
RECOVERY = {"CELERY_VISIBILITY_TIMEOUT_SECONDS": "3", "CELERY_RESTORE_SECONDS": "1",
            "SCHEDULE_SWEEP_RECOVERY_SECONDS": "2"}


def started_sweep(dash_app, body: dict) -> tuple[dict, callable]:
    """POST the sweep; returns its 202 answer and a function counting its stored runs."""
    response = dash_app.server.test_client().post("/api/v1/backtests", json=body, headers=bearer(dash_app))
    assert response.status_code == 202, response.get_json()
    started = response.get_json()
    engine = dash_app.server.extensions["tradeboard"].engine

    def stored() -> int:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM backtest_runs WHERE sweep_id = :s"),
                                {"s": started["sweep_id"]}).scalar_one()

    return started, stored


def finished_status(dash_app, started: dict, worker, seconds: float = 120) -> dict:
    """Poll the sweep's status until SUCCESS (or fail with the worker's output)."""
    admin, status = dash_app.server.test_client(), {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = admin.get(started["status_url"], headers=bearer(dash_app)).get_json()
        if status["state"] == "SUCCESS":
            return status
        time.sleep(0.3)
    raise AssertionError((status.get("progress"), output_tail(worker)))


def stored_once(dash_app, started: dict) -> tuple[int, int]:
    with dash_app.server.extensions["tradeboard"].engine.connect() as conn:
        return tuple(conn.execute(text("SELECT count(*), count(DISTINCT config_key || symbol) FROM backtest_runs "
                                       "WHERE sweep_id = :s"), {"s": started["sweep_id"]}).one())


def test_a_worker_killed_mid_sweep_the_sweep_completes_on_another_and_nothing_is_stored_twice(app_settings, redis_url,
                                                                                               redis_client, tmp_path):
    dash_app = seeded_app(app_settings)
    settings = RECOVERY
    body = {"strategy": "sma_cross", "params": {"fast": list(range(2, 42)), "slow": 60}, "symbols": ["SPY", "QQQ"]}
    started, stored = started_sweep(dash_app, body)
    total = started["runs"]

    with running_worker(redis_url, app_settings.DATABASE_URL, "doomed@localhost", **settings) as doomed:
        deadline = time.monotonic() + 60
        while stored() < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        doomed.kill()  # SIGKILL the worker mid-sweep
        doomed.wait(10)
    partial = stored()
    assert 5 <= partial < total, (partial, total)
    # beat too: a worker killed between popping a message and recording it unacknowledged loses
    # that member (kombu's Redis transport), and only beat's watchdog queues it again
    with running_worker(redis_url, app_settings.DATABASE_URL, "rescuer@localhost", **settings) as rescuer, \
            running_beat(redis_url, app_settings.DATABASE_URL, tmp_path / "beat-schedule", **settings):
        status = finished_status(dash_app, started, rescuer)
    assert status["progress"] == {"total": total, "completed": total, "failed": 0, "percent": 100.0}
    assert stored_once(dash_app, started) == (total, total)  # every member once


def test_a_sweep_member_whose_message_is_lost_is_queued_again_by_beat_and_the_sweep_finishes(app_settings, redis_url,
                                                                                               redis_client, tmp_path):
    dash_app = seeded_app(app_settings)
    body = {"strategy": "sma_cross", "params": {"fast": [5, 10, 15], "slow": 60}, "symbols": ["SPY", "QQQ"]}
    started, stored = started_sweep(dash_app, body)
    lost = redis_client.rpop("celery")  # the next member a worker would take, gone as with a killed worker
    assert lost is not None and b"tasks.backtests.run_member" in lost
    with running_worker(redis_url, app_settings.DATABASE_URL, "lone@localhost", **RECOVERY) as worker, \
            running_beat(redis_url, app_settings.DATABASE_URL, tmp_path / "beat-schedule", **RECOVERY):
        status = finished_status(dash_app, started, worker, seconds=60)
        log = output_tail(worker, 200_000)
    assert status["progress"] == {"total": 6, "completed": 6, "failed": 0, "percent": 100.0}
    assert stored_once(dash_app, started) == (6, 6)
    assert f"sweep {started['sweep_id']} stalled with 1 member(s) missing" in log
    assert status["recommendation"] is not None


def test_one_section_losing_its_table_is_a_partial_200(app_settings):
    dash_app = seeded_app(app_settings)
    client = dash_app.server.test_client()
    headers = bearer(dash_app)
    with dash_app.server.extensions["tradeboard"].engine.begin() as conn:
        conn.execute(text("ALTER TABLE account_snapshots RENAME TO account_snapshots_gone"))
    response = client.get("/api/v1/dashboards/client?force_refresh=true", headers=headers)
    doc = response.get_json()
    assert response.status_code == 200 and "accounts" in doc["errors"] and doc["recent_signals"]
    with dash_app.server.extensions["tradeboard"].engine.begin() as conn:
        conn.execute(text("ALTER TABLE account_snapshots_gone RENAME TO account_snapshots"))
    healed = client.get("/api/v1/dashboards/client?force_refresh=true", headers=headers).get_json()
    assert "errors" not in healed


def test_the_database_gone_for_everything_partial_200_then_503_health_then_recovery(app_settings, postgres_url,
                                                                                     make_postgres_database):
    settings = dataclasses.replace(app_settings, DATABASE_URL=postgres_url)
    dash_app = seeded_app(settings)
    client = dash_app.server.test_client()
    headers = bearer(dash_app)
    name = postgres_url.rsplit("/", 1)[1]
    admin = create_engine(postgres_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")

    def allow(connections: bool) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if connections else "false"}'))
            if not connections:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                                  "AND pid <> pg_backend_pid()"), {"n": name})

    assert client.get("/api/v1/dashboards/paper-trading", headers=headers).status_code == 200  # identity verified
    try:
        allow(False)
        down = client.get("/api/v1/dashboards/paper-trading?refresh=true", headers=headers)
        assert down.status_code == 200 and len(down.get_json()["errors"]) >= 10
        assert client.get("/api/v1/health").status_code == 503
        assert client.get("/api/v1/health").get_json()["status"] == "unhealthy"
    finally:
        allow(True)
        admin.dispose()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and client.get("/api/v1/health").status_code != 200:
        time.sleep(0.5)
    assert client.get("/api/v1/health").status_code == 200  # recovered without a restart
    back = client.get("/api/v1/dashboards/paper-trading?refresh=true", headers=headers).get_json()
    assert "errors" not in back, back.get("errors")


@pytest.fixture
def provider():
    server = ProviderServer().start()
    yield server
    server.stop()


def test_a_hanging_gex_provider_is_answered_from_its_last_good_value_within_the_latency_target(app_settings,
                                                                                               provider, redis_client):
    settings = dataclasses.replace(app_settings, GEX_PROVIDER="http", GEX_SYMBOLS="SPY",
                                   GEX_HTTP_URL_TEMPLATE=f"{provider.base_url}/gex/{{symbol}}",
                                   GEX_HTTP_TIMEOUT_SECONDS=0.5, GEX_HTTP_RETRIES=0)
    dash_app = seeded_app(settings)
    client, headers = dash_app.server.test_client(), bearer(dash_app)
    provider.set("SPY", "ok", {"gamma_exposure": 1e9, "call_wall": 600, "put_wall": 550})
    assert client.get("/api/v1/dashboards/paper-trading", headers=headers).get_json()["gex"][0]["stale"] is False
    provider.set("SPY", "slow", delay=10.0)
    started = time.perf_counter()
    forced = client.get("/api/v1/dashboards/paper-trading?refresh=true", headers=headers).get_json()
    assert time.perf_counter() - started < 2.5  # the timeout, not the provider's 10 s
    assert forced["gex"][0]["stale"] is True and forced["gex"][0]["call_wall"] == 600
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        assert client.get("/api/v1/dashboards/paper-trading", headers=headers).status_code == 200
        timings.append(time.perf_counter() - started)
    assert max(timings) < 0.5, timings  # the stale value is cached: the provider is not asked again




def waiting_on_a_lock(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar_one()


def test_a_worker_killed_during_a_warm_up_the_warm_up_completes_on_another(postgres_url, redis_url, redis_client):
    """The warm-up blocks on a locked table, its worker is SIGKILLed there, and the task (acknowledged
    late) goes to a second worker, which warms every dashboard once the lock is gone."""
    import os
    import signal

    from celery import Celery

    from app.config import Settings
    from data_access import task_runs
    from data_access.cache import sections
    from data_access.client_dashboard import client_dashboard_for
    from data_access.db import configure_database
    from data_access.strategy_dashboard import strategy_dashboard

    upgrade(postgres_url)
    seed(postgres_url, scale="demo", progress=False)
    quick_redelivery = {"CELERY_VISIBILITY_TIMEOUT_SECONDS": "3", "CELERY_RESTORE_SECONDS": "1"}
    engine = create_engine(postgres_url)
    locker = engine.connect()
    lock = locker.begin()
    locker.execute(text("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE"))
    client = Celery(broker=redis_url, backend=redis_url)
    try:
        with running_worker(redis_url, postgres_url, "warm-first@localhost", **quick_redelivery) as first:
            result = client.send_task("tasks.dashboards.refresh_all_dashboards")
            deadline = time.monotonic() + 60
            while not waiting_on_a_lock(engine):
                assert time.monotonic() < deadline and first.poll() is None, output_tail(first)
                time.sleep(0.2)
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
        lock.rollback()
        with running_worker(redis_url, postgres_url, "warm-second@localhost", **quick_redelivery) as second:
            outcome = result_or_worker_output(result, second, 90, "the warm-up was not redelivered")
    finally:
        locker.close()
        engine.dispose()
    assert outcome["errors"] == {} and set(outcome["refreshed"]) == {"client", "signal_sender", "strategy",
                                                                     "paper_trading"}
    configure_database(postgres_url)
    sections.configure(cache_type="RedisCache", redis_url=redis_url, ttl=Settings().ttl_tiers)
    assert client_dashboard_for(Settings(), "30d")["metadata"]["cached"] is True
    assert strategy_dashboard("all")["metadata"]["cached"] is True
    record = task_runs.task_stats(["tasks.dashboards.refresh_all_dashboards"])["tasks.dashboards.refresh_all_dashboards"]
    # the dead worker never finished it; the second finished it once, without a failure or a retry
    assert (record["runs"], record["failures"], record["retries"], record["last_status"]) == (1, 0, 0, "success")
