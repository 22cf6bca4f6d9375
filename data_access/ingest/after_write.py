"""What a write of fills or signals changes beyond its own rows, in the same transaction:
positions and closed trades of the touched (strategy, symbol) pairs (``derive``), and a filled
signal's ``filled_at`` when its sender left it out (the first fill's time, so lags count it)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, select, update

from data_access import models as m
from data_access.ingest.derive import Written, derive_after_write, rederive
from data_access.ingest.upsert import CHUNK, Outcome


def _pairs_of(conn: Connection, signal_ids) -> dict[int, tuple[int, str]]:
    listed = sorted({int(s) for s in signal_ids})
    pairs: dict[int, tuple[int, str]] = {}
    for lo in range(0, len(listed), CHUNK):
        rows = conn.execute(select(m.Signal.id, m.Signal.strategy_id, m.Signal.symbol)
                            .where(m.Signal.id.in_(listed[lo:lo + CHUNK]))).all()
        pairs.update((sid, (strategy, symbol)) for sid, strategy, symbol in rows)
    return pairs


def after_fills_written(conn: Connection, outcome: Outcome) -> bool:
    """Inserted fills continue their pairs' FIFO where they can; a corrected fill (an update)
    re-derives the pairs of its old and new version."""
    changed, previous = outcome.changed, outcome.previous
    new = changed[changed["id"].isna()]
    corrected = changed[changed["id"].notna()]
    pair_of = _pairs_of(conn, pd.concat([changed["signal_id"], previous["signal_id"]]).dropna())
    again = {pair_of[int(s)] for s in pd.concat([corrected["signal_id"], previous["signal_id"]]).dropna()}
    touched: dict[tuple[int, str], Written] = {}
    if len(new):
        fills = new.assign(pair=[pair_of[int(s)] for s in new["signal_id"]]).sort_values(["filled_at", "execution_id"])
        for pair, group in fills.groupby("pair", sort=False):
            if pair not in again:
                first = group.iloc[0]
                touched[pair] = Written(first["filled_at"].to_pydatetime(), str(first["execution_id"]), len(group))
    if touched:
        derive_after_write(conn, touched)
    if again:
        rederive(conn, again)
    _fill_missing_filled_at(conn, changed["signal_id"].dropna())
    return True


def _fill_missing_filled_at(conn: Connection, signal_ids: pd.Series) -> None:
    listed = sorted({int(s) for s in signal_ids})
    first_fill = (select(m.Execution.filled_at).where(m.Execution.signal_id == m.Signal.id)
                  .order_by(m.Execution.filled_at).limit(1).scalar_subquery())
    for lo in range(0, len(listed), CHUNK):
        conn.execute(update(m.Signal).where(m.Signal.id.in_(listed[lo:lo + CHUNK]), m.Signal.filled_at.is_(None))
                     .values(filled_at=first_fill))


def after_signals_written(conn: Connection, outcome: Outcome) -> bool:
    """A signal whose strategy, symbol or side changed moves its fills: re-derive both pairs."""
    corrected = outcome.changed[outcome.changed["id"].notna()]
    if not len(corrected):
        return False
    before = outcome.previous.set_index("id")
    pairs = set()
    for row in corrected.itertuples(index=False):
        old = before.loc[row.id]
        if (old["strategy_id"], old["symbol"], old["side"]) != (row.strategy_id, row.symbol, row.side):
            pairs |= {(int(old["strategy_id"]), old["symbol"]), (int(row.strategy_id), row.symbol)}
    if not pairs:
        return False
    filled = {sid for (sid,) in conn.execute(select(m.Execution.signal_id).where(
        m.Execution.signal_id.in_([int(i) for i in corrected["id"]])).distinct()).all()}
    if not filled:
        return False
    rederive(conn, pairs)
    return True
