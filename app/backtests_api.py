"""`/api/v1/backtests` and `/api/v1/tasks`: start a run or a parameter sweep as Celery work, follow
its progress, list the stored runs, read one."""

from __future__ import annotations

import flask

from app.auth import json_error, json_response, require_role

blueprint = flask.Blueprint("backtests_api", __name__, url_prefix="/api/v1")

ROLES = ("admin", "analyst", "developer")


@blueprint.post("/backtests")
@require_role(*ROLES)
def start_backtests():
    """A run or sweep: {"strategy", "params": {name: value | [values]}, "symbol" | "symbols",
    "timeframe", "start", "end", "cash", "commission_bps", "slippage_bps"} -> 202 with a task id."""
    from data_access import sweeps
    from tasks.backtests import start_sweep

    try:
        spec = sweeps.plan(flask.request.get_json(silent=True))
    except sweeps.InvalidBacktestRequest as exc:
        return json_error(400, "invalid_request", str(exc), exc.details)
    task_id, sweep_id = start_sweep(spec)
    status_url = flask.url_for("backtests_api.task_status", task_id=task_id)
    return json_response({"task_id": task_id, "sweep_id": sweep_id, "runs": len(sweeps.members(spec)),
                          "configurations": len(spec["parameter_sets"]), "symbols": spec["symbols"],
                          "skipped": spec["skipped"], "status_url": status_url}, 202, {"Location": status_url})


@blueprint.get("/backtests")
@require_role(*ROLES)
def list_backtests():
    """?strategy=&symbol=&status=&sweep=&limit=&cursor= -> {runs, limit, next_cursor}, newest first."""
    from analytics.backtest import STRATEGIES
    from data_access import backtest_list

    try:
        filters = backtest_list.parse_filters(flask.request.args, list(STRATEGIES))
        return json_response(backtest_list.list_runs(**filters))
    except backtest_list.InvalidListing as exc:
        return json_error(400, "invalid_parameter", str(exc), exc.details)


@blueprint.get("/tasks/<task_id>")
@require_role(*ROLES)
def task_status(task_id: str):
    from data_access import sweeps

    try:
        return json_response(sweeps.progress(task_id))
    except sweeps.SweepNotFound:
        return json_error(404, "not_found", f"no task {task_id!r}", {"task_id": task_id})


@blueprint.get("/backtests/<run_id>")
@require_role(*ROLES)
def backtest_run(run_id: str):
    from data_access.backtest_store import RunNotFound, load_run

    try:
        return json_response(load_run(run_id))
    except RunNotFound:
        return json_error(404, "not_found", f"no backtest run {run_id!r}", {"run_id": run_id})


@blueprint.delete("/tasks/<task_id>")
@require_role(*ROLES)
def cancel_task(task_id: str):
    """Cancel a sweep: members not started yet are skipped; runs already stored stay."""
    from data_access import sweeps

    try:
        return json_response(sweeps.cancel(task_id))
    except sweeps.SweepNotFound:
        return json_error(404, "not_found", f"no task {task_id!r}", {"task_id": task_id})
