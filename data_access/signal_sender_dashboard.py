"""The signal-sender dashboard: one strategy as its developer sees it.

Same pattern as ``client_dashboard``: one cached function per query over primitives, a pure
assembly, freshness per section and an error per failed section. A cold build runs a bounded
number of statements whatever the number of signals:

1. the strategy (id, developer, allocation, total AUM)          ``strategy_info``
2. signal counts per (status, reject reason) from signal_days   ``signal_stats``
3. the days' lag sketches from signal_lag_days, merged           ``signal_stats``
4. realized PnL per day with win/loss sums - grouped in SQL     ``trade_results``
5. open positions (without prices)                               ``positions``
6. the latest N signals with their executions aggregated         ``recent_history``

Positions are marked at assembly time with the configured price provider (not cached: prices are
real-time; see ``client_dashboard`` and ``data_access.marking``): stale quotes are flagged per
position, unpriced symbols keep null prices and are named in ``errors["positions"]``.

Per-signal PnL (``signal_history[].pnl``): closed trades are not linked to signals, so a signal's
PnL is the mark-to-market of its own fills: ``(latest close - avg fill price) * filled qty`` for a
BUY, the negative for a SELL, at the symbol's latest stored daily close on or before as_of; null
when nothing was filled or there is no close.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, select

from analytics import metrics
from data_access.aggregates.signal_days import lag_sketch, signal_counts
from data_access.cache import cached_section
from data_access.client_dashboard import (
    DEFAULT_TIME_RANGE,
    TIME_RANGES,
    _day,
    _rows,
    check_time_range,
    mark_positions,
    range_start,
    total_unrealized,
)
from data_access.db import current_engine
from data_access.document import SectionReader, utc_now_iso
from data_access.marking import price_provider_for
from data_access.models import Account, Position, Signal, SignalStatus, Strategy, TradeDay, User
from data_access.prices import PriceProvider
from data_access.signal_history import (CSV_ROWS, FILTERABLE, MAX_PAGE_ROWS, SORTABLE, InvalidPageRequest,
                                        signal_columns, signal_page, signal_row)

__all__ = ["CSV_ROWS", "DEFAULT_TIME_RANGE", "FILTERABLE", "MAX_PAGE_ROWS", "SORTABLE", "TIME_RANGES",
           "StrategyNotFound", "InvalidPageRequest", "signal_sender_dashboard", "signal_page", "strategy_info",
           "strategies_for"]

HISTORY_LIMIT = 50
HISTOGRAM_BINS = 20


class StrategyNotFound(LookupError):
    def __init__(self, name: str):
        super().__init__(f"no strategy named {name!r}")
        self.name = name


# --------------------------------------------------------------------------- sections (one query each)


@cached_section(("strategies", "accounts"), "medium")
def strategy_info(strategy_name: str) -> dict[str, Any]:
    """The strategy by name with its developer and the fund's total AUM; StrategyNotFound if none."""
    total_aum = select(func.coalesce(func.sum(Account.net_contributions), 0.0)).scalar_subquery()
    rows = _rows(
        select(Strategy.id, Strategy.name, Strategy.allocation, Strategy.developer_id, User.display_name, total_aum)
        .outerjoin(User, User.id == Strategy.developer_id)
        .where(Strategy.name == strategy_name)
    )
    if not rows:
        raise StrategyNotFound(strategy_name)
    sid, name, allocation, developer_id, developer_name, aum = rows[0]
    return {"strategy_id": sid, "strategy_name": name, "allocation": allocation, "developer_id": developer_id,
            "developer_name": developer_name, "total_aum": float(aum or 0.0)}


def may_read_strategy(user, info: dict) -> bool:
    """Admins and analysts read every strategy; a developer only the ones they develop (``info`` is
    `strategy_info`'s; ``user`` anything with ``role`` and ``id``, None for nobody signed in)."""
    if user is None:
        return False
    if user.role in ("admin", "analyst"):
        return True
    return user.role == "developer" and info.get("developer_id") == user.id


def strategies_for(developer_id: int | None) -> list[str]:
    """Strategy names a user may pick: their own for a developer (``developer_id``), else all."""
    query = select(Strategy.name).order_by(Strategy.name)
    if developer_id is not None:
        query = query.where(Strategy.developer_id == developer_id)
    return [name for (name,) in _rows(query)]


