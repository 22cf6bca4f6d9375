"""The backtest, task and playback operations of the OpenAPI document."""

from __future__ import annotations

from typing import Any

from app.openapi.json_schema import enum, ref
from app.openapi.operations import ROLES_SIGNALS, errors, ok, operation, path_param, query
from data_access.playback import MAX_START

RUN_ID = path_param("run_id", {"type": "string"}, "the run's id (an integer; anything else is a 404)")


def _list_parameters() -> list[dict]:
    from analytics.backtest import STRATEGIES
    from data_access.backtest_list import DEFAULT_LIMIT, MAX_CURSOR, MAX_LIMIT, STATUSES

    return [
        query("strategy", enum(*STRATEGIES), "only runs of this strategy kind"),
        query("symbol", {"type": "string", "minLength": 1, "maxLength": 32, "pattern": r"^\S+$"},
              "only runs on this symbol (case-insensitive; one without runs gives an empty page)"),
        query("status", enum(*STATUSES), "only runs in this state"),
        query("sweep", {"type": "integer", "minimum": 1, "maximum": 2 ** 63 - 1},
              "only the members of this sweep (`sweep_id` of POST /api/v1/backtests)"),
        query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
              "runs per page"),
        query("cursor", {"type": "string", "maxLength": MAX_CURSOR},
              "`next_cursor` of the previous page, as is (opaque); anything else is a 400"),
    ]


def _link(operation_id: str, description: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation_id, "description": description,
            "parameters": {name: f"$response.body#/{pointer}" for name, pointer in parameters.items()}}


def _run_links(pointer: str) -> dict[str, Any]:
    """Links from a response naming a stored run (at ``pointer``) to the operations that read it."""
    return {
        "BacktestRun": _link("backtest_run", "the run with its trades and equity curve", run_id=pointer),
        "PlaybackRun": _link("playback_run", "its header for replay", run_id=pointer),
        "PlaybackChunk": _link("playback_chunk", "its bars and fills", run_id=pointer),
    }


def _with_links(operation: dict, status: int, links: dict[str, Any]) -> dict:
    operation["responses"][str(status)]["links"] = links
    return operation


def backtest_paths() -> dict[str, Any]:
    paths = _paths()
    _with_links(paths["/api/v1/backtests"]["get"], 200, _run_links("runs/0/id"))
    _with_links(paths["/api/v1/backtests"]["post"], 202, {
        "TaskStatus": _link("task_status", "the sweep's progress", task_id="task_id"),
        "CancelTask": _link("cancel_task", "cancel the sweep", task_id="task_id"),
        "SweepRuns": _link("list_backtests", "the sweep's stored runs", sweep="sweep_id"),
    })
    for method in ("get", "delete"):
        _with_links(paths["/api/v1/tasks/{task_id}"][method], 200, _run_links("runs/0/run_id"))
    _with_links(paths["/api/v1/playback/runs/{run_id}"]["get"], 200, {
        "PlaybackChunk": _link("playback_chunk", "the run's bars and fills", run_id="id")})
    _with_links(paths["/api/v1/playback/live"]["post"], 202, {
        "PollLive": _link("poll_live", "the live run's events", live_id="id")})
    return paths


def _paths() -> dict[str, Any]:
    return {
        "/api/v1/backtests": {
            "get": operation(
                "list_backtests", "Stored backtest runs, newest first, a page at a time", ROLES_SIGNALS,
                {**ok("BacktestRunList", "one page of run summaries"), **errors(400, 403)}, _list_parameters(),
                tag="backtests",
                description="Runs ordered by (created_at, id), newest first, without trades or equity curve "
                            "(GET /api/v1/backtests/{run_id} has those). Follow `next_cursor` until it is null: "
                            "each run comes exactly once, even while new runs are stored. A bad filter or "
                            "cursor is a 400 naming the parameter (and its valid values)."),
            "post": operation(
                "start_backtests", "Start a backtest run or parameter sweep (Celery)", ROLES_SIGNALS,
                {**ok("BacktestStarted", "queued; follow status_url (also in Location)", status=202),
                 **errors(400, 403, 413)},
                body={"required": True, "content": {"application/json": {"schema": ref("BacktestRequest")}}},
                tag="backtests")},
        "/api/v1/backtests/{run_id}": {"get": operation(
            "backtest_run", "A stored backtest run: metrics, trades, equity curve", ROLES_SIGNALS,
            {**ok("BacktestRun", "the run"), **errors(403, 404)}, [RUN_ID], tag="backtests")},
        "/api/v1/tasks/{task_id}": {
            "get": operation("task_status", "A sweep's progress, runs, errors and recommendation", ROLES_SIGNALS,
                             {**ok("TaskProgress", "its state"), **errors(403, 404)},
                             [path_param("task_id", {"type": "string"}, "the task id from POST /api/v1/backtests")],
                             tag="backtests"),
            "delete": operation("cancel_task", "Cancel a sweep (members not started are skipped)", ROLES_SIGNALS,
                                {**ok("TaskProgress", "its state, with cancelled_at"), **errors(403, 404)},
                                [path_param("task_id", {"type": "string"}, "the task id")], tag="backtests")},
        "/api/v1/playback/runs/{run_id}": {"get": operation(
            "playback_run", "A stored run's header for replay", ROLES_SIGNALS,
            {**ok("PlaybackRun", "the header"), **errors(403, 404)}, [RUN_ID], tag="playback")},
        "/api/v1/playback/runs/{run_id}/chunk": {"get": operation(
            "playback_chunk", "Bars, equity and fills of a stored run, a chunk at a time", ROLES_SIGNALS,
            {**ok("PlaybackChunk", "columns of the chunk's bars"), **errors(400, 403, 404)},
            [RUN_ID,
             query("start", {"type": "integer", "minimum": 0, "maximum": MAX_START, "default": 0},
                   "first bar (past the last: an empty chunk)"),
             query("count", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 5000}, "bars")],
            tag="playback")},
        "/api/v1/playback/live": {"post": operation(
            "start_live", "Start a live run on a worker, streamed through Redis", ROLES_SIGNALS,
            {**ok("LiveStarted", "queued; poll poll_url", status=202), **errors(400, 403, 413)},
            body={"required": True, "content": {"application/json": {"schema": ref("LiveRequest")}}},
            tag="playback")},
        "/api/v1/playback/live/{live_id}": {"get": operation(
            "poll_live", "A live run's events after the last seen entry id", ROLES_SIGNALS,
            {**ok("LivePoll", "status and new events"), **errors(400, 403, 404)},
            [path_param("live_id", {"type": "string"}, "the id from POST /api/v1/playback/live"),
             query("after", {"type": "string", "pattern": r"^(0|\d+-\d+)$", "default": "0"},
                   "last seen stream entry id"),
             query("max", {"type": "integer", "minimum": 1, "maximum": 2000, "default": 500}, "events at most")],
            tag="playback")},
    }
