"""What a write of fills or signals changes beyond its own rows, in the same transaction:
positions and closed trades of the touched (strategy, symbol) pairs (``derive``), and a filled
signal's ``filled_at`` when its sender left it out (its earliest fill's time, so lags count it, kept
the earliest as fills arrive late or are corrected)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Connection, case, false, select, true, update

from data_access import models as m
from data_access.aggregates.signal_days import SIGNAL_COLUMNS, apply_signal_changes, signal_frame_of
from data_access.ingest.derive import Written, derive_after_write, derive_fills, rederive
from data_access.ingest.lookup import rows_by
from data_access.ingest.upsert import CHUNK, Outcome, same_values


def _signals_of(conn: Connection, signal_ids, known: pd.DataFrame | None = None) -> pd.DataFrame:
    """The signals ``signal_ids`` name, indexed by id: strategy_id, symbol, side, filled_at and where
    it came from. Those
    among ``known`` (rows of signals with those columns, read as the batch was resolved) are not read again."""
    columns = ["id", "strategy_id", "symbol", "side", "filled_at", "filled_at_from_fills"]
    ids = pd.unique(pd.Series(signal_ids).dropna().astype(np.int64))
    have = None
    if known is not None and len(known):
        known = known[columns].set_index(pd.Index(known["id"].astype(np.int64)))
        at = known.index.get_indexer(ids)
        have, ids = known.iloc[at[at >= 0]], ids[at < 0]
    found = rows_by(conn, m.Signal.__table__, "id", ids, columns[1:])[columns]
    found = found.set_index(pd.Index(found["id"].astype(np.int64)))
    if have is None:
        return found
    return pd.concat([have, found]) if len(found) else have


def _pairs(signals: pd.DataFrame, signal_ids: pd.Series) -> pd.Series:
    """(strategy_id, symbol) of each of ``signal_ids``."""
    at = signals.index.get_indexer(signal_ids.astype(np.int64))
    strategies, symbols = signals["strategy_id"].to_numpy()[at].tolist(), signals["symbol"].to_numpy()[at].tolist()
    return pd.Series(list(zip(strategies, symbols)),
                     index=signal_ids.index, dtype=object)


def after_fills_written(conn: Connection, outcome: Outcome, referred: pd.DataFrame | None = None) -> bool:
    """Inserted fills continue their pairs' FIFO where they can; a corrected fill (an update)
    re-derives the pairs of its old and new version. Into an empty executions table, the batch's
    fills are all there is: they are derived as they are, without reading them back. ``referred``:
    the signals the batch's rows refer to, as resolved (their strategy, symbol, side, filled_at)."""
    changed, previous = outcome.changed, outcome.previous
    new = changed[changed["id"].isna()]
    corrected = changed[changed["id"].notna()]
    signals = _signals_of(conn, pd.concat([changed["signal_id"], previous["signal_id"]]), referred)
    if outcome.table_was_empty:
        _derive_all(conn, new, signals)
    else:
        again = set(_pairs(signals, pd.concat([corrected["signal_id"], previous["signal_id"]]).dropna()))
        touched: dict[tuple[int, str], Written] = {}
        if len(new):
            fills = new.assign(pair=_pairs(signals, new["signal_id"])).sort_values(["filled_at", "execution_id"])
            firsts = fills[~fills["pair"].duplicated()]
            counts = fills["pair"].value_counts()
            for pair, filled_at, execution_id in zip(firsts["pair"], firsts["filled_at"], firsts["execution_id"]):
                if pair not in again:
                    touched[pair] = Written(filled_at.to_pydatetime(), str(execution_id), int(counts[pair]))
        if touched:
            derive_after_write(conn, touched)
        if again:
            rederive(conn, again)
    stamp_first_fills(conn, signals.index[stamped_by_fills(signals)])
    return True


