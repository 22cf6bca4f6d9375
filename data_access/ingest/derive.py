"""Positions and closed trades derived from executions (FIFO per strategy and symbol).

They are never written any other way: after executions (or the signals they fill) are written, the
writer calls, inside its own transaction,

- ``rederive(conn, pairs)``: for each (strategy_id, symbol), delete its closed trades and position
  and derive them again from all its executions, in (filled_at, execution_id) order, so the result
  does not depend on the order the rows arrived in;
- ``derive_after_write(conn, touched)``: the same result, cheaper when the batch only appends. For
  each pair, ``touched`` gives a ``Written``: the earliest (filled_at, execution_id) written for it
  and how many of its executions were written. When every execution of the pair at or after that
  key is one just written, the pair is continued from its open lots (read back from its position
  and its newest fills of the position's side: under FIFO the open lots are always those, the
  oldest partly consumed); otherwise it is derived again from scratch.

An execution whose key or signal changed counts for the pairs and keys of both its old and new
version, and a signal whose side, strategy or symbol changed counts for all its executions.

The FIFO itself is ``analytics.fifo.derive``. The pairs are passed to SQL through a temporary
table, so the reads are a few set-based queries whatever the number of pairs.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import numpy as np
from sqlalchemy import Connection

import data_access.models as m
from analytics import fifo
from data_access import aggregates
from data_access.ingest.rebuild import indexes_built_after, is_empty, worth_it
from data_access.ingest.upsert import sqlite_times

__all__ = ["Written", "derive_after_write", "derive_fills", "rederive"]

Pair = tuple[int, str]  # (strategy_id, symbol)

_PAIRS = "derive_pairs"
_CHUNK = 50_000  # rows per executemany


class Written(NamedTuple):
    """What a batch wrote of one pair's executions."""

    filled_at: dt.datetime  # of the earliest execution written, by (filled_at, execution_id)
    execution_id: str
    count: int  # executions of the pair inserted or changed


# --------------------------------------------------------------------------- SQL plumbing


