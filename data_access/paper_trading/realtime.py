"""The real-time sections of the paper-trading dashboard, computed for every request and never cached:
open positions, shadow positions, exit signals, queued signals and the activity pulse behind health.
Their statements are built once, at import: building them on every request was about 40 % of these
sections' CPU (open positions, shadow, exits, queue and pulse at `large`: 4.5 -> 2.7 ms)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlalchemy import Integer, and_, bindparam, func, select

from data_access.change_stamps import paper_reads
from data_access.client_dashboard import _iso, _rows
from data_access.db import current_engine
from data_access.marking import mark, marked_positions, price_provider_from, unpriced_error
from data_access.models import Bar, PaperAccount, PaperSignal, PaperSignalAction, PaperSignalStatus, PaperTrade
from data_access.paper_trading.basics import MISSED, SHADOW_DAYS, age_seconds, enum_value, utc_now_naive


_OPEN_TRADES = (
    select(PaperTrade.id, PaperAccount.name, PaperTrade.source, PaperTrade.symbol, PaperTrade.side,
           PaperTrade.quantity, PaperTrade.entry_price, PaperTrade.opened_at)
    .join(PaperAccount, PaperAccount.id == PaperTrade.paper_account_id)
    .where(PaperTrade.status == "OPEN")
    .order_by(PaperTrade.opened_at.desc(), PaperTrade.id.desc())
)


def open_trade_rows() -> tuple[dict[str, Any], ...]:
    """Every open trade, newest first (rows kept while the paper tables are unchanged: read-only)."""
    return paper_reads.get("open_trades", _read_open_trades)


def _read_open_trades() -> tuple[dict[str, Any], ...]:
    return tuple({"trade_id": tid, "account": account, "source": source, "symbol": symbol, "side": side,
                  "quantity": qty, "entry_price": entry, "opened_at": _iso(opened)}
                 for tid, account, source, symbol, side, qty, entry, opened in _rows(_OPEN_TRADES))


def with_return(row: dict[str, Any]) -> dict[str, Any]:
    notional = abs(float(row["quantity"]) * float(row["entry_price"]))
    pnl = row.get("unrealized_pnl")
    row["pnl_pct"] = pnl / notional * 100.0 if pnl is not None and notional else None
    return row


def marked_open_book(prices: tuple) -> tuple[list[dict[str, Any]], str | None]:
    return marked_positions(open_trade_rows(), price_provider_from(prices), direction_key="side")


def previous_closes(symbols: list[str], before: dt.datetime) -> dict[str, float]:
    """Each symbol's last daily close before ``before`` (one statement)."""
    if not symbols:
        return {}
    last = (select(Bar.symbol, func.max(Bar.time).label("time"))
            .where(Bar.symbol.in_(symbols), Bar.timeframe == "1d", Bar.time < before)
            .group_by(Bar.symbol).subquery())
    rows = _rows(select(Bar.symbol, Bar.close)
                 .join(last, and_(Bar.symbol == last.c.symbol, Bar.time == last.c.time))
                 .where(Bar.timeframe == "1d"))
    return {symbol: float(close) for symbol, close in rows}


def day_unrealized(book: list[dict[str, Any]], previous: dict[str, float], day_start: dt.datetime) -> float:
    """Today's move of the open book: from the previous close (or the entry, for a trade opened
    today or a symbol without a previous close) to the live price."""
    total = 0.0
    for row in book:
        if row["current_price"] is None:
            continue
        opened_today = dt.datetime.fromisoformat(row["opened_at"].replace("Z", "")) >= day_start
        reference = row["entry_price"] if opened_today else previous.get(row["symbol"], row["entry_price"])
        sign = -1.0 if str(row["side"]).lower() == "short" else 1.0
        total += (row["current_price"] - reference) * abs(float(row["quantity"])) * sign
    return total


