"""A sweep member's transient failure on a real worker (a table briefly gone: retried after 1 s and
stored once), and cancelling a sweep through the API (members not started are skipped, the task
reports it was cancelled, runs already stored stay)."""

from __future__ import annotations

import time
import uuid

import pytest

from data_access import sweeps, task_runs
from data_access.models import BacktestRun
from tasks.backtests import execute_member
from tests.celery_worker import output_tail, running_worker
from tests.dashboards.test_client_page import demo_app, signed_in  # noqa: F401 - fixtures
from tests.tasks.test_operations import attempt_starts, hidden_table

MEMBER = "tasks.backtests.run_member"
ONE_RUN = {"strategy": "sma_cross", "params": {"fast": 5, "slow": 30}, "symbol": "SPY"}
FOUR_RUNS = {"strategy": "sma_cross", "params": {"fast": [5, 10], "slow": [30, 50]}, "symbol": "SPY"}


def stored_runs(dash_app, sweep_id: int) -> list[BacktestRun]:
    with dash_app.server.extensions["tradeboard"].session() as session:
        return session.query(BacktestRun).filter_by(sweep_id=sweep_id).order_by(BacktestRun.id).all()


def wait_for(condition, timeout: float, what: str, worker, poll: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    worker.terminate()
    raise AssertionError(f"timed out waiting for {what}; worker said: {output_tail(worker)}")


def finished(admin, task_id: str):
    status = admin.get(f"/api/v1/tasks/{task_id}").get_json()
    return status if status["state"] not in ("PENDING", "PROGRESS") else None


@pytest.mark.parametrize("table", [
    "bars",  # gone while the member loads its bars (inside the run: run_member -> on_transient -> retry)
    "backtest_sweeps",  # gone while the member reads its sweep, before it starts running
])
def test_a_member_failing_transiently_is_retried_after_1_s_and_stored_once(demo_app, users, redis_url,  # noqa: F811
                                                                           app_settings, table):
    admin = signed_in(demo_app, "admin", users["admin"])
    started = admin.post("/api/v1/backtests", json=ONE_RUN).get_json()
    url = app_settings.DATABASE_URL
    hidden_table(url, table, hidden=True)  # before the worker starts: its first attempt must fail
    with running_worker(redis_url, url, f"transient-{uuid.uuid4().hex[:6]}@localhost") as worker:
        wait_for(lambda: task_runs.task_stats([MEMBER])[MEMBER]["retries"] >= 1, 30, "a retried member", worker)
        hidden_table(url, table, hidden=False)  # back well within the 1 s before the retry
        status = wait_for(lambda: finished(admin, started["task_id"]), 30, "the sweep to finish", worker, poll=0.2)
    stats = task_runs.task_stats([MEMBER])[MEMBER]
    assert (stats["retries"], stats["runs"], stats["failures"]) == (1, 1, 0), stats
    [first, second] = attempt_starts(MEMBER)
    assert 0.95 <= second - first < 2.0
    retried = [r for r in task_runs.recent_runs(10) if r["task"] == MEMBER and r["status"] == "retry"]
    assert f"no such table: {table}" in retried[0]["error"]

    assert status["state"] == "SUCCESS" and status["progress"] == {"total": 1, "completed": 1, "failed": 0,
                                                                   "percent": 100.0}, status
    [run] = stored_runs(demo_app, started["sweep_id"])
    assert getattr(run.status, "value", run.status) == "COMPLETED" and run.error is None


def test_cancelling_a_sweep_skips_members_not_started_and_keeps_stored_runs(demo_app, users, redis_url,  # noqa: F811
                                                                            app_settings):
    admin = signed_in(demo_app, "admin", users["admin"])
    started = admin.post("/api/v1/backtests", json=FOUR_RUNS).get_json()
    assert started["runs"] == 4
    spec = sweeps.sweep_spec(started["sweep_id"])
    first_params = spec["parameter_sets"][0]
    kept = execute_member(started["sweep_id"], first_params, "SPY")  # one member done before the cancel
    assert kept["run_id"] and "error" not in kept

    cancelled = admin.delete(f"/api/v1/tasks/{started['task_id']}")
    assert cancelled.status_code == 200
    body = cancelled.get_json()
    assert body["state"] == "REVOKED" and body["cancelled_at"]
    assert body["progress"]["completed"] == 1 and [r["run_id"] for r in body["runs"]] == [kept["run_id"]]

    # The worker starts after the cancel: it receives all four queued members and the chord's callback.
    with running_worker(redis_url, app_settings.DATABASE_URL, f"cancel-{uuid.uuid4().hex[:6]}@localhost") as worker:
        wait_for(lambda: task_runs.task_stats(["tasks.backtests.finish_sweep"])["tasks.backtests.finish_sweep"]
                 ["runs"] >= 1, 30, "the sweep's callback", worker, poll=0.2)
    assert task_runs.task_stats([MEMBER])[MEMBER]["runs"] == 4  # every member was delivered ...
    runs = stored_runs(demo_app, started["sweep_id"])
    assert [r.id for r in runs] == [kept["run_id"]]  # ... and only the one stored before the cancel is there
    status = admin.get(f"/api/v1/tasks/{started['task_id']}").get_json()
    assert status["state"] == "REVOKED", status  # finished, and still reported as cancelled
    assert status["progress"] == {"total": 4, "completed": 1, "failed": 0, "percent": 25.0}
    assert status["cancelled_at"] == body["cancelled_at"] and status["completed_at"]
    again = admin.delete(f"/api/v1/tasks/{started['task_id']}").get_json()
    assert again["cancelled_at"] == body["cancelled_at"]  # cancelling twice keeps the first time


def test_cancelling_a_finished_sweep_changes_nothing(demo_app, users):  # noqa: F811
    admin = signed_in(demo_app, "admin", users["admin"])
    started = admin.post("/api/v1/backtests", json=ONE_RUN).get_json()
    spec = sweeps.sweep_spec(started["sweep_id"])
    execute_member(started["sweep_id"], spec["parameter_sets"][0], "SPY")
    sweeps.finish(started["sweep_id"])
    after = admin.delete(f"/api/v1/tasks/{started['task_id']}").get_json()
    assert after["state"] == "SUCCESS" and after["cancelled_at"] is None
