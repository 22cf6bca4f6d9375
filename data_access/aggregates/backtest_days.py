"""``backtest_symbol_days`` and ``backtest_config_days``: completed backtest runs of one UTC day (by
completion) summed per (symbol, volatility regime) and per (strategy kind, configuration), so the
strategy dashboard's cost follows the days and configurations it shows, not the runs behind them.

Each row holds what the dashboard averages as sums and non-null counts (SQL's AVG skips nulls), the
total of trades, and: per symbol-day the latest completion; per configuration-day the best Sharpe,
the latest run and the latest run with trades (to drill into), its parameters and its symbols.

Runs are only ever added. Storing one (data_access/backtest_store.py) recounts its day from the
runs in the same transaction, under a lock, so two workers storing sweep members at once cannot
count each other twice or not at all; the seeder and ``rebuild_backtest_days`` (``tradeboard
rebuild-aggregates``) count every run.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from data_access.aggregates.days import as_date, day_of, day_param

ADVISORY_LOCK = 7_318_004_221  # pg_advisory_xact_lock key of a day's recount (any constant of our own)
_SUMS = ("COUNT(*), SUM(r.total_return_pct), COUNT(r.total_return_pct), SUM(r.sharpe_ratio), "
         "COUNT(r.sharpe_ratio), SUM(r.max_drawdown_pct), COUNT(r.max_drawdown_pct), SUM(r.win_rate_pct), "
         "COUNT(r.win_rate_pct), SUM(COALESCE(r.number_of_trades, 0))")
_SUM_COLUMNS = ("runs, return_sum, return_n, sharpe_sum, sharpe_n, drawdown_sum, drawdown_n, win_rate_sum, "
                "win_rate_n, trades")


def _symbols(conn: Connection) -> str:
    if conn.dialect.name == "postgresql":
        return "string_agg(DISTINCT r.symbol, ',' ORDER BY r.symbol)"
    return "group_concat(DISTINCT r.symbol)"


def _count(conn: Connection, where: str, params: dict) -> None:
    day = day_of(conn, "r.completed_at")
    completed = "r.status = 'COMPLETED' AND r.completed_at IS NOT NULL"
    conn.execute(text(
        f"INSERT INTO backtest_symbol_days (day, symbol, volatility_regime, {_SUM_COLUMNS}, last_completed_at) "
        f"SELECT {day}, r.symbol, COALESCE(r.volatility_regime, ''), {_SUMS}, MAX(r.completed_at) "
        f"FROM backtest_runs r WHERE {completed} AND {where} "
        f"GROUP BY {day}, r.symbol, COALESCE(r.volatility_regime, '')"), params)
    conn.execute(text(
        f"INSERT INTO backtest_config_days (day, strategy_kind, config_key, {_SUM_COLUMNS}, sharpe_max, latest_id, "
        f"latest_traded_id, symbols) "
        f"SELECT {day}, r.strategy_kind, r.config_key, {_SUMS}, MAX(r.sharpe_ratio), MAX(r.id), "
        f"MAX(CASE WHEN r.number_of_trades > 0 THEN r.id END), {_symbols(conn)} "
        f"FROM backtest_runs r WHERE {completed} AND {where} "
        f"GROUP BY {day}, r.strategy_kind, r.config_key"), params)


def _lock(conn: Connection) -> None:
    """PostgreSQL: one recount at a time (SQLite's write lock already serialises them)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})


def rebuild_backtest_days(conn: Connection) -> int:
    """Count every completed run again into both rollups; returns the days written."""
    _lock(conn)
    conn.exec_driver_sql("DELETE FROM backtest_symbol_days")
    conn.exec_driver_sql("DELETE FROM backtest_config_days")
    _count(conn, "1 = 1", {})
    return int(conn.exec_driver_sql("SELECT COUNT(DISTINCT day) FROM backtest_symbol_days").scalar())


def recount_backtest_day(conn: Connection, completed_at: dt.datetime) -> None:
    """Count the completed runs of ``completed_at``'s day again (after a run of that day was stored)."""
    _lock(conn)
    day = as_date(completed_at)
    bounds = {"day": day_param(conn, day), "start": dt.datetime.combine(day, dt.time()),
              "end": dt.datetime.combine(day + dt.timedelta(days=1), dt.time())}
    if conn.dialect.name == "sqlite":  # stored times are text there: compare as SQLAlchemy writes them
        bounds.update(start=bounds["start"].isoformat(sep=" "), end=bounds["end"].isoformat(sep=" "))
    conn.execute(text("DELETE FROM backtest_symbol_days WHERE day = :day"), bounds)
    conn.execute(text("DELETE FROM backtest_config_days WHERE day = :day"), bounds)
    _count(conn, "r.completed_at >= :start AND r.completed_at < :end", bounds)
