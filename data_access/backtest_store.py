"""Backtest runs in and out of the database, independent of how they were started (CLI, API, Celery).

- ``store_run(target, result, symbol=..., timeframe=...)`` writes one COMPLETED ``BacktestRun``
  (headline metric columns, every metric as JSON, ``config_key``, the underlying's volatility and
  regime as the seeder computes them), its ``BacktestTrade`` rows and its ``BacktestEquityCurve``,
  and returns the run's id. ``target`` is a Session (the caller commits), an Engine or a URL (one
  transaction of its own).
- ``load_run(run_id)`` returns a stored run with its trades and equity curve as a JSON-ready dict,
  or raises ``RunNotFound``.

The caller bumps the ``backtests`` cache family after a store (``sections.bump("backtests")``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from analytics import backtest as bt
from analytics.metrics import volatility_pct
from app.config import Settings
from data_access.aggregates.backtest_days import add_backtest_runs
from data_access.db import current_engine, make_engine, make_session_factory, session_scope
from data_access.models import BacktestEquityCurve, BacktestRun, BacktestTrade, as_row_id, RunStatus

__all__ = ["FAMILY", "HEADLINE_METRICS", "RunNotFound", "config_key", "load_run", "run_document", "store_failed_run",
           "store_run", "underlying_volatility_pct"]

FAMILY = "backtests"  # the cache family the strategy dashboard's sections read
HEADLINE_METRICS = ("total_return_pct", "sharpe_ratio", "max_drawdown_pct", "win_rate_pct", "number_of_trades")


class RunNotFound(LookupError):
    """No backtest run has this id."""


# --------------------------------------------------------------------------- configuration names and JSON


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def config_key(kind: str, params: Mapping[str, Any]) -> str:
    """The canonical name of a configuration: kind, then ``name=value`` sorted by name
    (``sma_cross allow_short=true fast=10 slow=30``; floats as ``%g``: 2.0 -> 2, 2.5 -> 2.5)."""
    return " ".join([kind, *(f"{name}={_format_value(params[name])}" for name in sorted(params))])


def _json_clean(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_clean(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value



def _regime(vol: float | None, settings: Settings) -> str | None:
    if vol is None:
        return None
    if vol < settings.VOL_REGIME_LOW_PCT:
        return "low"
    return "medium" if vol < settings.VOL_REGIME_HIGH_PCT else "high"



# --------------------------------------------------------------------------- targets


@contextmanager
def _session(target: Session | Engine | str | None) -> Iterator[Session]:
    """The given session as is, or a session of its own committed (or rolled back) at the end."""
    if isinstance(target, Session):
        yield target
        return
    if target is None:
        engine, owned = current_engine(), False
    elif isinstance(target, Engine):
        engine, owned = target, False
    else:
        engine, owned = make_engine(str(target)), True
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        if owned:
            engine.dispose()


# --------------------------------------------------------------------------- storing


def underlying_volatility_pct(bars: bt.Bars, timeframe: str = "1d") -> float | None:
    """Annualised volatility of the underlying's daily close returns over the bars (METRICS.md), as
    the seeder computes it; intraday bars are reduced to each day's last close first, weekly bars
    use 52 periods a year."""
    closes = pd.Series(bars.close, index=pd.DatetimeIndex(bars.time))
    periods: dict[str, Any] = {}
    if timeframe == "1w":
        periods["periods_per_year"] = 52
    elif timeframe != "1d":
        closes = closes.groupby(closes.index.normalize()).last()
    values = closes.to_numpy(dtype=float)
    if values.size < 3:
        return None
    return volatility_pct(values[1:] / values[:-1] - 1.0, **periods)


def _naive(value: Any) -> dt.datetime:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else pd.Timestamp(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def store_run(
    target: Session | Engine | str | None,
    result: bt.BacktestResult,
    *,
    symbol: str,
    timeframe: str = "1d",
    created_at: dt.datetime | None = None,
    completed_at: dt.datetime | None = None,
    settings: Settings | None = None,
    sweep_id: int | None = None,
    extra_metrics: dict[str, Any] | None = None,
) -> int:
    """Store a finished backtest (see the module doc) and return the run's id. ``sweep_id`` makes
    it a sweep member (unique per configuration and symbol); ``extra_metrics`` join its metrics."""
    settings = settings or Settings()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    metrics = _json_clean({**result.metrics, **(extra_metrics or {})})
    vol = _json_clean(underlying_volatility_pct(result.bars, timeframe))
    params = _json_clean(result.params)
    run = BacktestRun(
        strategy_kind=result.kind,
        params=params,
        config_key=config_key(result.kind, result.params),
        symbol=symbol,
        timeframe=timeframe,
        start=_naive(result.bars.time[0]),
        end=_naive(result.bars.time[-1]),
        cash=float(result.settings.cash),
        status=RunStatus.COMPLETED,
        error=None,
        created_at=created_at or now,
        completed_at=completed_at or now,
        underlying_volatility_pct=vol,
        volatility_regime=_regime(vol, settings),
        metrics=metrics,
        sweep_id=sweep_id,
        **{name: metrics.get(name) for name in HEADLINE_METRICS},
    )
    run.trades = [
        BacktestTrade(side=t.side, size=int(t.size), entry_time=_naive(t.entry_time), entry_price=float(t.entry_price),
                      exit_time=_naive(t.exit_time), exit_price=float(t.exit_price), pnl=float(t.pnl),
                      commission=float(t.commission), closed_at_end=bool(t.closed_at_end))
        for t in result.trades
    ]
    stamps = np.datetime_as_string(np.asarray(result.bars.time, dtype="datetime64[s]"), unit="s")
    run.equity_curve = BacktestEquityCurve(times=[f"{t}Z" for t in stamps.tolist()],
                                           equity=_json_clean(np.asarray(result.equity, dtype=float).tolist()))
    with _session(target) as session:
        session.add(run)
        session.flush()
        add_backtest_runs(session.connection(), [run.id])  # the strategy dashboard's rollups
        return int(run.id)


def store_failed_run(target: Session | Engine | str | None, *, kind: str, params: dict[str, Any], symbol: str,
                     timeframe: str, start: dt.datetime, end: dt.datetime, cash: float, error: str,
                     sweep_id: int | None = None) -> int:
    """Record a run that could not be completed (status FAILED with its error) and return its id,
    so a sweep reports its failed members instead of dropping them."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    run = BacktestRun(strategy_kind=kind, params=_json_clean(params), config_key=config_key(kind, params),
                      symbol=symbol, timeframe=timeframe, start=start, end=end, cash=float(cash),
                      status=RunStatus.FAILED, error=error[:2000], created_at=now, completed_at=now, sweep_id=sweep_id)
    with _session(target) as session:
        session.add(run)
        session.flush()
        return int(run.id)


