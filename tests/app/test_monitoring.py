"""Request monitoring on the real test Redis: a scripted sequence of fast, slow and failing requests
gives the expected counts and percentiles; two app instances (two gunicorn workers) share one view;
slow requests and slow SQL are logged; cache hit rate per data family; GET /metrics."""

from __future__ import annotations

import dataclasses
import logging
import re
import time

import flask
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from app import monitoring
from app.auth import create_token
from data_access.cache import cache_report
from tests.conftest import build_app, log_in

SLOW = 0.2  # SLOW_REQUEST_SECONDS in these tests


def test_routes() -> flask.Blueprint:
    """Endpoints with a known delay and status, and one that reads the client dashboard then waits."""
    bp = flask.Blueprint("monitoring_test", __name__)

    @bp.get("/test/work")
    def work():
        time.sleep(float(flask.request.args.get("ms", 0)) / 1000.0)
        return flask.jsonify(ok=True), int(flask.request.args.get("status", 200))

    @bp.get("/test/dashboard-then-wait")
    def dashboard_then_wait():
        from data_access.client_dashboard import client_dashboard_for

        doc = client_dashboard_for(flask.current_app.extensions["tradeboard"].settings, "30d")
        time.sleep(SLOW + 0.05)
        return flask.jsonify(cached=doc["metadata"]["cached"])

    return bp


test_routes.__test__ = False  # a helper, not a test


def make_app(settings):
    dash_app = build_app(settings)
    dash_app.server.register_blueprint(test_routes())
    return dash_app


@pytest.fixture
def monitored_settings(app_settings):
    return dataclasses.replace(app_settings, SLOW_REQUEST_SECONDS=SLOW, SLOW_SQL_SECONDS=0.05)


@pytest.fixture
def monitored(monitored_settings, redis_client, users):
    dash_app = make_app(monitored_settings)
    client = dash_app.server.test_client()
    assert log_in(client, "admin", users["admin"]).status_code == 303
    yield dash_app, client
    dash_app.server.extensions["tradeboard"].engine.dispose()


def stats_of(dash_app, endpoint: str) -> dict:
    assert monitoring.flush()
    client = dash_app.server.extensions["tradeboard"].redis(0.5)
    rows = {row["endpoint"]: row for row in monitoring.request_stats(client, 300)}
    return rows[endpoint]


def run_script(client) -> None:
    """20 requests to one endpoint: 15 fast, one 500, one 404, two of 250 ms and one of 400 ms."""
    for _ in range(15):
        assert client.get("/test/work").status_code == 200
    assert client.get("/test/work?status=500").status_code == 500
    assert client.get("/test/work?status=404").status_code == 404
    for _ in range(2):
        client.get("/test/work?ms=250")
    client.get("/test/work?ms=400")


def test_a_scripted_sequence_gives_the_expected_counts_and_percentiles(monitored):
    dash_app, client = monitored
    run_script(client)
    row = stats_of(dash_app, "/test/work")
    assert (row["count"], row["errors"], row["client_errors"], row["slow"], row["samples"]) == (20, 1, 1, 3, 20)
    assert (row["total_count"], row["total_errors"], row["total_slow"]) == (20, 1, 3)
    # nearest rank over 20: p50 is the 10th fastest (a fast one), p95 the 19th (250 ms), p99 the 20th (400 ms)
    assert row["p50_seconds"] < 0.05
    assert 0.25 <= row["p95_seconds"] < 0.4
    assert 0.4 <= row["p99_seconds"] < 0.6
    assert row["total_seconds"] >= 0.9


def test_percentiles_use_only_the_sliding_window(monitored, redis_client):
    dash_app, client = monitored
    client.get("/test/work?ms=300")
    assert monitoring.flush()
    later = time.time() + 301  # five minutes on: the slow request has left the window
    row = {r["endpoint"]: r for r in monitoring.request_stats(redis_client, 300, now=later)}["/test/work"]
    assert row["samples"] == 0 and row["p95_seconds"] is None and row["count"] == 0
    assert row["total_count"] == 1 and row["total_slow"] == 1  # the running totals keep it


