"""Backtest requests as stored work: validate a run or sweep request into a plan, record the sweep,
report its progress, and finish it with a recommendation.

A request is one strategy kind, parameter values (a value or a list per parameter: the grid is
their product), one or more symbols with stored bars, an optional window, cash and costs. Every
request is a sweep of ``configurations x symbols`` members (a single run is a sweep of one). Each
member's outcome is its own run row - COMPLETED with metrics, or FAILED with its error - unique per
(sweep, configuration, symbol), so a task delivered twice (a worker killed mid-run) stores it once
and progress is a count of rows, not a counter that a retry could double.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import case, func, select, update

from analytics import backtest as bt
from analytics.optimization import recommend
from data_access.backtest_store import config_key
from data_access.bars_import import check_symbol, check_timeframe, stored_series
from data_access.db import current_engine
from data_access.models import BacktestRun, BacktestSweep, RunStatus

MAX_MEMBERS = 1000
MAX_SYMBOLS = 50
REQUEST_FIELDS = ("strategy", "params", "symbol", "symbols", "timeframe", "start", "end", "cash", "commission_bps",
                  "slippage_bps")


class InvalidBacktestRequest(ValueError):
    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class SweepNotFound(LookupError):
    pass


def _date(value: Any, name: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "")).isoformat()
    except ValueError:
        raise InvalidBacktestRequest(f"{name} must be an ISO date or time, got {value!r}", {"parameter": name}) from None


def _number(request: dict, name: str, default: float, minimum: float, *, exclusive: bool = False) -> float:
    value = request.get(name, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < minimum or (exclusive and number == minimum):
        bound = f"greater than {minimum:g}" if exclusive else f"at least {minimum:g}"
        raise InvalidBacktestRequest(f"{name} must be a number {bound}, got {value!r}", {"parameter": name})
    return number


def plan(request: Any) -> dict[str, Any]:
    """The validated plan of a run/sweep request, or InvalidBacktestRequest naming what is wrong
    and the valid choices. Reads which symbols have stored bars (one statement)."""
    if not isinstance(request, dict):
        raise InvalidBacktestRequest("the body must be a JSON object", {"fields": list(REQUEST_FIELDS)})
    unknown = sorted(set(request) - set(REQUEST_FIELDS))
    if unknown:
        raise InvalidBacktestRequest(f"unknown field(s): {', '.join(unknown)}", {"valid_fields": list(REQUEST_FIELDS)})
    kind = request.get("strategy")
    if not isinstance(kind, str) or kind not in bt.STRATEGIES:
        raise InvalidBacktestRequest(f"unknown strategy {kind!r}", {"parameter": "strategy", "valid": list(bt.STRATEGIES)})
    grid = request.get("params") or {}
    if not isinstance(grid, dict):
        raise InvalidBacktestRequest("params must be an object: name -> value or list of values",
                                     {"parameter": "params", "schema": bt.STRATEGIES[kind].schema()})
    try:
        sets, skipped = bt.parameter_grid(kind, grid)
    except bt.BacktestError as exc:
        raise InvalidBacktestRequest(str(exc), {"parameter": "params", "schema": bt.STRATEGIES[kind].schema()}) from None
    if not sets:
        raise InvalidBacktestRequest("no valid parameter combination", {"parameter": "params", "skipped": skipped})
    symbols = request.get("symbols", request.get("symbol"))
    symbols = [symbols] if isinstance(symbols, str) else symbols
    if not isinstance(symbols, list) or not symbols or len(symbols) > MAX_SYMBOLS:
        raise InvalidBacktestRequest(f"give symbol (a string) or symbols (a list of 1 to {MAX_SYMBOLS})",
                                     {"parameter": "symbols"})
    try:
        timeframe = check_timeframe(str(request.get("timeframe", "1d")))
        symbols = sorted({check_symbol(str(s)) for s in symbols})
    except ValueError as exc:  # BarsImportError, or check_symbol on an empty or spaced symbol
        raise InvalidBacktestRequest(str(exc), {"parameter": "symbols/timeframe"}) from None
    members = len(sets) * len(symbols)
    if members > MAX_MEMBERS:
        raise InvalidBacktestRequest(f"{members} runs requested ({len(sets)} configurations x {len(symbols)} symbols); "
                                     f"at most {MAX_MEMBERS}", {"parameter": "params", "max_runs": MAX_MEMBERS})
    stored = {(s["symbol"], s["timeframe"]) for s in stored_series(current_engine())}
    missing = [s for s in symbols if (s, timeframe) not in stored]
    if missing:
        available = sorted(s for s, tf in stored if tf == timeframe)
        raise InvalidBacktestRequest(f"no stored {timeframe} bars for {', '.join(missing)}",
                                     {"parameter": "symbols", "available": available})
    start, end = _date(request.get("start"), "start"), _date(request.get("end"), "end")
    if start and end and start >= end:
        raise InvalidBacktestRequest("start must be before end", {"parameter": "start"})
    return {
        "strategy": kind, "parameter_sets": sets, "skipped": skipped, "symbols": symbols, "timeframe": timeframe,
        "start": start, "end": end, "cash": _number(request, "cash", 100_000.0, 0.0, exclusive=True),
        "commission_bps": _number(request, "commission_bps", 0.0, 0.0),
        "slippage_bps": _number(request, "slippage_bps", 0.0, 0.0),
    }


def members(spec: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    return [(params, symbol) for params in spec["parameter_sets"] for symbol in spec["symbols"]]


def create_sweep(spec: dict[str, Any], task_id: str) -> int:
    with current_engine().begin() as conn:
        return int(conn.execute(BacktestSweep.__table__.insert().values(
            task_id=task_id, strategy_kind=spec["strategy"], spec=spec, status=RunStatus.PENDING.value,
            total=len(members(spec)), created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        )).inserted_primary_key[0])


def sweep_spec(sweep_id: int) -> dict[str, Any]:
    with current_engine().connect() as conn:
        spec = conn.execute(select(BacktestSweep.spec).where(BacktestSweep.id == sweep_id)).scalar_one_or_none()
    if spec is None:
        raise SweepNotFound(f"no sweep {sweep_id}")
    return spec


def mark_running(sweep_id: int) -> None:
    with current_engine().begin() as conn:
        conn.execute(update(BacktestSweep).where(BacktestSweep.id == sweep_id, BacktestSweep.status == RunStatus.PENDING)
                     .values(status=RunStatus.RUNNING))


def is_cancelled(sweep_id: int) -> bool:
    with current_engine().connect() as conn:
        return conn.execute(select(BacktestSweep.cancelled_at).where(BacktestSweep.id == sweep_id)).scalar() is not None


def cancel(task_id: str) -> dict[str, Any]:
    """Stop a sweep: members not started yet are skipped; stored runs stay; it reports REVOKED from
    now on. A finished sweep is left as it is. SweepNotFound if unknown."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with current_engine().begin() as conn:
        sweep_id = conn.execute(select(BacktestSweep.id).where(BacktestSweep.task_id == task_id)).scalar()
        if sweep_id is None:
            raise SweepNotFound(f"no task {task_id!r}")
        conn.execute(update(BacktestSweep).where(BacktestSweep.id == sweep_id, BacktestSweep.cancelled_at.is_(None),
                                                 BacktestSweep.completed_at.is_(None))
                     .values(cancelled_at=now))
    return progress(task_id)


