"""Background refresh and its controls with real processes: beat + worker warming on a short
schedule, retries with exponential backoff, a task finishing on a second worker after the first
was killed, the warm-up at worker start, the end-of-day summary and its webhook, the stale check,
`tradeboard load-dashboards`, and the refresh / cache-clear API."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery import Celery
from click.testing import CliRunner

from app.cli import main
from app.config import Settings
from data_access import task_runs
from data_access.cache import sections
from data_access.client_dashboard import client_dashboard_for
from data_access.db import configure_database, current_engine
from data_access.strategy_dashboard import strategy_dashboard
from data_access.warming import check_stale, is_market_open
from tests.celery_worker import output_tail, result_or_worker_output, running_beat, running_worker
from tests.conftest import demo_seeded
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - fixtures
from tests.tasks.test_dashboard_tasks import read_without_sql


def seeded(url: str) -> str:
    return demo_seeded(url)


def use_cache(redis_url: str) -> None:
    sections.configure(cache_type="RedisCache", redis_url=redis_url, ttl=Settings().ttl_tiers)


def wait_until(condition, timeout: float, what: str, worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    tail = f"; worker said: {output_tail(worker)}" if worker is not None and worker.poll() is not None else ""
    raise AssertionError(f"timed out waiting for {what}{tail}")


def client_is_warm(settings: Settings) -> bool:
    return client_dashboard_for(settings, "30d")["metadata"]["cached"] is True


class Webhook:
    """A local HTTP endpoint that records POSTed JSON bodies; answers `status` after `delay` s."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.bodies: list[dict] = []
        self.status, self.delay = status, delay
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                time.sleep(hook.delay)
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/eod"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.stop()


def test_beat_fires_a_short_schedule_and_the_worker_warms_what_the_page_reads(sqlite_url, redis_url, redis_client,
                                                                                tmp_path):
    seeded(sqlite_url)
    use_cache(redis_url)
    settings = Settings(DATABASE_URL=sqlite_url, REDIS_URL=redis_url)
    configure_database(sqlite_url)
    assert not client_is_warm(settings)  # that read computed the sections: start again from cold
    redis_client.flushdb()
    fast = {"SCHEDULE_CLIENT_REFRESH_SECONDS": "2", "SCHEDULE_PAPER_TRADING_REFRESH_SECONDS": "2",
            "SCHEDULE_BEAT_PULSE_SECONDS": "2"}
    with running_worker(redis_url, sqlite_url, f"ops-{uuid.uuid4().hex[:6]}@localhost", **fast) as worker, \
            running_beat(redis_url, sqlite_url, tmp_path / "beat-schedule", **fast) as beat:
        wait_until(lambda: task_runs.task_stats(["tasks.dashboards.refresh_client_dashboard"])
                   ["tasks.dashboards.refresh_client_dashboard"]["runs"] >= 1, 60, "a scheduled client refresh", worker)
        wait_until(task_runs.beat_last_seen, 40, "beat's pulse", worker)
        assert beat.poll() is None, output_tail(beat)
    assert client_is_warm(settings)
    runs = task_runs.recent_runs(20)
    assert any(r["task"] == "tasks.dashboards.refresh_paper_trading_dashboard" and r["status"] == "success"
               for r in runs)


def hidden_table(url: str, table: str, hidden: bool) -> None:
    """Rename ``table`` out of the way (or back): one statement, so the data vanishes or arrives at
    once, however slowly the machine seeds."""
    from sqlalchemy import create_engine, text

    names = (table, f"{table}_hidden") if hidden else (f"{table}_hidden", table)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'ALTER TABLE "{names[0]}" RENAME TO "{names[1]}"'))
    finally:
        engine.dispose()


def attempt_starts(name: str) -> list[float]:
    return sorted(r["started"] for r in task_runs.recent_runs(20) if r["task"] == name)


def assert_backoff(starts: list[float], expected: tuple[int, ...]) -> None:
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(gaps) == len(expected), starts
    for gap, seconds in zip(gaps, expected):
        assert seconds - 0.05 <= gap < seconds + 1.0, gaps


