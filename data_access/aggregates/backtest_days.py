"""``backtest_symbol_days`` and ``backtest_config_days``: completed backtest runs of one UTC day (by
completion) summed per (symbol, volatility regime) and per (strategy kind, configuration), so the
strategy dashboard's cost follows the days and configurations it shows, not the runs behind them.

Each row holds what the dashboard averages as sums and non-null counts (SQL's AVG skips nulls), the
total of trades, and: per symbol-day the latest completion; per configuration-day the best Sharpe,
the latest run and the latest run with trades (to drill into), its parameters and its symbols.

Runs are only ever added. Storing one (data_access/backtest_store.py) adds it to the two rows of
its keys in the same transaction, under a lock, so two workers storing sweep members at once cannot
count each other twice or not at all, and a store costs the same however many runs its day already
has (recounting the day made each of a sweep's stores read every run stored before it that day);
the seeder and ``rebuild_backtest_days`` (``tradeboard rebuild-aggregates``) count every run.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from data_access.aggregates.days import day_of

ADVISORY_LOCK = 7_318_004_221  # pg_advisory_xact_lock key of the rollups' writers (any constant of our own)
_SUMS = ("COUNT(*), SUM(r.total_return_pct), COUNT(r.total_return_pct), SUM(r.sharpe_ratio), "
         "COUNT(r.sharpe_ratio), SUM(r.max_drawdown_pct), COUNT(r.max_drawdown_pct), SUM(r.win_rate_pct), "
         "COUNT(r.win_rate_pct), SUM(COALESCE(r.number_of_trades, 0))")
_SUM_COLUMNS = ("runs, return_sum, return_n, sharpe_sum, sharpe_n, drawdown_sum, drawdown_n, win_rate_sum, "
                "win_rate_n, trades")


def _symbols(conn: Connection) -> str:
    if conn.dialect.name == "postgresql":
        return "string_agg(DISTINCT r.symbol, ',' ORDER BY r.symbol)"
    return "group_concat(DISTINCT r.symbol)"


_SUMMED = tuple(c.strip() for c in _SUM_COLUMNS.split(","))
SYMBOL_KEY = ("day", "symbol", "volatility_regime")
CONFIG_KEY = ("day", "strategy_kind", "config_key")
SYMBOL_COLUMNS = (*SYMBOL_KEY, *_SUMMED, "last_completed_at")
CONFIG_COLUMNS = (*CONFIG_KEY, *_SUMMED, "sharpe_max", "latest_id", "latest_traded_id", "symbols")


def _grouped(conn: Connection, where: str) -> tuple[str, str]:
    """The completed runs matching ``where`` summed per symbol-day and per configuration-day, in the
    order of SYMBOL_COLUMNS and CONFIG_COLUMNS."""
    day = day_of(conn, "r.completed_at")
    runs = f"FROM backtest_runs r WHERE r.status = 'COMPLETED' AND r.completed_at IS NOT NULL AND {where}"
    by_symbol = (f"SELECT {day}, r.symbol, COALESCE(r.volatility_regime, ''), {_SUMS}, MAX(r.completed_at) {runs} "
                 f"GROUP BY {day}, r.symbol, COALESCE(r.volatility_regime, '')")
    by_config = (f"SELECT {day}, r.strategy_kind, r.config_key, {_SUMS}, MAX(r.sharpe_ratio), MAX(r.id), "
                 f"MAX(CASE WHEN r.number_of_trades > 0 THEN r.id END), {_symbols(conn)} {runs} "
                 f"GROUP BY {day}, r.strategy_kind, r.config_key")
    return by_symbol, by_config


def _count(conn: Connection, where: str, params: dict) -> None:
    by_symbol, by_config = _grouped(conn, where)
    conn.execute(text(f"INSERT INTO backtest_symbol_days ({', '.join(SYMBOL_COLUMNS)}) {by_symbol}"), params)
    conn.execute(text(f"INSERT INTO backtest_config_days ({', '.join(CONFIG_COLUMNS)}) {by_config}"), params)


def _plus(a, b):
    """Two SQL SUMs added (a SUM of nothing is null)."""
    return b if a is None else a if b is None else a + b


def _greater(a, b):
    return b if a is None else a if b is None else max(a, b)


def _merged(old: dict, new: dict) -> dict:
    out = dict(new)
    for name in _SUMMED:
        out[name] = _plus(old[name], new[name])
    for name in ("last_completed_at", "sharpe_max", "latest_id", "latest_traded_id"):
        if name in new:
            out[name] = _greater(old[name], new[name])
    if "symbols" in new:
        out["symbols"] = ",".join(sorted(set(old["symbols"].split(",")) | set(new["symbols"].split(","))))
    return out


def add_backtest_runs(conn: Connection, run_ids: list[int]) -> None:
    """Add runs just stored (the completed ones) to the rows of their keys: each row read, the runs'
    sums added to it, written back; under the lock, in the caller's transaction."""
    if not run_ids:
        return
    _lock(conn)
    params = {f"r{i}": int(run_id) for i, run_id in enumerate(run_ids)}
    where = f"r.id IN ({', '.join(':' + name for name in params)})"
    by_symbol, by_config = _grouped(conn, where)
    for table, key, columns, grouped in (("backtest_symbol_days", SYMBOL_KEY, SYMBOL_COLUMNS, by_symbol),
                                         ("backtest_config_days", CONFIG_KEY, CONFIG_COLUMNS, by_config)):
        match = " AND ".join(f"{k} = :k_{k}" for k in key)
        for row in conn.execute(text(grouped), params).all():
            new = dict(zip(columns, row))
            keys = {f"k_{k}": new[k] for k in key}
            old = conn.execute(text(f"SELECT {', '.join(columns)} FROM {table} WHERE {match}"), keys).first()
            if old is not None:
                new = _merged(dict(zip(columns, old)), new)
                conn.execute(text(f"DELETE FROM {table} WHERE {match}"), keys)
            conn.execute(text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                              f"({', '.join(':' + c for c in columns)})"), new)


def _lock(conn: Connection) -> None:
    """PostgreSQL: one writer of the rollups at a time (SQLite's write lock already serialises them)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})


def rebuild_backtest_days(conn: Connection) -> int:
    """Count every completed run again into both rollups; returns the days written."""
    _lock(conn)
    conn.exec_driver_sql("DELETE FROM backtest_symbol_days")
    conn.exec_driver_sql("DELETE FROM backtest_config_days")
    _count(conn, "1 = 1", {})
    return int(conn.exec_driver_sql("SELECT COUNT(DISTINCT day) FROM backtest_symbol_days").scalar())