def _load_pairs(conn: Connection, pairs: list[Pair], since: list[dt.datetime | None] | None = None) -> None:
    """Fill the temporary table of pairs: code (the row's index), strategy, symbol, and a time from
    which executions are read (fast path only)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_PAIRS} (code INTEGER PRIMARY KEY, "
                             "strategy_id INTEGER NOT NULL, symbol VARCHAR(32) NOT NULL, since TIMESTAMP) "
                             "ON COMMIT DELETE ROWS")
    else:
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_PAIRS} (code INTEGER PRIMARY KEY, "
                             "strategy_id INTEGER NOT NULL, symbol VARCHAR(32) NOT NULL, since TIMESTAMP)")
    conn.exec_driver_sql(f"DELETE FROM {_PAIRS}")
    stamps = _db_times(conn, since) if since is not None else [None] * len(pairs)
    _insert(conn, _PAIRS, ["code", "strategy_id", "symbol", "since"],
            [list(range(len(pairs))), [int(s) for s, _ in pairs], [str(sym) for _, sym in pairs], stamps])


def _insert(conn: Connection, table: str, names: list[str], columns: list) -> None:
    """Rows given as columns (lists or arrays; times as ``_times_out`` gives them) inserted: COPY
    of CSV written by pyarrow on PostgreSQL, executemany on SQLite."""
    size = len(columns[0]) if columns else 0
    if not size:
        return
    raw = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
        with raw.cursor() as cursor:
            cursor.copy_expert(f"COPY {table} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)",
                               _arrow_csv(names, columns))
        return
    values = [c.tolist() if isinstance(c, np.ndarray) else c for c in columns]
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
    cursor = raw.cursor()
    try:
        for lo in range(0, size, _CHUNK):
            cursor.executemany(sql, zip(*(v[lo:lo + _CHUNK] for v in values)))
    finally:
        cursor.close()


def _arrow_csv(names: list[str], columns: list) -> io.BytesIO:
    """COPY's CSV: nulls unquoted empty fields, datetime64 as text without an offset."""
    import pyarrow as pa
    from pyarrow import csv as pa_csv

    out = io.BytesIO()
    pa_csv.write_csv(pa.table({n: pa.array(c, from_pandas=True) for n, c in zip(names, columns)}), out,
                     pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    out.seek(0)
    return out


def _db_times(conn: Connection, values: Iterable[dt.datetime | None]) -> list:
    """Naive UTC datetimes as the dialect stores them (SQLite: SQLAlchemy's text form)."""
    if conn.dialect.name == "sqlite":
        return [None if v is None else v.strftime("%Y-%m-%d %H:%M:%S.%f") for v in values]
    return list(values)


def _times_out(conn: Connection, us: np.ndarray):
    """Epoch microseconds as the dialect stores them: SQLite's text, else datetime64 for COPY."""
    stamps = np.asarray(us, dtype=np.int64).astype("datetime64[us]")
    if conn.dialect.name == "sqlite":
        return sqlite_times(stamps).tolist()
    return stamps


def _epoch_us(conn: Connection, column: str) -> str:
    if conn.dialect.name == "postgresql":
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"
    return column  # text, parsed by numpy


def _to_us(values: list) -> np.ndarray:
    if values and isinstance(values[0], str):
        return np.array(values, dtype="datetime64[us]").astype(np.int64)
    if values and isinstance(values[0], dt.datetime):
        return np.array(values, dtype="datetime64[us]").astype(np.int64)
    return np.array(values, dtype=np.int64)


class _Fills(NamedTuple):
    code: np.ndarray
    time: np.ndarray  # epoch us
    execution_id: np.ndarray  # object
    quantity: np.ndarray  # signed
    price: np.ndarray
    commission: np.ndarray

    def take(self, index: np.ndarray) -> _Fills:
        return _Fills(*(column[index] for column in self))


def _read_fills(conn: Connection, fast: bool) -> _Fills:
    """The executions of the pairs in the temporary table, sorted by (code, filled_at, execution_id).
    ``fast``: only those at or after each pair's ``since``, read through the executions' time index."""
    columns = (f"p.code, {_epoch_us(conn, 'e.filled_at')}, e.execution_id, g.side, e.quantity, e.price, "
               "e.commission")
    if fast:
        # CROSS JOIN: SQLite keeps the order written (pairs, executions by time, their signals)
        sql = (f"SELECT {columns} FROM {_PAIRS} p CROSS JOIN executions e CROSS JOIN signals g "
               "WHERE e.filled_at >= p.since AND g.id = e.signal_id AND g.strategy_id = p.strategy_id "
               "AND g.symbol = p.symbol")
    else:
        # pairs, their strategies' signals, their executions (not a scan of every execution)
        sql = (f"SELECT {columns} FROM {_PAIRS} p CROSS JOIN signals g CROSS JOIN executions e "
               "WHERE g.strategy_id = p.strategy_id AND g.symbol = p.symbol AND e.signal_id = g.id")
    rows = conn.exec_driver_sql(sql).fetchall()
    if not rows:
        return _Fills(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, object), np.empty(0), np.empty(0),
                      np.empty(0))
    code, time, execution_id, side, quantity, price, commission = zip(*rows)
    sign = np.where(np.array(side, dtype=object) == m.Side.BUY.value, 1.0, -1.0)
    return _ordered(_Fills(np.array(code, dtype=np.int64), _to_us(list(time)), np.array(execution_id, dtype=object),
                           sign * np.array(quantity, dtype=np.float64), np.array(price, dtype=np.float64),
                           np.array(commission, dtype=np.float64)))


def _ordered(fills: _Fills) -> _Fills:
    """``fills`` sorted by (code, filled_at, execution_id)."""
    code, time, execution_id = fills.code, fills.time, fills.execution_id
    order = np.lexsort((time, code))
    # ties on (code, filled_at) are rare: only those rows are ordered by execution_id too
    same = (code[order][1:] == code[order][:-1]) & (time[order][1:] == time[order][:-1])
    if same.any():
        tied = np.zeros(order.size, dtype=bool)
        tied[1:] |= same
        tied[:-1] |= same
        at = np.flatnonzero(tied)
        rows_at = order[at]
        order[at] = rows_at[np.lexsort((execution_id[rows_at].astype(str), time[rows_at], code[rows_at]))]
    return fills.take(order)


def _strategy_accounts(conn: Connection, pairs: list[Pair]) -> dict[int, int | None]:
    ids = sorted({s for s, _ in pairs})
    out: dict[int, int | None] = {}
    for lo in range(0, len(ids), 500):
        part = ids[lo:lo + 500]
        marks = ", ".join(str(int(i)) for i in part)
        out.update(conn.exec_driver_sql(f"SELECT id, account_id FROM strategies WHERE id IN ({marks})").fetchall())
    return out


def _delete(conn: Connection, table: str) -> set[aggregates.Key]:
    """Delete the pairs' rows of ``table``; for closed trades, returns the (strategy, day) they were on."""
    # the IN lets SQLite reach the rows through the table's strategy index instead of scanning it
    def of(alias: str) -> str:
        return (f"{alias}.strategy_id IN (SELECT strategy_id FROM {_PAIRS}) AND EXISTS (SELECT 1 FROM {_PAIRS} p "
                f"WHERE p.strategy_id = {alias}.strategy_id AND p.symbol = {alias}.symbol)")

    days = aggregates.trade_days_of(conn, of("c")) if table == "closed_trades" else set()
    conn.exec_driver_sql(f"DELETE FROM {table} WHERE {of(table)}")
    return days