@cached_section(("signals",), "short")
def signal_stats(strategy_id: int, time_range: str, as_of: str) -> dict[str, Any]:
    """Counts per status and per rejection reason, lag statistics and histogram: read from the
    strategy's daily rollups (data_access/aggregates/signal_days.py), so the cost follows the days
    in the range. Counts and the mean lag are exact; percentiles and the maximum within 1 %."""
    last = dt.date.fromisoformat(as_of)
    first = range_start(time_range, last)
    counts = {s.value: 0 for s in SignalStatus}
    reasons: dict[str, int] = {}
    with current_engine().connect() as conn:
        for status, reason, n in signal_counts(conn, strategy_id, first, last):
            counts[status] += n
            if status == SignalStatus.REJECTED.value:
                key = reason or "(no reason given)"
                reasons[key] = reasons.get(key, 0) + n
        sketch = lag_sketch(conn, strategy_id, first, last)
    return {
        "counts": counts,
        "rejection_reasons": [{"reason": r, "count": c} for r, c in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))],
        "lag": sketch.summary(),
        "histogram": sketch.histogram(HISTOGRAM_BINS),
    }


@cached_section(("trades", "strategies", "accounts"), "medium")
def trade_results(strategy_name: str, time_range: str, as_of: str, periods_per_year: float,
                  risk_free: float) -> dict[str, Any]:
    """Realized PnL stats over the range (from the strategy's trade days), the Sharpe of the strategy's
    daily equity (allocated capital + cumulative realized PnL, calendar days, as on /client) and
    the cumulative PnL curve."""
    info = strategy_info(strategy_name)
    start = range_start(time_range, dt.date.fromisoformat(as_of))
    in_range = and_(TradeDay.strategy_id == info["strategy_id"], TradeDay.day <= dt.date.fromisoformat(as_of))
    if start is not None:
        in_range = and_(in_range, TradeDay.day >= start)
    rows = _rows(select(TradeDay.day, TradeDay.realized_pnl, TradeDay.trades, TradeDay.wins, TradeDay.losses,
                        TradeDay.gross_win, TradeDay.gross_loss).where(in_range).order_by(TradeDay.day))
    days = [(_day(d).isoformat(), float(total or 0.0)) for d, total, *_ in rows]
    trades = sum(int(r[2]) for r in rows)
    wins = sum(int(r[3] or 0) for r in rows)
    losses = sum(int(r[4] or 0) for r in rows)
    gross_win = sum(float(r[5] or 0.0) for r in rows)
    gross_loss = sum(float(r[6] or 0.0) for r in rows)
    total = sum(p for _, p in days)
    capital = info["allocation"] * info["total_aum"]
    sharpe = None
    as_of_day = pd.Timestamp(as_of)
    if capital > 0 and days:
        start = range_start(time_range, as_of_day.date())
        first = pd.Timestamp(start) if start is not None else pd.Timestamp(days[0][0]) - pd.Timedelta(days=1)
        daily = pd.Series({pd.Timestamp(d): p for d, p in days}).reindex(
            pd.date_range(first, as_of_day, freq="D"), fill_value=0.0)
        curve = capital + daily.cumsum().to_numpy()
        if (curve > 0).all():
            sharpe = metrics.sharpe_ratio(metrics.returns(np.r_[capital, curve]), risk_free, periods_per_year)
    cumulative, running = [], 0.0
    for d, p in days:
        running += p
        cumulative.append({"date": d, "pnl": running})
    return {
        "realized_pnl": total,
        "number_of_trades": trades,
        "win_rate": wins / trades * 100.0 if trades else None,
        "avg_win": gross_win / wins if wins else None,
        "avg_loss": gross_loss / losses if losses else None,
        "profit_factor": gross_win / abs(gross_loss) if losses and gross_loss else None,
        "expectancy": total / trades if trades else None,
        "sharpe_ratio": sharpe,
        "cumulative_pnl": cumulative,
    }


@cached_section(("positions",), "short")
def positions(strategy_id: int) -> list[dict[str, Any]]:
    """The strategy's open positions (symbol, signed quantity, entry price), without prices: the
    dashboard marks them at read time."""
    rows = _rows(select(Position.symbol, Position.quantity, Position.entry_price)
                 .where(Position.strategy_id == strategy_id).order_by(Position.symbol))
    return [{"symbol": symbol, "quantity": quantity, "entry_price": entry} for symbol, quantity, entry in rows]


