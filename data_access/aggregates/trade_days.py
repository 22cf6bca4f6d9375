"""``trade_days``: a strategy's closed trades of one UTC day summed (realized PnL, trades, wins,
losses, gross win and loss).

Closed trades are only ever written by the FIFO derivation (data_access/ingest/derive.py), which
calls, in its own transaction: ``trade_days_of`` for the trades it is about to delete, then, after
it inserted the new ones, ``recount_trade_days`` for those days (summed again from the trades) and
``add_trade_days`` for the other days the new trades fall on (added to what is there). A reader
therefore never sees trades without their days. ``rebuild_trade_days`` sums everything again
(``tradeboard rebuild-aggregates``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from data_access.aggregates.days import KEYS_TABLE, Key, as_date, day_of, day_param, insert_rows, load_keys

COLUMNS = ("strategy_id", "day", "realized_pnl", "trades", "wins", "losses", "gross_win", "gross_loss")
_SUMS = ("SUM(c.realized_pnl), COUNT(*), SUM(CASE WHEN c.realized_pnl > 0 THEN 1 ELSE 0 END), "
         "SUM(CASE WHEN c.realized_pnl < 0 THEN 1 ELSE 0 END), "
         "SUM(CASE WHEN c.realized_pnl > 0 THEN c.realized_pnl ELSE 0 END), "
         "SUM(CASE WHEN c.realized_pnl < 0 THEN c.realized_pnl ELSE 0 END)")


def rebuild_trade_days(conn: Connection) -> int:
    """Sum every closed trade again into ``trade_days``; returns the days written."""
    conn.execute(text("DELETE FROM trade_days"))
    day = day_of(conn, "c.closed_at")
    conn.execute(text(f"INSERT INTO trade_days ({', '.join(COLUMNS)}) SELECT c.strategy_id, {day}, {_SUMS} "
                      f"FROM closed_trades c GROUP BY c.strategy_id, {day}"))
    return int(conn.execute(text("SELECT count(*) FROM trade_days")).scalar())


def trade_days_of(conn: Connection, where: str) -> set[Key]:
    """The (strategy, day) of the closed trades ``c`` that match the SQL condition ``where``."""
    rows = conn.execute(text(f"SELECT DISTINCT c.strategy_id, {day_of(conn, 'c.closed_at')} FROM closed_trades c "
                             f"WHERE {where}")).all()
    return {(int(s), as_date(d)) for s, d in rows}


def recount_trade_days(conn: Connection, keys: Iterable[Key]) -> None:
    """Sum the closed trades of each (strategy, day) of ``keys`` again; a day left without trades
    loses its row."""
    keys = sorted(set(keys))
    if not keys:
        return
    load_keys(conn, keys)
    conn.exec_driver_sql(f"DELETE FROM trade_days WHERE EXISTS (SELECT 1 FROM {KEYS_TABLE} k "
                         "WHERE k.strategy_id = trade_days.strategy_id AND k.day = trade_days.day)")
    # each day's trades through the (strategy_id, closed_at) index; the day bounds compare with
    # the stored times on both dialects (SQLite: as text, 'YYYY-MM-DD' sorting before that day's times)
    conn.exec_driver_sql(
        f"INSERT INTO trade_days ({', '.join(COLUMNS)}) SELECT k.strategy_id, k.day, {_SUMS} FROM {KEYS_TABLE} k "
        "JOIN closed_trades c ON c.strategy_id = k.strategy_id AND c.closed_at >= k.day AND c.closed_at < k.next_day "
        "GROUP BY k.strategy_id, k.day")


def add_trade_days(conn: Connection, strategy_id: np.ndarray, closed_at_us: np.ndarray, realized_pnl: np.ndarray,
                   skip: Iterable[Key] = ()) -> None:
    """Add new closed trades (columns: strategy, close time in epoch microseconds, realized PnL) to
    their days, except the days of ``skip`` (recounted instead)."""
    if not len(strategy_id):
        return
    pnl = np.asarray(realized_pnl, dtype=float)
    frame = pd.DataFrame({"strategy_id": np.asarray(strategy_id, dtype=np.int64),
                          "day": np.asarray(closed_at_us, dtype=np.int64).astype("datetime64[us]").astype("datetime64[D]"),
                          "realized_pnl": pnl, "trades": 1, "wins": (pnl > 0).astype(np.int64),
                          "losses": (pnl < 0).astype(np.int64), "gross_win": np.where(pnl > 0, pnl, 0.0),
                          "gross_loss": np.where(pnl < 0, pnl, 0.0)})
    days = frame.groupby(["strategy_id", "day"], sort=True).sum().reset_index()
    skip = set(skip)
    rows = []
    for values in days.itertuples(index=False):
        day = pd.Timestamp(values.day).date()
        if (int(values.strategy_id), day) in skip:
            continue
        rows.append((int(values.strategy_id), day_param(conn, day), float(values.realized_pnl), int(values.trades),
                     int(values.wins), int(values.losses), float(values.gross_win), float(values.gross_loss)))
    added = ", ".join(f"{c} = trade_days.{c} + excluded.{c}" for c in COLUMNS[2:])
    insert_rows(conn, "trade_days", COLUMNS, rows, f"ON CONFLICT (strategy_id, day) DO UPDATE SET {added}")