def test_two_app_instances_sharing_one_redis_see_the_same_figures(monitored_settings, redis_client, users, tmp_path):
    first = make_app(monitored_settings)
    second = make_app(dataclasses.replace(monitored_settings, DATABASE_URL=f"sqlite:///{tmp_path / 'second.db'}"))
    clients = []
    for dash_app in (first, second):
        client = dash_app.server.test_client()
        assert log_in(client, "admin", users["admin"]).status_code == 303
        clients.append(client)
    for _ in range(3):
        clients[0].get("/test/work")
    clients[1].get("/test/work?ms=250")
    clients[1].get("/test/work?status=503")
    from_first, from_second = stats_of(first, "/test/work"), stats_of(second, "/test/work")
    assert from_first == from_second
    assert (from_first["count"], from_first["errors"], from_first["slow"]) == (5, 1, 1)
    metrics = {s.labels.get("endpoint"): s.value for fam in text_string_to_metric_families(
        clients[0].get("/metrics").get_data(as_text=True)) for s in fam.samples
        if s.name == "tradeboard_http_requests_total"}
    assert metrics["/test/work"] == 5
    for dash_app in (first, second):
        dash_app.server.extensions["tradeboard"].engine.dispose()


def test_a_slow_request_logs_its_endpoint_time_and_cache_hits_and_misses(monitored, caplog):
    dash_app, client = monitored
    caplog.set_level(logging.WARNING, logger="app.monitoring")
    assert client.get("/test/dashboard-then-wait").get_json() == {"cached": False}
    assert client.get("/test/dashboard-then-wait").get_json() == {"cached": True}
    client.get("/test/work")  # fast: not logged
    slow = [r.getMessage() for r in caplog.records if r.getMessage().startswith("slow request")]
    assert len(slow) == 2, slow
    cold, warm = slow
    for message in slow:
        assert re.search(r"GET /test/dashboard-then-wait took 0\.(2[5-9]|[3-9])\d* s \(status 200\)", message), message
    assert "cache hits 0 []" in cold and "misses 0" not in cold and "account_balances" in cold
    assert "cache hits 0" not in warm and "misses 0 []" in warm and "account_balances" in warm
    assert stats_of(dash_app, "/test/dashboard-then-wait")["slow"] == 2


def test_nested_cache_reports_record_into_the_enclosing_one(monitored):
    dash_app, _client = monitored
    from data_access.client_dashboard import client_dashboard_for

    with dash_app.server.app_context(), cache_report() as outer:
        doc = client_dashboard_for(dash_app.server.extensions["tradeboard"].settings, "7d")
    assert outer.misses == doc["metadata"]["cache_misses"] and outer.misses


def test_a_slow_sql_statement_is_logged_with_its_text_and_time(monitored, caplog):
    dash_app, _client = monitored
    caplog.set_level(logging.WARNING, logger="app.monitoring")
    statement = ("WITH RECURSIVE counter(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM counter WHERE x < 2000000) "
                 "SELECT count(*) FROM counter")
    started = time.perf_counter()
    with dash_app.server.extensions["tradeboard"].engine.connect() as conn:
        assert conn.execute(text(statement)).scalar() == 2_000_000
        conn.execute(text("SELECT 1"))
    took = time.perf_counter() - started
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("slow SQL")]
    assert took > 0.05 and len(logged) == 1, logged
    assert "WITH RECURSIVE counter(x)" in logged[0]
    assert float(logged[0].split(":")[1].strip().removesuffix(" s")) > 0.05


def test_cache_hit_rate_per_family_after_a_cold_then_a_warm_read(monitored, redis_client):
    dash_app, client = monitored
    assert client.get("/api/v1/dashboards/client?time_range=30d").get_json()["metadata"]["cached"] is False
    assert monitoring.flush()
    cold = {row["family"]: row for row in monitoring.family_stats(redis_client)}
    assert cold["accounts"]["misses"] > 0
    assert client.get("/api/v1/dashboards/client?time_range=30d").get_json()["metadata"]["cached"] is True
    assert monitoring.flush()
    warm = {row["family"]: row for row in monitoring.family_stats(redis_client)}
    assert warm["accounts"]["misses"] == cold["accounts"]["misses"]
    assert warm["accounts"]["hits"] > cold["accounts"]["hits"]
    assert 0 < warm["accounts"]["hit_rate"] < 1
    assert warm["gex"]["hit_rate"] is None or warm["gex"]["hits"] + warm["gex"]["misses"] > 0

    families = {}
    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        for sample in family.samples:
            if sample.name in ("tradeboard_cache_hits_total", "tradeboard_cache_misses_total"):
                families[(sample.name, sample.labels["family"])] = sample.value
    assert families[("tradeboard_cache_hits_total", "accounts")] == warm["accounts"]["hits"]
    assert families[("tradeboard_cache_misses_total", "accounts")] == warm["accounts"]["misses"]