def test_a_failing_task_retries_after_1_2_4_seconds_then_succeeds(sqlite_url, redis_url, redis_client):
    # Seeded before the worker starts, then one table hidden: the refresh fails until it is back. Putting
    # it back is one rename, so a slow machine cannot stretch "the data arriving" past the fourth attempt.
    seeded(sqlite_url)
    hidden_table(sqlite_url, "account_snapshots", hidden=True)
    configure_database(sqlite_url)
    use_cache(redis_url)
    client = Celery(broker=redis_url, backend=redis_url)
    name = "tasks.dashboards.refresh_client_dashboard"
    with running_worker(redis_url, sqlite_url, f"retry-{uuid.uuid4().hex[:6]}@localhost") as worker:
        result = client.send_task(name)
        wait_until(lambda: task_runs.task_stats([name])[name]["retries"] >= 3, 30, "three failed attempts", worker)
        hidden_table(sqlite_url, "account_snapshots", hidden=False)  # the fourth attempt, 4 s later, finds it
        outcome = result.get(timeout=30)
    assert set(outcome["built_ms"]) == {"7d", "30d", "90d", "1y", "all"}
    assert_backoff(attempt_starts(name), (1, 2, 4))
    stats = task_runs.task_stats([name])[name]
    assert (stats["retries"], stats["runs"], stats["failures"], stats["last_status"]) == (3, 1, 0, "success")


def test_a_task_that_always_fails_is_tried_5_times_then_its_failure_is_recorded(tmp_path, redis_url, redis_client,
                                                                                 client):
    url = f"sqlite:///{tmp_path / 'never.db'}"  # the worker's database: no tables, ever, so every attempt fails
    name = "tasks.dashboards.refresh_client_dashboard"
    with running_worker(redis_url, url, f"give-up-{uuid.uuid4().hex[:6]}@localhost") as worker:
        result = Celery(broker=redis_url, backend=redis_url).send_task(name)
        with pytest.raises(Exception, match="no such table"):
            result.get(timeout=40, propagate=True)
        wait_until(lambda: task_runs.task_stats([name])[name]["failures"] >= 1, 5, "the failure recorded", worker)
    assert result.state == "FAILURE"
    assert_backoff(attempt_starts(name), (1, 2, 4, 8))
    stats = task_runs.task_stats([name])[name]
    assert (stats["retries"], stats["failures"], stats["runs"], stats["last_status"]) == (4, 1, 0, "failure")
    assert "no such table" in stats["last_error"]
    statuses = [r["status"] for r in task_runs.recent_runs(20) if r["task"] == name]
    assert statuses == ["failure", "retry", "retry", "retry", "retry"]  # newest first

    metrics = client.get("/metrics").get_data(as_text=True)
    assert f'tradeboard_task_failures_total{{task="{name}"}} 1.0' in metrics
    assert f'tradeboard_task_retries_total{{task="{name}"}} 4.0' in metrics
    from app.monitoring import snapshot

    ops = snapshot(client.application.extensions["tradeboard"])  # what /ops shows
    [row] = [r for r in ops["tasks"] if r["task"] == name]
    assert row["failures"] == 1 and row["last_status"] == "failure" and "no such table" in row["last_error"]
    assert ops["recent_runs"][0]["task"] == name and ops["recent_runs"][0]["status"] == "failure"


def test_a_task_on_a_killed_worker_finishes_on_a_second_worker_and_is_stored_once(sqlite_url, redis_url,
                                                                                   redis_client, tmp_path):
    seeded(sqlite_url)
    configure_database(sqlite_url)
    use_cache(redis_url)
    hook = Webhook(delay=4.0)  # the end-of-day task waits on it: long enough to kill its worker
    settings = {"EOD_WEBHOOK_URL": hook.url, "EOD_WEBHOOK_TIMEOUT_SECONDS": "20",
                "CELERY_VISIBILITY_TIMEOUT_SECONDS": "3", "CELERY_RESTORE_SECONDS": "1"}
    client = Celery(broker=redis_url, backend=redis_url)
    try:
        with running_worker(redis_url, sqlite_url, "first@localhost", **settings) as first:
            result = client.send_task("tasks.dashboards.generate_eod_summary", args=("2026-11-20",))
            wait_until(lambda: hook.bodies, 60, "the first worker to reach the webhook", first)
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
        hook.delay = 0.0
        with running_worker(redis_url, sqlite_url, "second@localhost", **settings) as second:
            outcome = result_or_worker_output(result, second, 60, "not redelivered to the second worker")
    finally:
        hook.stop()
    assert outcome["date"] == "2026-11-20" and outcome["webhook_status"] == 200
    assert len(hook.bodies) == 2  # delivered once to the dead worker, once to the second
    from data_access.eod import stored_summary

    stored = stored_summary(dt.date(2026, 11, 20))
    assert "fund:fund" in stored and "paper:paper" in stored and len(stored) == 2 + 7  # seven strategies, once each


