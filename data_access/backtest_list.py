"""Stored backtest runs listed newest first, a page at a time.

``list_runs(strategy=, symbol=, status=, sweep=, limit=, cursor=)`` returns ``{"runs", "limit",
"next_cursor"}``: run summaries (no trades or equity curve; ``GET /api/v1/backtests/<id>`` has
those) ordered by ``(created_at, id)`` descending. Paging is keyset, not OFFSET: the cursor is the
(created_at, id) of the page's last run, so a run stored while a client pages never shifts a page
and no run is seen twice. ``next_cursor`` is null on the last page.

``parse_filters(args)`` validates query arguments into those keywords or raises ``InvalidListing``
naming the parameter and its valid values.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, or_, select

from data_access.db import current_engine
from data_access.models import BacktestRun, RunStatus, as_row_id

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_CURSOR = 200
STATUSES = [s.value for s in RunStatus]
COLUMNS = (BacktestRun.id, BacktestRun.strategy_kind, BacktestRun.config_key, BacktestRun.symbol,
           BacktestRun.timeframe, BacktestRun.params, BacktestRun.start, BacktestRun.end, BacktestRun.cash,
           BacktestRun.status, BacktestRun.error, BacktestRun.sweep_id, BacktestRun.created_at,
           BacktestRun.completed_at, BacktestRun.volatility_regime, BacktestRun.total_return_pct,
           BacktestRun.sharpe_ratio, BacktestRun.max_drawdown_pct, BacktestRun.win_rate_pct,
           BacktestRun.number_of_trades)


class InvalidListing(ValueError):
    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


def encode_cursor(created_at: dt.datetime, run_id: int) -> str:
    raw = json.dumps([created_at.isoformat(), run_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """The (created_at, id) in ``cursor``; InvalidListing for anything ``encode_cursor`` did not make."""
    position = None
    if len(cursor) <= MAX_CURSOR:
        try:
            stamp, run_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            created_at = dt.datetime.fromisoformat(stamp)
            if type(run_id) is int and as_row_id(run_id) and created_at.tzinfo is None:
                position = created_at, run_id
        except (binascii.Error, ValueError, TypeError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            pass
    if position is None:
        raise InvalidListing("cursor is not one this API gave out: pass next_cursor from the previous page as is",
                             {"parameter": "cursor"})
    return position


def _whole_number(args: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    number = as_row_id(raw)
    if number is None or not low <= number <= high:
        raise InvalidListing(f"{name} must be a whole number from {low} to {high}, got {raw!r}",
                             {"parameter": name, "min": low, "max": high})
    return number


def parse_filters(args: Mapping[str, str], strategies: list[str]) -> dict[str, Any]:
    """The keywords of ``list_runs`` from query arguments, each checked (InvalidListing otherwise)."""
    from data_access.bars_import import check_symbol

    out: dict[str, Any] = {}
    if strategy := args.get("strategy"):
        if strategy not in strategies:
            raise InvalidListing(f"unknown strategy {strategy!r}", {"parameter": "strategy", "valid": strategies})
        out["strategy"] = strategy
    if status := args.get("status"):
        if status not in STATUSES:
            raise InvalidListing(f"unknown status {status!r}", {"parameter": "status", "valid": STATUSES})
        out["status"] = status
    if (symbol := args.get("symbol")) is not None and symbol != "":
        try:
            out["symbol"] = check_symbol(symbol)
        except ValueError as exc:
            raise InvalidListing(str(exc), {"parameter": "symbol", "max_length": 32}) from None
    out["sweep"] = _whole_number(args, "sweep", 1, 2 ** 63 - 1)
    out["limit"] = _whole_number(args, "limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    if cursor := args.get("cursor"):
        out["cursor"] = cursor
    return out


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def _summary(row) -> dict[str, Any]:
    return {
        "id": row.id, "strategy": row.strategy_kind, "config_key": row.config_key, "symbol": row.symbol,
        "timeframe": row.timeframe, "parameters": dict(row.params or {}), "start": _iso(row.start),
        "end": _iso(row.end), "cash": row.cash, "status": getattr(row.status, "value", row.status),
        "error": row.error, "sweep_id": row.sweep_id, "created_at": _iso(row.created_at),
        "completed_at": _iso(row.completed_at), "volatility_regime": row.volatility_regime,
        "total_return_pct": row.total_return_pct, "sharpe_ratio": row.sharpe_ratio,
        "max_drawdown_pct": row.max_drawdown_pct, "win_rate_pct": row.win_rate_pct,
        "number_of_trades": row.number_of_trades,
    }


def list_runs(*, strategy: str | None = None, symbol: str | None = None, status: str | None = None,
              sweep: int | None = None, limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> dict[str, Any]:
    """One page of run summaries, newest first (see the module doc). InvalidListing for a bad cursor."""
    query = select(*COLUMNS)
    if strategy is not None:
        query = query.where(BacktestRun.strategy_kind == strategy)
    if symbol is not None:
        query = query.where(BacktestRun.symbol == symbol)
    if status is not None:
        query = query.where(BacktestRun.status == RunStatus(status))
    if sweep is not None:
        query = query.where(BacktestRun.sweep_id == sweep)
    if cursor:
        created_at, run_id = decode_cursor(cursor)
        query = query.where(or_(BacktestRun.created_at < created_at,
                                and_(BacktestRun.created_at == created_at, BacktestRun.id < run_id)))
    query = query.order_by(BacktestRun.created_at.desc(), BacktestRun.id.desc()).limit(limit + 1)
    with current_engine().connect() as conn:
        rows = conn.execute(query).all()
    page = rows[:limit]
    more = len(rows) > limit
    return {"runs": [_summary(row) for row in page], "limit": limit,
            "next_cursor": encode_cursor(page[-1].created_at, page[-1].id) if more else None}