def test_metrics_carry_the_request_figures_in_prometheus_format(monitored):
    dash_app, client = monitored
    run_script(client)
    assert monitoring.flush()
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    work = (("endpoint", "/test/work"),)
    assert samples[("tradeboard_http_requests_total", work)] == 20
    assert samples[("tradeboard_http_window_requests", work)] == 20
    assert samples[("tradeboard_http_errors_total", (("class", "5xx"), *work))] == 1
    assert samples[("tradeboard_http_errors_total", (("class", "4xx"), *work))] == 1
    assert samples[("tradeboard_http_slow_requests_total", work)] == 3
    p95 = samples[("tradeboard_http_request_duration_seconds", (*work, ("quantile", "0.95")))]
    p99 = samples[("tradeboard_http_request_duration_seconds", (*work, ("quantile", "0.99")))]
    assert 0.25 <= p95 < 0.4 <= p99
    assert samples[("tradeboard_up", (("component", "database"),))] == 1
    assert samples[("tradeboard_workers", ())] == 0
    assert samples[("tradeboard_cache_degraded", ())] == 0
    assert ("tradeboard_task_runs_total", (("task", "tasks.dashboards.refresh_client_dashboard"),)) in samples
    assert ("tradeboard_task_next_run_timestamp_seconds",
            (("task", "tasks.dashboards.aggregate_strategy_performance"),)) in samples


def test_task_runs_and_beat_reach_metrics(monitored):
    dash_app, client = monitored
    from data_access import task_runs

    started = time.time() - 2
    task_runs.record_start("tasks.dashboards.refresh_client_dashboard", "t1", started)
    task_runs.record_end("tasks.dashboards.refresh_client_dashboard", "t1", "success", started)
    task_runs.record_end("tasks.dashboards.refresh_client_dashboard", "t2", "failure", started, error="boom")
    task_runs.record_beat_pulse()
    samples = {(s.name, s.labels.get("task")): s.value
               for fam in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
               for s in fam.samples}
    task = "tasks.dashboards.refresh_client_dashboard"
    assert samples[("tradeboard_task_runs_total", task)] == 1
    assert samples[("tradeboard_task_failures_total", task)] == 1
    assert samples[("tradeboard_task_last_duration_seconds", task)] >= 2
    assert abs(samples[("tradeboard_task_last_success_timestamp_seconds", task)] - time.time()) < 10
    assert abs(samples[("tradeboard_task_next_run_timestamp_seconds", task)] - (started + 300)) < 1
    assert abs(samples[("tradeboard_beat_last_seen_timestamp_seconds", None)] - time.time()) < 10


def test_metrics_need_an_admin_or_an_admins_token(monitored, users, monitored_settings, tmp_path):
    dash_app, admin = monitored
    anonymous = dash_app.server.test_client()
    refused = anonymous.get("/metrics")
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "unauthorized"
    assert anonymous.get("/metrics", headers={"Authorization": "Bearer tb_wrong"}).status_code == 401
    analyst = dash_app.server.test_client()
    assert log_in(analyst, "analyst", users["analyst"]).status_code == 303
    assert analyst.get("/metrics").status_code == 403
    with dash_app.server.extensions["tradeboard"].session() as session:
        token = create_token(session, "admin", "prometheus")
    assert anonymous.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert admin.get("/metrics").status_code == 200


def test_metrics_public_needs_no_credentials(monitored_settings, redis_client, tmp_path):
    dash_app = build_app(dataclasses.replace(monitored_settings, METRICS_PUBLIC=True,
                                             DATABASE_URL=f"sqlite:///{tmp_path / 'public.db'}"))
    response = dash_app.server.test_client().get("/metrics")
    assert response.status_code == 200 and "tradeboard_up" in response.get_data(as_text=True)
    dash_app.server.extensions["tradeboard"].engine.dispose()


def test_static_assets_are_not_timed(monitored, redis_client):
    dash_app, client = monitored
    client.get("/assets/tradeboard.css")
    client.get("/api/v1/health")
    assert monitoring.flush()
    endpoints = {row["endpoint"] for row in monitoring.request_stats(redis_client, 300)}
    assert "/api/v1/health" in endpoints and not any("assets" in e for e in endpoints)