def _derive_all(conn: Connection, fills: pd.DataFrame, signals: pd.DataFrame) -> None:
    at = signals.index.get_indexer(fills["signal_id"].astype(np.int64))
    # pairs numbered through integer keys: a MultiIndex's factorize builds a million tuples
    symbol_code, symbols = pd.factorize(signals["symbol"].to_numpy()[at])
    strategy = signals["strategy_id"].to_numpy()[at].astype(np.int64)
    keys, codes = np.unique(strategy * len(symbols) + symbol_code, return_inverse=True)
    pairs = [(int(k // len(symbols)), str(symbols[k % len(symbols)])) for k in keys.tolist()]
    sign = np.where(signals["side"].to_numpy()[at] == m.Side.BUY.value, 1.0, -1.0)
    derive_fills(conn, pairs, codes,
                 fills["filled_at"].to_numpy(dtype="datetime64[us]").astype(np.int64),
                 fills["execution_id"].to_numpy(dtype=object), sign * fills["quantity"].to_numpy(dtype=float),
                 fills["price"].to_numpy(dtype=float), fills["commission"].to_numpy(dtype=float))


def stamped_by_fills(signals: pd.DataFrame) -> np.ndarray:
    """Which of ``signals`` (filled_at, filled_at_from_fills) take their fill time from their fills."""
    from_fills = signals["filled_at_from_fills"].fillna(False).astype(bool).to_numpy()
    return signals["filled_at"].isna().to_numpy() | from_fills


def _times(values: pd.Series) -> pd.Series:
    """Stored times (SQLite's text, PostgreSQL's datetimes) as datetime64, on a fresh index."""
    stamps = pd.to_datetime(values, format="ISO8601") if values.dtype == object else pd.to_datetime(values)
    return stamps.reset_index(drop=True)


def stamp_first_fills(conn: Connection, signal_ids) -> None:
    """Each signal whose sender left its fill time out takes its earliest fill's (none without a
    fill); a change of it moves its lag in its day's sketch. A time the sender sent stays."""
    listed = sorted(int(s) for s in signal_ids)
    first_fill = (select(m.Execution.filled_at).where(m.Execution.signal_id == m.Signal.id)
                  .order_by(m.Execution.filled_at).limit(1).scalar_subquery())
    columns = SIGNAL_COLUMNS
    for lo in range(0, len(listed), CHUNK):
        part = listed[lo:lo + CHUNK]
        stampable = m.Signal.id.in_(part) & (m.Signal.filled_at.is_(None) | m.Signal.filled_at_from_fills.is_(True))
        before = rows_by(conn, m.Signal.__table__, "id", pd.Series(part), [*columns, "filled_at_from_fills"])
        before = before[before["id"].isin(part)]  # rows_by may read more
        before = before[stamped_by_fills(before)]
        if not len(before):
            continue
        # without a fill left (an import's fills undone) the signal is back to unfilled, as it was sent
        conn.execute(update(m.Signal).where(stampable).values(
            filled_at=first_fill, filled_at_from_fills=case((first_fill.is_not(None), true()), else_=false())))
        after = rows_by(conn, m.Signal.__table__, "id", before["id"], columns)
        after = after[after["id"].isin(before["id"])].set_index("id").loc[before["id"]].reset_index()
        moved = ~same_values(_times(after["filled_at"]), _times(before["filled_at"]))
        if moved.any():
            apply_signal_changes(conn, signal_frame_of(after[moved]), signal_frame_of(before.reset_index(drop=True)[moved]))


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


def after_strategies_written(conn: Connection, outcome: Outcome) -> bool:
    """Positions and closed trades carry their strategy's account (a client's scope filters on it):
    a strategy moved to another account takes them along."""
    moved = outcome.changed[outcome.changed["id"].notna()].merge(
        outcome.previous[["id", "account_id"]], on="id", suffixes=("", "_before"))
    moved = moved[~same_values(moved["account_id"], moved["account_id_before"])]
    for strategy_id, account_id in zip(moved["id"].astype(int), moved["account_id"]):
        account = None if pd.isna(account_id) else int(account_id)
        for model in (m.Position, m.ClosedTrade):
            conn.execute(update(model).where(model.strategy_id == strategy_id).values(account_id=account))
    return bool(len(moved))