@cached_section(("signals", "bars"), "short")
def recent_history(strategy_id: int, limit: int, as_of: str) -> list[dict[str, Any]]:
    """The latest ``limit`` signals, newest first, with their fills aggregated."""
    rows = _rows(select(*signal_columns(as_of)).where(Signal.strategy_id == strategy_id)
                 .order_by(Signal.received_at.desc(), Signal.id.desc()).limit(limit))
    return [signal_row(r) for r in rows]


# --------------------------------------------------------------------------- assembly (pure)


def performance(stats: dict | None, trades: dict | None, open_positions: list | None) -> dict[str, Any] | None:
    if stats is None and trades is None:
        return None
    counts = (stats or {}).get("counts") or {}
    sent = sum(counts.values()) if stats else None
    filled = counts.get(SignalStatus.FILLED.value) if stats else None
    unrealized = total_unrealized(open_positions)  # unpriced positions are left out (errors["positions"])
    return {
        "total_signals_sent": sent,
        "signals_filled": filled,
        "signals_rejected": counts.get(SignalStatus.REJECTED.value) if stats else None,
        "signals_cancelled": counts.get(SignalStatus.CANCELLED.value) if stats else None,
        "signals_pending": counts.get(SignalStatus.PENDING.value) if stats else None,
        "fill_rate": metrics.fill_rate_pct(filled, sent) if stats else None,
        "realized_pnl": trades["realized_pnl"] if trades else None,
        "unrealized_pnl": unrealized if open_positions is not None else None,
        # PnL = realized (range) + unrealized (now), as on /client
        "total_pnl": trades["realized_pnl"] + unrealized if trades else None,
        "number_of_trades": trades["number_of_trades"] if trades else None,
        **{k: (trades[k] if trades else None)
           for k in ("win_rate", "avg_win", "avg_loss", "profit_factor", "expectancy", "sharpe_ratio")},
    }


def lag_metrics(stats: dict | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    lag = stats["lag"]
    return {f"{k}_signal_to_fill_seconds": lag[k] for k in ("avg", "median", "p95", "p99", "max")}


SECTIONS = ("strategy", "signals", "trades", "positions", "history")


def signal_sender_dashboard(
    strategy_name: str,
    time_range: str = DEFAULT_TIME_RANGE,
    *,
    as_of: dt.date | None = None,
    force: bool = False,
    history_limit: int = HISTORY_LIMIT,
    periods_per_year: float = 252,
    risk_free: float = 0.0,
    prices: PriceProvider | None = None,
) -> dict[str, Any]:
    """The signal-sender document for ``strategy_name``; StrategyNotFound when there is none.
    Positions are marked with ``prices`` (None: the ``bars`` provider). A section whose data fails
    is null with its error in ``errors``; the others are still built."""
    check_time_range(time_range)
    as_of_day = (as_of or dt.datetime.now(dt.UTC).date()).isoformat()
    with SectionReader(force) as sections:
        info = strategy_info.fetch(strategy_name, force=force).value  # StrategyNotFound propagates
        sid = info["strategy_id"]
        stats = sections.read("signals", signal_stats, sid, time_range, as_of_day)
        trades = sections.read("trades", trade_results, strategy_name, time_range, as_of_day, periods_per_year,
                               risk_free)
        open_positions = sections.read("positions", positions, sid)
        history = sections.read("history", recent_history, sid, history_limit, as_of_day)
    open_positions = mark_positions(sections, open_positions, prices if prices is not None else price_provider_for(None))

    doc: dict[str, Any] = {
        "strategy_name": info["strategy_name"],
        "developer_name": info["developer_name"],
        "as_of_date": utc_now_iso(),
        "time_range": time_range,
        "performance": performance(stats, trades, open_positions),
        "signal_history": history,
        "lag_metrics": lag_metrics(stats),
        "current_positions": open_positions,
        "rejection_reasons": stats["rejection_reasons"] if stats else None,
        "cumulative_pnl": trades["cumulative_pnl"] if trades else None,
        "latency_histogram": stats["histogram"] if stats else None,
    }
    return sections.finish(doc)


def signal_sender_dashboard_for(settings: Any, strategy_name: str, time_range: str = DEFAULT_TIME_RANGE,
                                force: bool = False) -> dict[str, Any]:
    return signal_sender_dashboard(strategy_name, time_range, force=force,
                                   periods_per_year=settings.PERIODS_PER_YEAR, risk_free=settings.RISK_FREE_RATE,
                                   prices=price_provider_for(settings))