# --------------------------------------------------------------------------- loading


def _number(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def run_document(run: BacktestRun, trades: list[BacktestTrade], curve: BacktestEquityCurve | None,
                 include_equity: bool = True) -> dict[str, Any]:
    """A stored run as a JSON-ready dict."""
    doc: dict[str, Any] = {
        "id": run.id,
        "strategy": run.strategy_kind,
        "config_key": run.config_key,
        "symbol": run.symbol,
        "timeframe": run.timeframe,
        "parameters": dict(run.params or {}),
        "start": _iso(run.start),
        "end": _iso(run.end),
        "cash": run.cash,
        "status": run.status.value if isinstance(run.status, RunStatus) else run.status,
        "error": run.error,
        "sweep_id": run.sweep_id,
        "created_at": _iso(run.created_at),
        "completed_at": _iso(run.completed_at),
        "underlying_volatility_pct": _number(run.underlying_volatility_pct),
        "volatility_regime": run.volatility_regime,
        "metrics": _json_clean(dict(run.metrics)) if run.metrics else None,  # a failed run has none
        "trades": [
            {"entry_time": _iso(t.entry_time), "entry_price": t.entry_price, "exit_time": _iso(t.exit_time),
             "exit_price": t.exit_price, "side": t.side, "size": t.size, "pnl": _number(t.pnl),
             "commission": t.commission, "closed_at_end": bool(t.closed_at_end)}
            for t in trades
        ],
    }
    if include_equity:
        doc["equity_curve"] = ({"times": list(curve.times), "equity": _json_clean(list(curve.equity))}
                               if curve is not None else None)
    return doc


def load_run(run_id: int, target: Session | Engine | str | None = None, include_equity: bool = True) -> dict[str, Any]:
    """The stored run ``run_id`` with its trades (in entry order) and equity curve; RunNotFound if
    there is none. ``target``: a Session, Engine or URL (default: the configured engine)."""
    key = as_row_id(run_id)
    if key is None:
        raise RunNotFound(f"no backtest run {run_id!r} (ids are whole numbers)")
    with _session(target) as session:
        run = session.get(BacktestRun, key)
        if run is None:
            raise RunNotFound(f"no backtest run {key}")
        trades = list(session.scalars(
            select(BacktestTrade).where(BacktestTrade.run_id == key).order_by(BacktestTrade.entry_time,
                                                                               BacktestTrade.id)))
        curve = session.get(BacktestEquityCurve, key) if include_equity else None
        return run_document(run, trades, curve, include_equity)