def member_run_id(sweep_id: int, configuration: str, symbol: str) -> int | None:
    with current_engine().connect() as conn:
        return conn.execute(select(BacktestRun.id).where(BacktestRun.sweep_id == sweep_id,
                                                         BacktestRun.config_key == configuration,
                                                         BacktestRun.symbol == symbol)).scalar_one_or_none()


def stalled(idle_seconds: float) -> list[tuple[int, bool]]:
    """(sweep id, cancelled) of each sweep still open - not finished - with nothing stored for it
    for ``idle_seconds``, counted from its newest run, or from its creation when it has none."""
    cutoff = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=idle_seconds)
    with current_engine().connect() as conn:
        open_sweeps = conn.execute(select(BacktestSweep.id, BacktestSweep.created_at, BacktestSweep.cancelled_at)
                                   .where(BacktestSweep.completed_at.is_(None))).all()
        if not open_sweeps:
            return []
        newest = dict(conn.execute(select(BacktestRun.sweep_id, func.max(BacktestRun.created_at))
                                   .where(BacktestRun.sweep_id.in_([row.id for row in open_sweeps]))
                                   .group_by(BacktestRun.sweep_id)).all())
    return [(row.id, row.cancelled_at is not None) for row in open_sweeps
            if (newest.get(row.id) or row.created_at) < cutoff]