def test_a_starting_worker_queues_a_warm_up_of_every_dashboard(sqlite_url, redis_url, redis_client):
    seeded(sqlite_url)
    configure_database(sqlite_url)
    use_cache(redis_url)
    settings = Settings(DATABASE_URL=sqlite_url, REDIS_URL=redis_url)
    with running_worker(redis_url, sqlite_url, f"warm-{uuid.uuid4().hex[:6]}@localhost",
                        WARM_UP_AT_WORKER_START="true") as worker:
        wait_until(lambda: task_runs.task_stats(["tasks.dashboards.refresh_all_dashboards"])
                   ["tasks.dashboards.refresh_all_dashboards"]["runs"] >= 1, 90, "the warm-up", worker)
    assert client_is_warm(settings)
    from data_access.strategy_dashboard import strategy_dashboard

    assert strategy_dashboard("all")["metadata"]["cached"] is True


def test_end_of_day_summary_is_stored_and_posted(demo_app, redis_url, webhook, monkeypatch):  # noqa: F811
    from tasks.dashboards import generate_eod_summary

    monkeypatch.setenv("DATABASE_URL", demo_app.server.extensions["tradeboard"].settings.DATABASE_URL)
    monkeypatch.setenv("EOD_WEBHOOK_URL", webhook.url)
    outcome = generate_eod_summary.apply(args=("2026-11-20",)).get()
    assert outcome["webhook_status"] == 200 and outcome["rows"] == 9
    [body] = webhook.bodies
    assert body["date"] == "2026-11-20" and body["fund"]["total_equity"] > 0
    assert set(body["strategies"]) and all("realized_pnl" in s for s in body["strategies"].values())
    webhook.status = 500
    with pytest.raises(Exception, match="answered 500"):
        generate_eod_summary.apply(args=("2026-11-20",), throw=True).get()


def test_the_stale_check_fills_missing_keys_and_rebuilds_the_ones_near_expiry(demo_app):  # noqa: F811
    settings = demo_app.server.extensions["tradeboard"].settings
    from data_access.client_dashboard import DEFAULT_TIME_RANGE

    first = check_stale(settings, 0.2)
    assert f"client {DEFAULT_TIME_RANGE}" in first["filled"] and first["refreshed"] == {}
    again = check_stale(settings, 0.2)
    assert again["filled"] == {} and again["refreshed"] == {}
    everything = check_stale(settings, 1.01)  # every cached section counts as near expiry
    assert set(everything["refreshed"]) == set(everything["checked"])


def test_market_hours_are_new_york_weekdays_0930_to_1600():
    ny = dt.timezone(dt.timedelta(hours=-5))
    assert is_market_open(dt.datetime(2026, 11, 23, 9, 30, tzinfo=ny))
    assert not is_market_open(dt.datetime(2026, 11, 23, 16, 0, tzinfo=ny))
    assert not is_market_open(dt.datetime(2026, 11, 22, 12, 0, tzinfo=ny))  # a Sunday


def test_the_client_refresh_is_skipped_outside_market_hours_when_asked(demo_app, monkeypatch):  # noqa: F811
    from tasks.dashboards import refresh_client_dashboard

    monkeypatch.setenv("MARKET_HOURS_ONLY", "true")
    outcome = refresh_client_dashboard.apply().get()
    assert ("skipped" in outcome) != is_market_open()


# --------------------------------------------------------------------------- load-dashboards


def cli(env: dict, *args: str):
    return CliRunner().invoke(main, ["load-dashboards", *args], env=env, catch_exceptions=False)


