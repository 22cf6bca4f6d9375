"""One backtest run drawn in detail (the strategy page's drill-down): the run, the bars of its symbol
over its window (plus a little padding either side), its trades, its equity curve and drawdown.

``run_chart(run_id)`` is cached in the long tier under the "backtests" and "bars" families (a stored
run or imported bars bump them). Everything in it is plain Python (lists, floats, ISO strings), so it
is JSON-ready and plotly never sees a numpy array.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import numpy as np
from sqlalchemy import select

from analytics.metrics import drawdown_pct
from data_access.cache import cached_section
from data_access.db import current_engine
from data_access.models import BacktestEquityCurve, BacktestRun, BacktestTrade, Bar

try:  # the run store owns reading a run (run + trades + equity curve) and "no such run"
    from data_access.backtest_store import RunNotFound, load_run
except ImportError:  # pragma: no cover - until data_access/backtest_store.py is merged
    RunNotFound = None  # type: ignore[assignment]
    load_run = None  # type: ignore[assignment]

FAMILIES = ("backtests", "bars")
PAD_FRACTION = 0.03  # of the window, each side
MIN_PAD_BARS = 5
_UNITS = {"m": dt.timedelta(minutes=1), "h": dt.timedelta(hours=1), "d": dt.timedelta(days=1),
          "w": dt.timedelta(weeks=1)}


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def bar_interval(timeframe: str) -> dt.timedelta:
    """'1d' -> one day, '15m' -> 15 minutes; unknown forms count as a day."""
    match = re.fullmatch(r"(\d+)\s*([mhdw])", (timeframe or "").strip().lower())
    if not match:
        return _UNITS["d"]
    return int(match.group(1)) * _UNITS[match.group(2)]


def padding(start: dt.datetime, end: dt.datetime, timeframe: str) -> dt.timedelta:
    return max((end - start) * PAD_FRACTION, MIN_PAD_BARS * bar_interval(timeframe))


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _run_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The drill-down's header from a stored run document (backtest_store.run_document's shape)."""
    metrics = doc.get("metrics") or {}
    trades = metrics.get("number_of_trades")
    return {
        "id": doc["id"], "strategy_kind": doc["strategy"], "configuration": doc["config_key"],
        "parameters": doc["parameters"], "symbol": doc["symbol"], "timeframe": doc["timeframe"],
        "start": doc["start"], "end": doc["end"], "cash": _number(doc["cash"]), "status": doc["status"],
        "completed_at": doc.get("completed_at"), "volatility_regime": doc.get("volatility_regime"),
        "total_return_pct": _number(metrics.get("total_return_pct")), "sharpe_ratio": _number(metrics.get("sharpe_ratio")),
        "max_drawdown_pct": _number(metrics.get("max_drawdown_pct")), "win_rate_pct": _number(metrics.get("win_rate_pct")),
        "number_of_trades": len(doc["trades"]) if trades is None else int(trades),
    }


def drawdown_series(equity: list[float]) -> list[float | None]:
    """Percent below the running peak at each point, as a positive number in [0, 100] (METRICS.md;
    a total loss is 100 %)."""
    if not equity:
        return []
    values = drawdown_pct(np.asarray(equity, dtype=float))
    return [None if not math.isfinite(v) else min(100.0, max(0.0, 0.0 - float(v))) for v in values.tolist()]


def _parse(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso.removesuffix("Z"))


@cached_section(FAMILIES, "long")
def run_chart(run_id: int) -> dict[str, Any]:
    """The run's summary, ``bars`` ({time, open, high, low, close, volume} lists over the window plus
    padding), ``trades``, ``equity`` ({time, equity}) and ``drawdown`` ({time, drawdown_pct}).
    RunNotFound when there is no such run."""
    doc = load_run(int(run_id))
    summary = _run_summary(doc)
    start, end = _parse(doc["start"]), _parse(doc["end"])
    pad = padding(start, end, doc["timeframe"])
    with current_engine().connect() as connection:
        bars = connection.execute(
            select(Bar.time, Bar.open, Bar.high, Bar.low, Bar.close, Bar.volume)
            .where(Bar.symbol == doc["symbol"], Bar.timeframe == doc["timeframe"],
                   Bar.time >= start - pad, Bar.time <= end + pad)
            .order_by(Bar.time)).all()
    curve = doc.get("equity_curve") or {"times": [], "equity": []}
    times = [str(t) for t in curve["times"]]
    equity = [_number(v) for v in curve["equity"]]
    trades = [{"entry_time": t["entry_time"], "entry_price": _number(t["entry_price"]), "exit_time": t["exit_time"],
               "exit_price": _number(t["exit_price"]), "side": t["side"], "size": int(t["size"]),
               "pnl": _number(t["pnl"]), "commission": _number(t.get("commission")),
               "closed_at_end": bool(t.get("closed_at_end"))} for t in doc["trades"]]
    return {
        "run": summary,
        "bars": {"time": [_iso(b[0]) for b in bars], "open": [float(b[1]) for b in bars],
                 "high": [float(b[2]) for b in bars], "low": [float(b[3]) for b in bars],
                 "close": [float(b[4]) for b in bars], "volume": [float(b[5] or 0.0) for b in bars]},
        "trades": trades,
        "equity": {"time": times, "equity": equity},
        "drawdown": {"time": times, "drawdown_pct": drawdown_series([math.nan if e is None else e for e in equity])},
    }


# --------------------------------------------------------------------------- until backtest_store is merged

if load_run is None:  # pragma: no cover - the same shape as backtest_store.load_run, read here
    class RunNotFound(LookupError):  # type: ignore[no-redef]
        """No backtest run has this id."""

    def load_run(run_id: int) -> dict[str, Any]:  # type: ignore[no-redef]
        from sqlalchemy.orm import Session

        with Session(current_engine()) as session:
            run = session.get(BacktestRun, int(run_id))
            if run is None:
                raise RunNotFound(f"no backtest run {run_id}")
            trades = session.scalars(select(BacktestTrade).where(BacktestTrade.run_id == run.id)
                                     .order_by(BacktestTrade.entry_time, BacktestTrade.id)).all()
            curve = session.get(BacktestEquityCurve, run.id)
            return {
                "id": run.id, "strategy": run.strategy_kind, "config_key": run.config_key, "symbol": run.symbol,
                "timeframe": run.timeframe, "parameters": dict(run.params or {}), "start": _iso(run.start),
                "end": _iso(run.end), "cash": run.cash, "status": getattr(run.status, "value", run.status),
                "completed_at": _iso(run.completed_at), "volatility_regime": run.volatility_regime,
                "metrics": dict(run.metrics or {}),
                "trades": [{"entry_time": _iso(t.entry_time), "entry_price": t.entry_price,
                            "exit_time": _iso(t.exit_time), "exit_price": t.exit_price, "side": t.side,
                            "size": t.size, "pnl": t.pnl, "commission": t.commission,
                            "closed_at_end": bool(t.closed_at_end)} for t in trades],
                "equity_curve": {"times": list(curve.times), "equity": list(curve.equity)} if curve else None,
            }
