"""The paper-trading document (every section read in parallel) and the lite endpoint (one cached read),
from explicit arguments or from the settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from data_access.document import SectionReader, utc_now_iso
from data_access.marking import gex_config, price_config
from data_access.paper_trading.basics import DEFAULT_LIMIT, check_limit
from data_access.paper_trading.realtime import activity, exit_signals, open_positions, queued_signals, shadow_positions
from data_access.paper_trading.cached_sections import (
    daily_realized, gex_levels, overview, recent_trades, source_performance, top_performers, trade_totals,
    trading_stats,
)
from data_access.paper_trading.assembly import daily_returns, gex_now, health, performance_metrics, pnl_curve


def _lite(view: dict[str, Any]) -> dict[str, Any]:
    return {k: view[k] for k in ("total_pnl", "win_rate", "active_trades", "daily_pnl")}


def paper_trading_lite(*, prices: tuple = ("bars",), as_of: dt.date | None = None,
                       force: bool = False) -> dict[str, Any]:
    """``total_pnl``, ``win_rate``, ``active_trades``, ``daily_pnl`` and ``timestamp``: one cached read."""
    as_of_day = (as_of or dt.datetime.now(dt.UTC).date()).isoformat()
    result = overview.fetch(as_of_day, tuple(prices), force=force)
    return {**_lite(result.value), "timestamp": result.computed_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "cached": result.cached}


SECTIONS = ("overview", "open_positions", "shadow_positions", "exit_signals", "queued_signals", "recent_trades",
            "performance_metrics", "top_performers", "trading_stats", "source_performance", "pnl_curve",
            "daily_returns", "gex", "health")


def paper_trading_dashboard(
    limit: int = DEFAULT_LIMIT,
    *,
    prices: tuple = ("bars",),
    gex: tuple | None = None,
    gex_symbols: tuple[str, ...] = ("SPY", "QQQ"),
    as_of: dt.date | None = None,
    force: bool = False,
    periods_per_year: float = 252,
    risk_free: float = 0.0,
) -> dict[str, Any]:
    """The paper-trading document: every section read in parallel; a failed section is null with
    its error in ``errors`` and the rest are still there."""
    limit = check_limit(limit)
    as_of_day = (as_of or dt.datetime.now(dt.UTC).date()).isoformat()
    prices = tuple(prices)
    jobs: dict[str, tuple] = {
        "overview": (overview, as_of_day, prices),
        "open_positions": (open_positions, limit, prices),
        "shadow_positions": (shadow_positions, limit, prices),
        "exit_signals": (exit_signals, limit, prices),
        "queued_signals": (queued_signals, limit),
        "recent_trades": (recent_trades, limit),
        "pnl_curve": (daily_realized, as_of_day),
        "performance_metrics": (trade_totals, as_of_day),
        "top_performers": (top_performers, limit),
        "trading_stats": (trading_stats, as_of_day),
        "source_performance": (source_performance,),
        "health": (activity,),
    }
    if gex is not None and gex_symbols:
        jobs["gex"] = (gex_levels, tuple(gex_symbols), tuple(gex))
    with SectionReader(force) as reader:
        got = reader.read_parallel(jobs)
    for section in ("overview", "open_positions", "shadow_positions", "exit_signals"):
        if got.get(section) and got[section].get("unpriced"):
            reader.note_error(section, got[section]["unpriced"])
    gex_rows, gex_error = gex_now(got.get("gex"))
    reader.note_error("gex", gex_error)
    daily, totals = got["pnl_curve"], got["performance_metrics"]
    books = [got["open_positions"], got["shadow_positions"], got["exit_signals"]]
    shadow = got["shadow_positions"]
    doc: dict[str, Any] = {
        "as_of_date": utc_now_iso(),
        "limit": limit,
        "overview": {k: v for k, v in got["overview"].items() if k != "unpriced"} if got["overview"] else None,
        "open_positions": got["open_positions"]["positions"] if got["open_positions"] else None,
        "open_positions_total": ({k: got["open_positions"][k] for k in ("count", "unrealized_pnl")}
                                 if got["open_positions"] else None),
        "shadow_positions": shadow["positions"] if shadow else None,
        "shadow_summary": ({k: shadow[k] for k in ("count", "window_days", "by_status", "unrealized_pnl")}
                           if shadow else None),
        "exit_signals": got["exit_signals"]["signals"] if got["exit_signals"] else None,
        "queued_signals": got["queued_signals"]["signals"] if got["queued_signals"] else None,
        "queued_total": got["queued_signals"]["count"] if got["queued_signals"] else None,
        "recent_trades": got["recent_trades"],
        "performance_metrics": performance_metrics(daily, totals, as_of_day, periods_per_year, risk_free),
        "top_performers": got["top_performers"],
        "trading_stats": got["trading_stats"],
        "source_performance": got["source_performance"],
        "pnl_curve": pnl_curve(daily),
        "daily_returns": daily_returns(daily),
        "gex": gex_rows,
    }
    # derived panels share their inputs' freshness and errors
    for derived, sources in (("daily_returns", ("pnl_curve",)), ("performance_metrics", ("pnl_curve", "performance_metrics"))):
        inputs = [reader.freshness[s] for s in sources if s in reader.freshness]
        if len(inputs) == len(sources):
            reader.freshness[derived] = min(inputs, key=lambda f: f["computed_at"])
        for source in sources:
            if source in reader.errors:
                reader.errors.setdefault(derived, reader.errors[source])
    doc["health"] = health(got["health"], books, gex_rows, reader.errors)
    return reader.finish(doc)


def paper_trading_dashboard_for(settings: Any, limit: int = DEFAULT_LIMIT, force: bool = False) -> dict[str, Any]:
    return paper_trading_dashboard(limit, prices=price_config(settings), gex=gex_config(settings),
                                   gex_symbols=tuple(settings.gex_symbols), force=force,
                                   periods_per_year=settings.PERIODS_PER_YEAR, risk_free=settings.RISK_FREE_RATE)


def paper_trading_lite_for(settings: Any, force: bool = False) -> dict[str, Any]:
    return paper_trading_lite(prices=price_config(settings), force=force)