def _write(conn: Connection, pairs: list[Pair], result: fifo.Derivation,
           emptied_days: set[aggregates.Key] = frozenset()) -> dict[str, int]:
    """Insert the derivation's closed trades and positions, and bring ``trade_days`` up to date:
    ``emptied_days``, whose trades were deleted before, are summed again; the new trades' other days added to."""
    accounts = _strategy_accounts(conn, pairs)
    strategy = np.array([s for s, _ in pairs], dtype=np.int64)
    symbol = np.array([sym for _, sym in pairs], dtype=object)
    account = np.array([accounts.get(int(s)) for s in strategy], dtype=object)

    closed = result.closed
    g = closed.group
    bulk = worth_it(conn, len(closed), True) and is_empty(conn, "closed_trades")
    with indexes_built_after(conn, "closed_trades", bulk):
        _insert(conn, "closed_trades", ["strategy_id", "account_id", "symbol", "side", "quantity", "entry_price",
                                        "exit_price", "opened_at", "closed_at", "commission", "realized_pnl"],
                [strategy[g], account[g], symbol[g], closed.side, closed.quantity, closed.entry_price,
                 closed.exit_price, _times_out(conn, closed.opened_at), _times_out(conn, closed.closed_at),
                 closed.commission, closed.realized_pnl])
    aggregates.recount_trade_days(conn, emptied_days)
    aggregates.add_trade_days(conn, strategy[g], closed.closed_at, closed.realized_pnl, skip=emptied_days)
    positions = result.positions
    g = positions.group
    _insert(conn, "positions", ["strategy_id", "account_id", "symbol", "quantity", "entry_price", "opened_at"],
            [strategy[g], account[g], symbol[g], positions.quantity, positions.entry_price,
             _times_out(conn, positions.opened_at)])
    return {"closed_trades": len(closed), "positions": len(positions)}


# --------------------------------------------------------------------------- the two entry points


def rederive(conn: Connection, pairs: Iterable[Pair]) -> dict[str, int]:
    """Derive the closed trades and position of each (strategy_id, symbol) from all its executions,
    replacing what was there. Returns the rows written per table."""
    pairs = sorted(set((int(s), str(sym)) for s, sym in pairs))
    if not pairs:
        return {"closed_trades": 0, "positions": 0}
    _load_pairs(conn, pairs)
    emptied = _delete(conn, "closed_trades")
    _delete(conn, "positions")
    fills = _read_fills(conn, fast=False)
    result = fifo.derive(fills.code, fills.time, fills.quantity, fills.price, fills.commission)
    return _write(conn, pairs, result, emptied)


def derive_fills(conn: Connection, pairs: list[Pair], code: np.ndarray, time_us: np.ndarray,
                 execution_id: np.ndarray, quantity: np.ndarray, price: np.ndarray,
                 commission: np.ndarray) -> dict[str, int]:
    """``rederive`` for pairs whose every execution is given (``code`` indexes ``pairs``; quantities
    signed, BUY positive), as after a first import into an empty executions table: the fills are
    not read back. Returns the rows written per table."""
    if not pairs:
        return {"closed_trades": 0, "positions": 0}
    _load_pairs(conn, pairs)
    emptied = _delete(conn, "closed_trades")
    _delete(conn, "positions")
    fills = _ordered(_Fills(np.asarray(code, dtype=np.int64), np.asarray(time_us, dtype=np.int64),
                            np.asarray(execution_id, dtype=object), np.asarray(quantity, dtype=np.float64),
                            np.asarray(price, dtype=np.float64), np.asarray(commission, dtype=np.float64)))
    result = fifo.derive(fills.code, fills.time, fills.quantity, fills.price, fills.commission)
    return _write(conn, pairs, result, emptied)