def missing_members(sweep_id: int) -> list[tuple[dict[str, Any], str]]:
    """The members of a sweep with no stored run (completed or failed) yet."""
    spec = sweep_spec(sweep_id)
    with current_engine().connect() as conn:
        stored = set(conn.execute(select(BacktestRun.config_key, BacktestRun.symbol)
                                  .where(BacktestRun.sweep_id == sweep_id)).all())
    return [(params, symbol) for params, symbol in members(spec)
            if (config_key(spec["strategy"], params), symbol) not in stored]


def _outcomes(sweep_id: int) -> tuple[int, int]:
    with current_engine().connect() as conn:
        done, failed = conn.execute(
            select(func.sum(case((BacktestRun.status == RunStatus.COMPLETED, 1), else_=0)),
                   func.sum(case((BacktestRun.status == RunStatus.FAILED, 1), else_=0)))
            .where(BacktestRun.sweep_id == sweep_id)).one()
    return int(done or 0), int(failed or 0)


def finish(sweep_id: int) -> dict[str, Any]:
    """Close the sweep: COMPLETED when any member completed (FAILED otherwise) with the
    recommendation from the completed members' in/out-of-sample Sharpe. Idempotent."""
    with current_engine().connect() as conn:
        rows = conn.execute(select(BacktestRun.config_key, BacktestRun.params, BacktestRun.symbol, BacktestRun.metrics)
                            .where(BacktestRun.sweep_id == sweep_id, BacktestRun.status == RunStatus.COMPLETED)).all()
    picked = recommend({"configuration": key, "parameters": params, "symbol": symbol,
                        "in_sample_sharpe": (m or {}).get("in_sample_sharpe"),
                        "out_of_sample_sharpe": (m or {}).get("out_of_sample_sharpe")} for key, params, symbol, m in rows)
    if picked is not None:  # the windows of one of its members (they share the request's window)
        first = next((m or {}) for key, _p, _s, m in rows if key == picked["configuration"])
        picked.update(in_sample_window=first.get("in_sample_window"), out_of_sample_window=first.get("out_of_sample_window"))
    status = RunStatus.COMPLETED if rows else RunStatus.FAILED
    with current_engine().begin() as conn:
        conn.execute(update(BacktestSweep).where(BacktestSweep.id == sweep_id).values(
            status=status, recommendation=picked, completed_at=dt.datetime.now(dt.UTC).replace(tzinfo=None)))
    return {"sweep_id": sweep_id, "status": status.value, "completed": len(rows), "recommendation": picked}


STATES = {RunStatus.PENDING.value: "PENDING", RunStatus.RUNNING.value: "PROGRESS",
          RunStatus.COMPLETED.value: "SUCCESS", RunStatus.FAILED.value: "FAILURE"}


def progress(task_id: str, max_runs: int = 1000) -> dict[str, Any]:
    """A sweep's state by its task id: counts, percent, its runs (ids, outcome, errors) and, once
    finished, its recommendation. SweepNotFound for an unknown id."""
    with current_engine().connect() as conn:
        row = conn.execute(select(BacktestSweep.__table__).where(BacktestSweep.task_id == task_id)).first()
        if row is None:
            raise SweepNotFound(f"no task {task_id!r}")
        runs = conn.execute(select(BacktestRun.id, BacktestRun.config_key, BacktestRun.symbol, BacktestRun.status,
                                   BacktestRun.error, BacktestRun.sharpe_ratio)
                            .where(BacktestRun.sweep_id == row.id).order_by(BacktestRun.id).limit(max_runs)).all()
    done, failed = _outcomes(row.id)
    status = getattr(row.status, "value", row.status)
    state = STATES[status]
    if row.cancelled_at is not None:  # even once finished: its skipped members never ran
        state = "REVOKED"
    return {
        "task_id": task_id, "kind": "backtest_sweep", "sweep_id": row.id, "state": state,
        "cancelled_at": _iso(row.cancelled_at),
        "progress": {"total": row.total, "completed": done, "failed": failed,
                     "percent": round((done + failed) / row.total * 100.0, 1) if row.total else 100.0},
        "strategy": row.strategy_kind, "created_at": _iso(row.created_at), "completed_at": _iso(row.completed_at),
        "runs": [{"run_id": rid, "configuration": key, "symbol": symbol, "status": getattr(st, "value", st),
                  "sharpe_ratio": sharpe} for rid, key, symbol, st, _err, sharpe in runs],
        "errors": [{"run_id": rid, "configuration": key, "symbol": symbol, "error": err}
                   for rid, key, symbol, st, err, _s in runs if getattr(st, "value", st) == RunStatus.FAILED.value],
        "recommendation": row.recommendation,
    }


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"