def test_load_dashboards_in_all_its_modes(sqlite_url, redis_url, redis_client):
    seeded(sqlite_url)
    env = {"DATABASE_URL": sqlite_url, "REDIS_URL": redis_url}
    done = cli(env)
    assert done.exit_code == 0, done.output
    for time_range in ("7d", "30d", "90d", "all"):
        assert f"strategy performance {time_range}: aggregated in" in done.output
    assert read_without_sql(current_engine(), lambda: strategy_dashboard("30d"))
    one = cli(env, "--time-range", "7d", "--clear-cache")
    assert one.exit_code == 0 and "cleared" in one.output and "90d" not in one.output
    assert read_without_sql(current_engine(), lambda: strategy_dashboard("7d"))  # rebuilt after the clear
    missed = strategy_dashboard("30d")  # warm before the clear, not rebuilt: the clear made it miss
    assert missed["metadata"]["cached"] is False and missed["metadata"]["cache_hits"] == []
    everything = cli(env, "--all-dashboards")
    assert everything.exit_code == 0 and "client:" in everything.output and "paper_trading:" in everything.output
    queued = cli(env, "--async")
    assert queued.exit_code == 0 and queued.output.startswith("queued: ")
    task_id = queued.output.split()[-1]
    with running_worker(redis_url, sqlite_url, f"load-{uuid.uuid4().hex[:6]}@localhost"):
        outcome = Celery(broker=redis_url, backend=redis_url).AsyncResult(task_id).get(timeout=60)
    assert set(outcome["built_ms"]) == {"7d", "30d", "90d", "all"}
    invalid = CliRunner().invoke(main, ["load-dashboards", "--time-range", "1y"], env=env)
    assert invalid.exit_code != 0 and "7d" in invalid.output


def test_load_dashboards_fails_with_a_message_and_a_non_zero_exit(tmp_path, redis_url):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}", "REDIS_URL": redis_url}
    failed = CliRunner().invoke(main, ["load-dashboards"], env=env)
    assert failed.exit_code == 1 and "Error:" in failed.output and "Traceback" not in failed.output
    no_redis = CliRunner().invoke(main, ["load-dashboards"], env={"DATABASE_URL": env["DATABASE_URL"],
                                                                  "TRADEBOARD_VAR": str(tmp_path)})
    assert no_redis.exit_code == 1 and "REDIS_URL" in no_redis.output


# --------------------------------------------------------------------------- refresh and cache control API


def test_refresh_answers_what_was_refreshed_and_only_admins_may(demo_app, users):  # noqa: F811
    admin = signed_in(demo_app, "admin", users["admin"])
    report = admin.post("/api/v1/dashboards/refresh").get_json()
    assert report["status"] == "ok" and set(report["refreshed"]) == {"client", "signal_sender", "strategy",
                                                                     "paper_trading"}
    assert report["started_at"] <= report["finished_at"]
    analyst = signed_in(demo_app, "analyst", users["analyst"])
    assert analyst.post("/api/v1/dashboards/refresh").status_code == 403
    queued = admin.post("/api/v1/dashboards/refresh?async=true")
    assert queued.status_code == 202 and queued.get_json()["task_id"]


def test_cache_clear_removes_only_matching_keys(demo_app, users, redis_client):  # noqa: F811
    admin = signed_in(demo_app, "admin", users["admin"])
    admin.get("/api/v1/dashboards/strategy-performance?time_range=all")
    admin.get("/api/v1/dashboards/client?time_range=30d")
    keys = lambda: {k.decode() for k in redis_client.scan_iter(match="tb:s:*")}  # noqa: E731
    before = keys()
    assert any(k.startswith("tb:s:by_symbol:") for k in before)
    cleared = admin.post("/api/v1/cache/clear?pattern=by_symbol:*").get_json()
    after = keys()
    assert cleared["deleted"] == len(before - after) >= 1
    assert not any(k.startswith("tb:s:by_symbol:") for k in after)
    assert after == {k for k in before if not k.startswith("tb:s:by_symbol:")}
    again = admin.get("/api/v1/dashboards/client?time_range=30d").get_json()
    assert again["metadata"]["cached"] is True  # other dashboards untouched
    assert admin.post("/api/v1/cache/clear?pattern=a b").status_code == 400
    assert admin.post("/api/v1/cache/clear?family=nope").get_json()["error"]["details"]["valid"]
    assert admin.post("/api/v1/cache/clear?family=backtests").get_json() == {"invalidated_family": "backtests"}
    analyst = signed_in(demo_app, "analyst", users["analyst"])
    assert analyst.post("/api/v1/cache/clear").status_code == 403
