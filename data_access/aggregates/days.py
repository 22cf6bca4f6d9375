"""What the daily rollups share: a (strategy, day) key, a stored time's UTC day in SQL on both
dialects, and a temporary table of keys to join a batch's days against."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Connection, text

Key = tuple[int, dt.date]  # (strategy_id, day)
KEYS_TABLE = "rollup_day_keys"


def day_of(conn: Connection, column: str) -> str:
    """The UTC day of a stored time, as the dialect stores a Date (SQLite: 'YYYY-MM-DD' text)."""
    return f"date({column})" if conn.dialect.name == "sqlite" else f"CAST({column} AS DATE)"


def day_param(conn: Connection, day: dt.date):
    return day.isoformat() if conn.dialect.name == "sqlite" else day


def as_date(value) -> dt.date:
    """A day from a date, a datetime (its day) or text starting 'YYYY-MM-DD'."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def load_keys(conn: Connection, keys: Iterable[Key]) -> None:
    """Fill the connection's temporary KEYS_TABLE (strategy_id, day, next_day) with ``keys`` only."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {KEYS_TABLE} (strategy_id INTEGER NOT NULL, "
                             "day DATE NOT NULL, next_day DATE NOT NULL) ON COMMIT DELETE ROWS")
    else:
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {KEYS_TABLE} (strategy_id INTEGER NOT NULL, "
                             "day DATE NOT NULL, next_day DATE NOT NULL)")
    conn.exec_driver_sql(f"DELETE FROM {KEYS_TABLE}")
    conn.execute(text(f"INSERT INTO {KEYS_TABLE} (strategy_id, day, next_day) VALUES (:s, :d, :n)"),
                 [{"s": s, "d": day_param(conn, d), "n": day_param(conn, d + dt.timedelta(days=1))}
                  for s, d in sorted(set(keys))])