def open_positions(limit: int, prices: tuple) -> dict[str, Any]:
    """Every open paper trade at live prices (the newest ``limit`` listed), with the totals."""
    marked, error = marked_open_book(prices)
    return {"count": len(marked), "unrealized_pnl": sum(r["unrealized_pnl"] or 0.0 for r in marked),
            "unpriced": error, "positions": [with_return(r) for r in marked[:limit]]}


def _shadow_statements():
    """The newest missed entries (``:limit``) and their totals per symbol, side and status, since ``:since``."""
    missed = and_(PaperSignal.action == PaperSignalAction.ENTRY, PaperSignal.status.in_(MISSED),
                  PaperSignal.created_at >= bindparam("since", type_=PaperSignal.created_at.type))
    newest = (select(PaperSignal.id, PaperSignal.source, PaperSignal.symbol, PaperSignal.side, PaperSignal.quantity,
                     PaperSignal.price, PaperSignal.created_at, PaperSignal.status, PaperSignal.reason)
              .where(missed).order_by(PaperSignal.created_at.desc(), PaperSignal.id.desc())
              .limit(bindparam("limit", type_=Integer)))
    totals = (select(PaperSignal.symbol, PaperSignal.side, PaperSignal.status, func.count(),
                     func.sum(PaperSignal.quantity), func.sum(PaperSignal.quantity * PaperSignal.price),
                     func.min(PaperSignal.created_at))
              .where(missed).group_by(PaperSignal.symbol, PaperSignal.side, PaperSignal.status))
    return newest, totals


_SHADOW_NEWEST, _SHADOW_TOTALS = _shadow_statements()


def _read_shadow(since: dt.datetime, limit: int) -> tuple[tuple[dict[str, Any], ...], list, dt.datetime | None]:
    """The newest ``limit`` missed entries since ``since``, their totals, and the oldest entry's time."""
    window = {"since": since, "limit": limit}
    with current_engine().connect() as connection:
        rows = connection.execute(_SHADOW_NEWEST, window).all()
        groups = connection.execute(_SHADOW_TOTALS, window).all()
    book = tuple({"signal_id": sid, "source": source, "symbol": symbol, "side": side, "quantity": qty,
                  "entry_price": price, "signal_at": _iso(created), "status": enum_value(status), "reason": reason}
                 for sid, source, symbol, side, qty, price, created, status, reason in rows)
    return book, groups, min((g[6] for g in groups), default=None)


def shadow_positions(limit: int, prices: tuple) -> dict[str, Any]:
    """Entries not executed in the last SHADOW_DAYS days, held on paper at the signal's price: the
    newest ``limit`` listed and marked; the totals from one grouped statement (per symbol, side and
    status), so the cost does not grow with the number of missed signals."""
    since = utc_now_naive() - dt.timedelta(days=SHADOW_DAYS)
    # kept rows stay right while no missed entry has left the window since they were read
    book, groups, _oldest = paper_reads.get(("shadow", limit), lambda: _read_shadow(since, limit),
                                           still_valid=lambda kept: kept[2] is None or kept[2] >= since)
    provider = price_provider_from(prices)
    quotes = provider.latest_prices(sorted({g[0] for g in groups} | {r["symbol"] for r in book}))
    by_status: dict[str, int] = {}
    total, unpriced = 0.0, set()
    for symbol, side, status, n, quantity, notional, _oldest in groups:
        by_status[enum_value(status)] = by_status.get(enum_value(status), 0) + int(n)
        quote = quotes.get(symbol)
        if quote is None:
            unpriced.add(symbol)
            continue
        sign = -1.0 if str(side).lower() == "short" else 1.0
        total += sign * (quote.price * float(quantity) - float(notional))
    return {"count": sum(by_status.values()), "window_days": SHADOW_DAYS, "by_status": by_status,
            "unrealized_pnl": total, "unpriced": unpriced_error(quotes) if unpriced else None,
            "positions": [with_return(r) for r in mark(book, quotes, direction_key="side")]}


