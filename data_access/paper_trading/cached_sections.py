"""The cached sections of the paper-trading dashboard: overview (short; the whole lite endpoint),
recent trades and trading stats (short); daily realized PnL, trade totals, top performers, source
performance and GEX (medium)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from sqlalchemy import and_, case, func, select

from analytics import metrics
from data_access.cache import cached_section
from data_access.client_dashboard import _day, _iso, _rows
from data_access.marking import gex_provider_from
from data_access.models import PaperAccount, PaperSignal, PaperSignalAction, PaperSignalStatus, PaperTrade
from data_access.paper_trading.basics import FAMILIES, day_bounds, enum_value, ratio_pct
from data_access.paper_trading.realtime import day_unrealized, marked_open_book, previous_closes


@cached_section((*FAMILIES, "bars"), "short")
def overview(as_of: str, prices: tuple) -> dict[str, Any]:
    """The book's headline numbers (also the whole lite endpoint); the open book priced, so new bars
    invalidate it too."""
    day_start, day_end = day_bounds(as_of)
    pnl = PaperTrade.realized_pnl
    closed = PaperTrade.status == "CLOSED"
    accounts = _rows(select(func.count(), func.coalesce(func.sum(PaperAccount.starting_cash), 0.0),
                            func.coalesce(func.sum(PaperAccount.cash), 0.0)))[0]
    trades = _rows(select(
        func.count(func.distinct(case((~closed, PaperTrade.paper_account_id)))),
        func.sum(case((~closed, 1), else_=0)),
        func.sum(case((closed, 1), else_=0)),
        func.sum(case((and_(closed, pnl > 0), 1), else_=0)),
        func.coalesce(func.sum(case((closed, pnl), else_=0.0)), 0.0),
        func.coalesce(func.sum(case((and_(closed, PaperTrade.closed_at >= day_start, PaperTrade.closed_at < day_end),
                                     pnl), else_=0.0)), 0.0),
    ))[0]
    active, n_open, n_closed, wins, realized, realized_today = trades
    book, unpriced = marked_open_book(prices)
    unrealized = sum(r["unrealized_pnl"] or 0.0 for r in book)
    moved_today = day_unrealized(book, previous_closes(sorted({r["symbol"] for r in book}), day_start), day_start)
    starting = float(accounts[1])
    return {
        "total_accounts": int(accounts[0]),
        "active_accounts": int(active or 0),
        "starting_capital": starting,
        "realized_pnl": float(realized),
        "unrealized_pnl": unrealized,
        "total_pnl": float(realized) + unrealized,
        "equity": starting + float(realized) + unrealized,
        "return_pct": ratio_pct(float(realized) + unrealized, starting),
        "win_rate": ratio_pct(int(wins or 0), int(n_closed or 0)),
        "daily_pnl": float(realized_today) + moved_today,
        "daily_realized_pnl": float(realized_today),
        "active_trades": int(n_open or 0),
        "closed_trades": int(n_closed or 0),
        "unpriced": unpriced,
    }


@cached_section(FAMILIES, "short")
def recent_trades(limit: int) -> list[dict[str, Any]]:
    rows = _rows(
        select(PaperTrade.id, PaperAccount.name, PaperTrade.source, PaperTrade.symbol, PaperTrade.side,
               PaperTrade.quantity, PaperTrade.entry_price, PaperTrade.exit_price, PaperTrade.opened_at,
               PaperTrade.closed_at, PaperTrade.realized_pnl)
        .join(PaperAccount, PaperAccount.id == PaperTrade.paper_account_id)
        .where(PaperTrade.status == "CLOSED")
        .order_by(PaperTrade.closed_at.desc(), PaperTrade.id.desc()).limit(limit)
    )
    out = []
    for tid, account, source, symbol, side, qty, entry, exit_, opened, closed, pnl in rows:
        notional = abs(qty * entry)
        out.append({"trade_id": tid, "account": account, "source": source, "symbol": symbol, "side": side,
                    "quantity": qty, "entry_price": entry, "exit_price": exit_, "opened_at": _iso(opened),
                    "closed_at": _iso(closed), "holding_hours": round((closed - opened).total_seconds() / 3600, 2),
                    "realized_pnl": pnl, "return_pct": pnl / notional * 100.0 if notional else None})
    return out


@cached_section(FAMILIES, "medium")
def daily_realized(as_of: str) -> dict[str, Any]:
    """Realized PnL, trades and wins per day (grouped in SQL) and the starting capital."""
    _, day_end = day_bounds(as_of)
    day = func.date(PaperTrade.closed_at)
    pnl = PaperTrade.realized_pnl
    rows = _rows(select(day, func.sum(pnl), func.count(), func.sum(case((pnl > 0, 1), else_=0)))
                 .where(PaperTrade.status == "CLOSED", PaperTrade.closed_at < day_end)
                 .group_by(day).order_by(day))
    starting = _rows(select(func.coalesce(func.sum(PaperAccount.starting_cash), 0.0)))[0][0]
    return {"starting_capital": float(starting),
            "days": [[_day(d).isoformat(), float(p or 0.0), int(n), int(w or 0)] for d, p, n, w in rows]}


@cached_section(FAMILIES, "medium")
def trade_totals(as_of: str) -> dict[str, Any]:
    """Closed-trade statistics in one aggregate statement."""
    _, day_end = day_bounds(as_of)
    pnl = PaperTrade.realized_pnl
    row = _rows(select(
        func.count(), func.sum(case((pnl > 0, 1), else_=0)), func.sum(case((pnl < 0, 1), else_=0)),
        func.coalesce(func.sum(case((pnl > 0, pnl), else_=0.0)), 0.0),
        func.coalesce(func.sum(case((pnl < 0, pnl), else_=0.0)), 0.0),
        func.max(pnl), func.min(pnl), func.min(PaperTrade.opened_at), func.max(PaperTrade.closed_at),
    ).where(PaperTrade.status == "CLOSED", PaperTrade.closed_at < day_end))[0]
    # holding time: averaged over the latest 1,000 closes in Python (date arithmetic is not portable SQL)
    n, wins, losses, gross_win, gross_loss, best, worst, first_open, last_close = row
    holding = _rows(select(PaperTrade.opened_at, PaperTrade.closed_at)
                    .where(PaperTrade.status == "CLOSED", PaperTrade.closed_at < day_end)
                    .order_by(PaperTrade.closed_at.desc()).limit(1000))
    avg_hours = (float(np.mean([(c - o).total_seconds() for o, c in holding])) / 3600.0) if holding else None
    n, wins, losses = int(n or 0), int(wins or 0), int(losses or 0)
    return {
        "total_trades": n, "winning_trades": wins, "losing_trades": losses,
        "gross_profit": float(gross_win), "gross_loss": float(gross_loss),
        "largest_win": float(best) if best is not None and best > 0 else None,
        "largest_loss": float(worst) if worst is not None and worst < 0 else None,
        "avg_holding_hours_last_1000": avg_hours,
        "first_trade_at": _iso(first_open) if first_open else None,
        "last_close_at": _iso(last_close) if last_close else None,
    }


@cached_section(FAMILIES, "medium")
def top_performers(limit: int) -> list[dict[str, Any]]:
    """Symbols ranked by realized PnL (grouped in SQL)."""
    pnl = func.sum(PaperTrade.realized_pnl)
    rows = _rows(select(PaperTrade.symbol, pnl, func.count(), func.sum(case((PaperTrade.realized_pnl > 0, 1), else_=0)),
                        func.count(func.distinct(PaperTrade.source)))
                 .where(PaperTrade.status == "CLOSED").group_by(PaperTrade.symbol)
                 .order_by(pnl.desc(), PaperTrade.symbol).limit(limit))
    return [{"rank": i + 1, "symbol": symbol, "realized_pnl": float(total or 0.0), "trades": int(n),
             "win_rate": ratio_pct(int(w or 0), int(n)), "sources": int(sources)}
            for i, (symbol, total, n, w, sources) in enumerate(rows)]


@cached_section(FAMILIES, "short")
def trading_stats(as_of: str) -> dict[str, Any]:
    """Today's activity and the open book's shape."""
    day_start, day_end = day_bounds(as_of)
    today = and_(PaperSignal.created_at >= day_start, PaperSignal.created_at < day_end)
    counts = {s.value: 0 for s in PaperSignalStatus}
    for status, n in _rows(select(PaperSignal.status, func.count()).where(today, PaperSignal.action ==
                                                                           PaperSignalAction.ENTRY)
                           .group_by(PaperSignal.status)):
        counts[enum_value(status)] = int(n)
    is_open = PaperTrade.status == "OPEN"
    row = _rows(select(
        func.sum(case((and_(PaperTrade.opened_at >= day_start, PaperTrade.opened_at < day_end), 1), else_=0)),
        func.sum(case((and_(PaperTrade.closed_at >= day_start, PaperTrade.closed_at < day_end), 1), else_=0)),
        func.sum(case((and_(is_open, PaperTrade.side == "long"), 1), else_=0)),
        func.sum(case((and_(is_open, PaperTrade.side == "short"), 1), else_=0)),
        func.count(func.distinct(case((is_open, PaperTrade.symbol)))),
        func.sum(case((is_open, func.abs(PaperTrade.quantity * PaperTrade.entry_price)), else_=0.0)),
    ))[0]
    opened, closed, longs, shorts, symbols, exposure = row
    return {"signals_today": sum(counts.values()), "signals_today_by_status": counts,
            "trades_opened_today": int(opened or 0), "trades_closed_today": int(closed or 0),
            "open_long": int(longs or 0), "open_short": int(shorts or 0), "open_symbols": int(symbols or 0),
            "open_exposure_at_entry": float(exposure or 0.0)}


@cached_section(FAMILIES, "medium")
def source_performance() -> list[dict[str, Any]]:
    """Per signal source: entry signals by outcome, fill rate; closed trades, win rate, PnL."""
    per_source: dict[str, dict[str, Any]] = {}

    def entry(source: str) -> dict[str, Any]:
        return per_source.setdefault(source, {"source": source, "signals": 0, "executed": 0, "missed": 0,
                                              "queued": 0, "trades": 0, "wins": 0, "pnl": 0.0, "open_trades": 0})

    for source, status, n in _rows(select(PaperSignal.source, PaperSignal.status, func.count())
                                   .where(PaperSignal.action == PaperSignalAction.ENTRY)
                                   .group_by(PaperSignal.source, PaperSignal.status)):
        row, status = entry(source), enum_value(status)
        row["signals"] += int(n)
        if status == PaperSignalStatus.EXECUTED.value:
            row["executed"] += int(n)
        elif status == PaperSignalStatus.QUEUED.value:
            row["queued"] += int(n)
        else:
            row["missed"] += int(n)
    closed = PaperTrade.status == "CLOSED"
    for source, n_closed, wins, pnl, n_open in _rows(
        select(PaperTrade.source, func.sum(case((closed, 1), else_=0)),
               func.sum(case((and_(closed, PaperTrade.realized_pnl > 0), 1), else_=0)),
               func.coalesce(func.sum(case((closed, PaperTrade.realized_pnl), else_=0.0)), 0.0),
               func.sum(case((~closed, 1), else_=0)))
        .group_by(PaperTrade.source)
    ):
        row = entry(source)
        row.update(trades=int(n_closed or 0), wins=int(wins or 0), pnl=float(pnl), open_trades=int(n_open or 0))
    out = []
    for row in per_source.values():
        decided = row["signals"] - row["queued"]
        row["fill_rate"] = metrics.fill_rate_pct(row["executed"], decided) if decided else None
        row["win_rate"] = ratio_pct(row["wins"], row["trades"])
        row["avg_pnl_per_trade"] = row["pnl"] / row["trades"] if row["trades"] else None
        out.append(row)
    return sorted(out, key=lambda r: -r["pnl"])


@cached_section(("gex",), "medium")
def gex_levels(symbols: tuple, config: tuple) -> dict[str, Any]:
    """Gamma exposure, call wall and put wall per symbol from the GEX provider; a failed symbol
    keeps its last good value (``stale``), one never fetched is named in ``unavailable``."""
    quotes = gex_provider_from(config).gex(list(symbols))
    fetched = dt.datetime.now(dt.UTC)
    levels = []
    for quote in quotes.values():
        row = quote.to_dict()
        # the value's age at fetch time; the reader adds the time the cached value has waited since
        row["observed_at"] = (fetched - dt.timedelta(seconds=quote.age_seconds)).isoformat()
        levels.append(row)
    return {"symbols": levels, "unavailable": quotes.unavailable}
