"""Bulk inserts of the demo rows, and the housekeeping around them (emptiness, reset, sequences)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, Table, delete, func, insert, select, text

import data_access.models as m

class _Writer:
    """Bulk inserts through the DB-API cursor of the SQLAlchemy connection (same transaction)."""

    def __init__(self, conn: Connection, chunk: int, bar) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.chunk = chunk
        self.bar = bar
        self.counts: dict[str, int] = {}
        self.raw = conn.connection.dbapi_connection
        self.psycopg2 = self.dialect == "postgresql" and conn.dialect.driver == "psycopg2"

    # value conversions: arrays in, DB-ready Python lists out
    def times(self, us: np.ndarray) -> np.ndarray:
        """Epoch microseconds (-1: NULL) as naive UTC datetimes in the dialect's storage form."""
        us = np.asarray(us, dtype=np.int64)
        null = us < 0
        stamps = np.where(null, 0, us).astype("datetime64[us]")
        if self.dialect == "sqlite":  # SQLAlchemy's own storage format, so string comparisons work
            values = np.strings.replace(np.datetime_as_string(stamps, unit="us"), "T", " ")
        else:
            values = np.array(stamps.tolist(), dtype=object)
        if null.any():
            values = values.astype(object)
            values[null] = None
        return values

    def dates(self, days: Iterable[dt.date]) -> list:
        return [d.isoformat() for d in days] if self.dialect == "sqlite" else list(days)

    def json(self, values: Iterable[Any]) -> list:
        if self.dialect in ("sqlite", "postgresql"):
            return [None if v is None else json.dumps(v, separators=(",", ":"), allow_nan=False) for v in values]
        return list(values)

    def bools(self, values: Iterable[bool]) -> list:
        return [int(bool(v)) for v in values] if self.dialect == "sqlite" else [bool(v) for v in values]

    def insert(self, table: Table, columns: Mapping[str, Sequence | np.ndarray]) -> int:
        """Insert the rows given as columns (arrays or lists), ``chunk`` rows per executemany.
        Arrays become Python values one chunk at a time, to keep the memory flat."""
        names = list(columns)
        cols = [c if isinstance(c, (np.ndarray, list)) else list(c) for c in columns.values()]
        n = len(cols[0]) if cols else 0
        if any(len(c) != n for c in cols):
            raise ValueError(f"{table.name}: columns of different lengths")
        if self.bar is not None:
            self.bar.set_description(f"seeding {table.name}")
        quoted = ", ".join(f'"{name}"' for name in names)
        for lo in range(0, n, self.chunk):
            part = (c[lo:lo + self.chunk] for c in cols)
            rows = list(zip(*(c.tolist() if isinstance(c, np.ndarray) else c for c in part)))
            if self.dialect == "sqlite":
                cursor = self.raw.cursor()
                marks = ", ".join("?" * len(names))
                cursor.executemany(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', rows)
                cursor.close()
            elif self.psycopg2:
                from psycopg2.extras import execute_values

                with self.raw.cursor() as cursor:
                    execute_values(cursor, f'INSERT INTO "{table.name}" ({quoted}) VALUES %s', rows, page_size=2000)
            else:
                self.conn.execute(insert(table), [dict(zip(names, row)) for row in rows])
            if self.bar is not None:
                self.bar.update(len(rows))
        self.counts[table.name] = self.counts.get(table.name, 0) + n
        return n


SEEDED_TABLES: tuple[Table, ...] = tuple(
    model.__table__
    for model in (m.Execution, m.Signal, m.Position, m.ClosedTrade, m.TradeDay, m.SignalDay, m.SignalLagDay,
                  m.AccountSnapshot, m.Strategy, m.PaperSignal, m.PaperTrade, m.PaperAccount, m.BacktestEquityCurve,
                  m.BacktestTrade, m.BacktestRun, m.BacktestSweep, m.BacktestSymbolDay, m.BacktestConfigDay, m.Bar,
                  m.Account)
)  # children first: the order rows are deleted in


def _kept_users():
    return select(m.User.id).where(m.User.role == m.Role.ADMIN)


def _has_data(conn: Connection) -> list[str]:
    """Tables (other than admin users and their tokens) that hold rows."""
    busy = []
    for table in SEEDED_TABLES:
        if conn.execute(select(list(table.primary_key.columns)[0]).limit(1)).first():
            busy.append(table.name)
    if conn.execute(select(m.User.id).where(m.User.role != m.Role.ADMIN).limit(1)).first():
        busy.append("users")
    return busy


def _delete_seeded(conn: Connection) -> None:
    for table in SEEDED_TABLES:
        conn.execute(delete(table))
    conn.execute(delete(m.ApiToken.__table__).where(m.ApiToken.user_id.not_in(_kept_users())))
    conn.execute(delete(m.User.__table__).where(m.User.id.not_in(_kept_users())))


def _next_id(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _reset_sequences(conn: Connection) -> None:
    """Explicit ids leave PostgreSQL's serial sequences behind: move them past the max id."""
    if conn.dialect.name != "postgresql":
        return
    for table in (*SEEDED_TABLES, m.User.__table__, m.ApiToken.__table__):
        if "id" not in table.c:
            continue
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM \"{table.name}\"), 1), "
            f"(SELECT COUNT(*) > 0 FROM \"{table.name}\"))"
        ))

