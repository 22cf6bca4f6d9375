"""What the daily rollups share: a (strategy, day) key, a stored time's UTC day in SQL on both
dialects, and a temporary table of keys to join a batch's days against."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection

Key = tuple[int, dt.date]  # (strategy_id, day)
KEYS_TABLE = "rollup_day_keys"
VALUES_PAGE = 5_000  # rows per multi-row INSERT on PostgreSQL


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
    insert_rows(conn, KEYS_TABLE, ("strategy_id", "day", "next_day"),
                [(s, day_param(conn, d), day_param(conn, d + dt.timedelta(days=1))) for s, d in sorted(set(keys))])


def insert_rows(conn: Connection, table: str, columns: Sequence[str], rows: list[tuple], then: str = "") -> None:
    """``INSERT INTO table (columns) VALUES ... then`` (``then``: an ON CONFLICT clause, say) for
    ``rows``: on PostgreSQL one statement per VALUES_PAGE rows (psycopg2's ``execute_values``: an
    executemany there is a round trip per row, 3.7 s for a year of 8 strategies' signal counts),
    elsewhere the DB-API's executemany."""
    if not rows:
        return
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
            from psycopg2.extras import execute_values

            execute_values(cursor, f"{head}%s {then}", rows, page_size=VALUES_PAGE)
        else:
            marks = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            cursor.executemany(f"{head}({', '.join([marks] * len(columns))}) {then}", rows)
    finally:
        cursor.close()
