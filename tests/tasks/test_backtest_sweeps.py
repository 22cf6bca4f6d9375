"""Backtests as a service on a real Celery worker and Redis: a sweep over parameters x symbols
queued through the API, its progress, its stored runs, a failed member reported, the
recommendation on the strategy dashboard, and request validation."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest

from data_access.cache import sections
from data_access.models import BacktestRun, Bar
from tests.celery_worker import output_tail, running_worker
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - fixtures

SWEEP = {"strategy": "sma_cross", "params": {"fast": [5, 10], "slow": [30, 50]}, "symbols": ["SPY", "QQQ", "TINY"],
         "cash": 50_000}


def add_tiny_symbol(dash_app) -> None:
    """Three bars only: too few for a backtest, so its members fail (and must be reported)."""
    with dash_app.server.extensions["tradeboard"].session() as session:
        for day in range(3):
            session.add(Bar(symbol="TINY", timeframe="1d", time=dt.datetime(2026, 1, 5 + day), open=1, high=1, low=1,
                            close=1, volume=1))


def wait_for_task(client, task_id: str, worker, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    seen_progress = set()
    while time.monotonic() < deadline:
        status = client.get(f"/api/v1/tasks/{task_id}").get_json()
        seen_progress.add(status["progress"]["percent"])
        if status["state"] in ("SUCCESS", "FAILURE"):
            status["seen_percents"] = sorted(seen_progress)
            return status
        time.sleep(0.2)
    worker.terminate()
    raise AssertionError(f"the sweep did not finish; worker said: {output_tail(worker)}")


def test_a_sweep_runs_on_a_worker_reports_progress_failures_and_a_recommendation(demo_app, users, redis_url,  # noqa: F811
                                                                                  app_settings):
    admin = signed_in(demo_app, "admin", users["admin"])
    add_tiny_symbol(demo_app)
    before = admin.get("/api/v1/dashboards/strategy-performance?time_range=7d").get_json()
    assert before["mlOptimization"] is None

    response = admin.post("/api/v1/backtests", json=SWEEP)
    assert response.status_code == 202, response.get_json()
    started = response.get_json()
    assert started["runs"] == 12 and started["configurations"] == 4
    assert response.headers["Location"] == started["status_url"]
    queued = admin.get(started["status_url"]).get_json()
    assert queued["state"] == "PENDING" and queued["progress"]["completed"] == 0

    with running_worker(redis_url, app_settings.DATABASE_URL, f"sweep-{uuid.uuid4().hex[:8]}@localhost") as worker:
        status = wait_for_task(admin, started["task_id"], worker)

    assert status["state"] == "SUCCESS", status
    assert status["progress"] == {"total": 12, "completed": 8, "failed": 4, "percent": 100.0}
    assert {e["symbol"] for e in status["errors"]} == {"TINY"} and "need at least 4" in status["errors"][0]["error"]
    recommendation = status["recommendation"]
    assert recommendation["candidates"] == 4 and recommendation["symbols"] == ["QQQ", "SPY"]
    assert recommendation["in_sample_sharpe"] is not None and "out_of_sample_sharpe" in recommendation
    assert recommendation["in_sample_window"][1] < recommendation["out_of_sample_window"][0]

    completed = [r for r in status["runs"] if r["status"] == "COMPLETED"]
    run = admin.get(f"/api/v1/backtests/{completed[0]['run_id']}").get_json()
    assert run["sweep_id"] == started["sweep_id"] and run["cash"] == 50_000
    assert run["equity_curve"]["equity"][0] == 50_000 and "in_sample_sharpe" in run["metrics"]
    assert all({"entry_time", "entry_price", "exit_time", "exit_price", "side", "size", "pnl"} <= set(t)
               for t in run["trades"])

    after = admin.get("/api/v1/dashboards/strategy-performance?time_range=7d").get_json()
    assert after["mlOptimization"]["sweep_id"] == started["sweep_id"]
    assert after["mlOptimization"]["configuration"] == recommendation["configuration"]


def test_a_member_delivered_twice_is_stored_once(demo_app, app_settings):  # noqa: F811
    from data_access import sweeps
    from tasks.backtests import run_member

    spec = sweeps.plan({"strategy": "sma_cross", "params": {"fast": 5, "slow": 30}, "symbol": "SPY"})
    sweep_id = sweeps.create_sweep(spec, uuid.uuid4().hex)
    first = run_member.apply(args=(sweep_id, spec["parameter_sets"][0], "SPY")).get()
    again = run_member.apply(args=(sweep_id, spec["parameter_sets"][0], "SPY")).get()
    assert again == {"run_id": first["run_id"], "repeated": True}
    with demo_app.server.extensions["tradeboard"].session() as session:
        assert session.query(BacktestRun).filter_by(sweep_id=sweep_id).count() == 1
    assert sweeps.finish(sweep_id)["status"] == "COMPLETED"
    sections.bump("backtests")


@pytest.mark.parametrize("body, fragment, detail", [
    ({"strategy": "nope", "symbol": "SPY"}, "unknown strategy", "valid"),
    ({"strategy": "sma_cross", "params": {"fast": 500}, "symbol": "SPY"}, "fast", "schema"),
    ({"strategy": "sma_cross", "params": {"fast": 50, "slow": 20}, "symbol": "SPY"}, "no valid parameter", "skipped"),
    ({"strategy": "sma_cross", "symbol": "ZZZ"}, "no stored 1d bars for ZZZ", "available"),
    ({"strategy": "sma_cross", "symbol": " "}, "the symbol is empty", "parameter"),
    ({"strategy": "sma_cross", "symbols": ["SPY", "S P"]}, "no spaces", "parameter"),
    ({"strategy": "sma_cross", "symbol": "SPY", "colour": "red"}, "unknown field", "valid_fields"),
    ({"strategy": "sma_cross", "symbol": "SPY", "cash": -1}, "cash", "parameter"),
    ({"strategy": "sma_cross", "symbol": "SPY", "params": {"fast": list(range(2, 40)), "slow": list(range(41, 80))}},
     "at most 1000", "max_runs"),
    ([1, 2], "JSON object", "fields"),
])
def test_bad_requests_are_a_400_naming_the_valid_choices_and_queue_nothing(demo_app, users, body, fragment,  # noqa: F811
                                                                           detail):
    admin = signed_in(demo_app, "admin", users["admin"])
    response = admin.post("/api/v1/backtests", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert fragment in error["message"] and detail in error["details"], error
    with demo_app.server.extensions["tradeboard"].session() as session:  # only the demo seed's own sweep
        assert session.query(BacktestRun).filter(BacktestRun.sweep_id.is_not(None)).count() == 12


def test_unknown_tasks_and_runs_are_404_and_clients_may_not_start_backtests(demo_app, users):  # noqa: F811
    admin = signed_in(demo_app, "admin", users["admin"])
    assert admin.get("/api/v1/tasks/nope").status_code == 404
    assert admin.get("/api/v1/backtests/999999").status_code == 404
    assert admin.get("/api/v1/backtests/abc").status_code == 404
    anonymous = demo_app.server.test_client()
    assert anonymous.post("/api/v1/backtests", json=SWEEP).status_code == 401