def derive_after_write(conn: Connection, touched: Mapping[Pair, Written]) -> dict[str, int]:
    """Bring the closed trades and positions of the touched pairs up to date after a write (see the
    module docstring). Returns the rows written per table and how many pairs took each path."""
    pairs = sorted((int(s), str(sym)) for s, sym in touched)
    if not pairs:
        return {"closed_trades": 0, "positions": 0, "appended": 0, "rederived": 0}
    marks = [touched[pair] for pair in pairs]
    mark_us = _to_us([w.filled_at for w in marks])

    # the current positions: their side and oldest lot bound the fills the open lots are among
    _load_pairs(conn, pairs)
    held = conn.exec_driver_sql(
        f"SELECT p.code, s.quantity, {_epoch_us(conn, 's.opened_at')} FROM {_PAIRS} p "
        "JOIN positions s ON s.strategy_id = p.strategy_id AND s.symbol = p.symbol").fetchall()
    position_qty = np.zeros(len(pairs))
    opened_us = np.full(len(pairs), np.iinfo(np.int64).max)
    if held:
        code, quantity, opened = zip(*held)
        position_qty[list(code)] = quantity
        opened_us[list(code)] = _to_us(list(opened))
    since_us = np.minimum(opened_us, mark_us)
    _load_pairs(conn, pairs, since=np.array(since_us, dtype="datetime64[us]").tolist())
    fills = _read_fills(conn, fast=True)

    # a fill is new when its key is at or after the pair's mark
    mark_ids = np.array([w.execution_id for w in marks], dtype=object)
    at = mark_us[fills.code]
    new = (fills.time > at) | ((fills.time == at) & (fills.execution_id.astype(str) >= mark_ids[fills.code].astype(str)))
    new_count = np.bincount(fills.code[new], minlength=len(pairs))
    written = np.array([w.count for w in marks])
    appendable = new_count == written

    # the open lots of the appendable pairs: the newest old fills of the position's side covering it
    lots, uncovered = _open_lots(fills.take(np.flatnonzero(~new & appendable[fills.code])),
                                 np.where(appendable, position_qty, 0.0))
    if uncovered.size:
        appendable[uncovered] = False
        keep = appendable[lots.group]
        lots = fifo.OpenLots(**{name: column[keep] for name, column in lots.__dict__.items()})
    fresh = fills.take(np.flatnonzero(new & appendable[fills.code]))
    result = fifo.derive(fresh.code, fresh.time, fresh.quantity, fresh.price, fresh.commission, initial=lots)

    append_pairs = [pair for pair, ok in zip(pairs, appendable) if ok]
    other_pairs = [pair for pair, ok in zip(pairs, appendable) if not ok]
    counts = {"closed_trades": 0, "positions": 0}
    if append_pairs:
        code = np.flatnonzero(appendable)
        local = np.full(len(pairs), -1)
        local[code] = np.arange(code.size)
        _load_pairs(conn, append_pairs)
        _delete(conn, "positions")
        counts = _write(conn, append_pairs, _regroup(result, local))
    if other_pairs:
        again = rederive(conn, other_pairs)
        counts = {key: counts[key] + again[key] for key in counts}
    return {**counts, "appended": len(append_pairs), "rederived": len(other_pairs)}


def _open_lots(old: _Fills, position_qty: np.ndarray) -> tuple[fifo.OpenLots, np.ndarray]:
    """Walk each pair's old fills of its position's side from the newest back until they cover the
    position; the oldest of them is the partly consumed lot. Also returns the codes whose fills do
    not cover their position (a stale derivation: those are derived again)."""
    groups, quantity, price, time, commission, short = [], [], [], [], [], []
    codes = np.flatnonzero(np.abs(position_qty) > fifo.EPS)
    starts = np.searchsorted(old.code, codes, side="left")
    ends = np.searchsorted(old.code, codes, side="right")
    q, p, t, c = old.quantity.tolist(), old.price.tolist(), old.time.tolist(), old.commission.tolist()
    for code, lo, hi in zip(codes.tolist(), starts.tolist(), ends.tolist()):
        direction = 1.0 if position_qty[code] > 0 else -1.0
        left = abs(float(position_qty[code]))
        taken: list[int] = []
        for r in range(hi - 1, lo - 1, -1):
            if (q[r] > 0) != (direction > 0):
                continue
            taken.append(r)
            left -= abs(q[r])
            if left <= fifo.EPS:
                break
        if left > fifo.EPS:
            short.append(code)
            continue
        for k, r in enumerate(reversed(taken)):
            full = abs(q[r])
            size = full + left if k == 0 and left < 0 else full  # the oldest lot is partly consumed
            groups.append(code)
            quantity.append(direction * size)
            price.append(p[r])
            time.append(t[r])
            commission.append(c[r] * size / full)
    lots = fifo.OpenLots(group=np.array(groups, dtype=np.int64), quantity=np.array(quantity, dtype=np.float64),
                         price=np.array(price, dtype=np.float64), time=np.array(time, dtype=np.int64),
                         commission=np.array(commission, dtype=np.float64),
                         entry_fill=-1 - np.arange(len(groups), dtype=np.int64))
    return lots, np.array(short, dtype=np.int64)


def _regroup(result: fifo.Derivation, local: np.ndarray) -> fifo.Derivation:
    """The derivation with its group codes renumbered (``local[code]``)."""
    closed, lots, positions = result.closed, result.open_lots, result.positions
    return fifo.Derivation(
        closed=fifo.ClosedTrades(**{**closed.__dict__, "group": local[closed.group]}),
        open_lots=fifo.OpenLots(**{**lots.__dict__, "group": local[lots.group]}),
        positions=fifo.Positions(**{**positions.__dict__, "group": local[positions.group]}),
    )