_ACTIVE_EXITS = (
    select(PaperSignal.id, PaperSignal.paper_trade_id, PaperSignal.source, PaperSignal.symbol, PaperSignal.side,
           PaperSignal.quantity, PaperSignal.price, PaperSignal.created_at, PaperTrade.entry_price,
           PaperTrade.opened_at)
    .outerjoin(PaperTrade, PaperTrade.id == PaperSignal.paper_trade_id)
    .where(PaperSignal.action == PaperSignalAction.EXIT, PaperSignal.status == PaperSignalStatus.QUEUED)
    .order_by(PaperSignal.created_at.asc(), PaperSignal.id.asc())
)


def exit_signals(limit: int, prices: tuple) -> dict[str, Any]:
    """Active exits (queued EXIT signals) with the position each would close, marked now."""
    now = utc_now_naive()
    rows = paper_reads.get("active_exits", lambda: _rows(_ACTIVE_EXITS))
    book = [{"id": sid, "position_id": trade_id, "signal_type": "EXIT", "status": "active", "source": source,
             "symbol": symbol, "side": side, "quantity": qty, "signal_price": price, "timestamp": _iso(created),
             "age_seconds": age_seconds(created, now), "entry_price": entry if entry is not None else price,
             "opened_at": _iso(opened) if opened else None}
            for sid, trade_id, source, symbol, side, qty, price, created, entry, opened in rows]
    marked, error = marked_positions(book, price_provider_from(prices), direction_key="side")
    return {"count": len(marked), "unpriced": error, "signals": marked[:limit]}


_QUEUED_ENTRIES = (
    select(PaperSignal.id, PaperAccount.name, PaperSignal.source, PaperSignal.symbol, PaperSignal.side,
           PaperSignal.quantity, PaperSignal.price, PaperSignal.created_at)
    .outerjoin(PaperAccount, PaperAccount.id == PaperSignal.paper_account_id)
    .where(PaperSignal.action == PaperSignalAction.ENTRY, PaperSignal.status == PaperSignalStatus.QUEUED)
    .order_by(PaperSignal.created_at.asc(), PaperSignal.id.asc())
)


def queued_signals(limit: int) -> dict[str, Any]:
    """Entries accepted and waiting to execute, oldest first (the ones most likely stuck)."""
    now = utc_now_naive()
    rows = paper_reads.get("queued_entries", lambda: _rows(_QUEUED_ENTRIES))
    signals = [{"id": sid, "account": account, "source": source, "symbol": symbol, "side": side, "quantity": qty,
                "price": price, "timestamp": _iso(created), "age_seconds": age_seconds(created, now)}
               for sid, account, source, symbol, side, qty, price, created in rows]
    return {"count": len(signals), "signals": signals[:limit]}


def _pulse_statement():
    queued = PaperSignal.status == PaperSignalStatus.QUEUED
    return select(select(func.max(PaperSignal.created_at)).scalar_subquery(),
                  select(func.count()).where(queued).scalar_subquery(),
                  select(func.min(PaperSignal.created_at)).where(queued).scalar_subquery(),
                  select(func.max(PaperSignal.executed_at)).scalar_subquery())


_PULSE = _pulse_statement()


def activity() -> dict[str, Any]:
    """Database round trip and the signal flow's pulse: one statement of four subqueries that each
    read an index (the newest signal, the queue, the newest execution) instead of scanning every signal."""
    started = time.perf_counter()
    last_signal, n_queued, oldest_queued, last_execution = _rows(_PULSE)[0]
    elapsed_ms = round((time.perf_counter() - started) * 1000.0, 2)
    now = utc_now_naive()
    return {"database_ms": elapsed_ms, "last_signal_at": _iso(last_signal) if last_signal else None,
            "last_signal_age_seconds": age_seconds(last_signal, now),
            "last_execution_at": _iso(last_execution) if last_execution else None,
            "queued": int(n_queued or 0), "oldest_queued_age_seconds": age_seconds(oldest_queued, now)}
