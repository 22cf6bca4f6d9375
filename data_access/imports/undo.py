"""Undo an import that only inserted rows: remove exactly those rows, in one transaction under the
ingest lock, and re-derive what followed from them (positions and closed trades from fills, the
signal rollups, a signal's fill time stamped by its first fill).

Refused, with the reason, when a row the import inserted has been changed since (undo would lose
that change) or another row now refers to one of them (a fill sent later for an imported signal).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, select, update

from data_access import models as m
from data_access.aggregates.signal_days import SIGNAL_COLUMNS, apply_signal_changes, signal_frame_of
from data_access.imports.jobs import ImportStateError, get, mark, unpack
from data_access.ingest.batch import lock_ingest
from data_access.ingest.derive import rederive
from data_access.ingest.entities import ENTITIES
from data_access.ingest.lookup import rows_by
from data_access.ingest.upsert import CHUNK, fetch_by_key, same_values

# what refers to the rows of each entity (table, column)
REFERRERS = {
    "accounts": ((m.AccountSnapshot, "account_id", "account snapshots"), (m.Strategy, "account_id", "strategies")),
    "strategies": ((m.Signal, "strategy_id", "signals"),),
    "signals": ((m.Execution, "signal_id", "executions"),),
    "paper-accounts": ((m.PaperTrade, "paper_account_id", "paper trades"),
                       (m.PaperSignal, "paper_account_id", "paper signals")),
    "paper-trades": ((m.PaperSignal, "paper_trade_id", "paper signals"),),
}
FAMILIES = {"signals": ("signals",), "executions": ("signals", "positions", "trades")}


class UndoRefused(ValueError):
    pass


def undo(engine: Engine, import_id: int, bump=None) -> dict:
    """Remove what the import inserted; its status becomes ``undone`` (or back to ``committed``
    with the reason it could not be undone)."""
    record = get(engine, import_id)
    if record is None:
        raise ImportStateError(f"no import {import_id}")
    with engine.connect() as conn:
        blob = conn.execute(select(m.Import.inserted).where(m.Import.id == import_id)).scalar()
    if blob is None:
        raise ImportStateError(record["message"] or "this import kept no record of its rows: it cannot be undone")
    # "undoing" too: a task redelivered after its worker died mid-way (the removal rolled back with it)
    mark(engine, import_id, "undoing", ("committed", "undoing"))
    frames, stamped = unpack(blob)
    families: set[str] = set()
    removed: dict[str, int] = {}
    undoing = (m.Import.id == import_id) & (m.Import.status == "undoing")
    try:
        with engine.connect() as conn:
            with conn.begin():
                lock_ingest(conn)
                if conn.execute(select(m.Import.status).where(m.Import.id == import_id)).scalar() == "undone":
                    return {"status": "undone", "removed": {}}  # a second delivery, after the first finished
                for entity, rows in reversed(frames):  # fills before the signals they name
                    removed[entity] = _remove(conn, entity, rows, stamped.get(entity, []))
                    families |= set(FAMILIES.get(entity, ENTITIES[entity].families))
                conn.execute(update(m.Import).where(m.Import.id == import_id).values(
                    status="undone", undone_at=dt.datetime.now(dt.UTC).replace(tzinfo=None), inserted=None))
    except UndoRefused as exc:
        with engine.begin() as conn:
            conn.execute(update(m.Import).where(undoing).values(status="committed", message=str(exc)))
        raise
    except BaseException:
        with engine.begin() as conn:
            conn.execute(update(m.Import).where(undoing).values(status="committed"))
        raise
    if bump is not None and families:
        bump(*sorted(families))
    return {"status": "undone", "removed": removed}


def _remove(conn: Connection, entity_name: str, rows: pd.DataFrame, stamped: list[int]) -> int:
    entity = ENTITIES[entity_name]
    table = entity.table
    columns = [c for c in rows.columns if c not in entity.key]
    if not len(rows):
        return 0
    stored = fetch_by_key(conn, table, entity.key, rows, columns)
    merged = rows.merge(stored, on=list(entity.key), how="left", suffixes=("", "_now"))
    gone = merged["id"].isna().to_numpy()
    changed = np.zeros(len(merged), dtype=bool)
    for name in columns:
        changed |= ~same_values(merged[name], merged[f"{name}_now"])
    changed &= ~gone
    ids = [int(i) for i in merged["id"].dropna()]
    for model, column, what in REFERRERS.get(entity_name, ()):
        referring = sum(conn.execute(select(func.count()).select_from(model)
                                     .where(getattr(model, column).in_(ids[lo:lo + CHUNK]))).scalar()
                        for lo in range(0, len(ids), CHUNK))
        if referring:
            raise UndoRefused(f"{referring:,} {what} written after this import refer to its {entity_name}: "
                              f"undo the import that added them first")
    if changed.any() or gone.any():
        example = merged.loc[changed | gone, list(entity.key)].iloc[0].tolist()
        raise UndoRefused(f"{int(changed.sum() + gone.sum()):,} of the {len(rows):,} {entity_name} this import added "
                          f"were changed or removed since (first: {', '.join(map(str, example))}): undo would lose "
                          "those changes")
    ids = [int(i) for i in merged["id"]]
    pairs = _pairs_of_fills(conn, ids) if entity_name == "executions" else set()
    before = _signals(conn, ids) if entity_name == "signals" else None
    for lo in range(0, len(ids), CHUNK):
        conn.execute(delete(table).where(table.c.id.in_(ids[lo:lo + CHUNK])))
    if before is not None:
        apply_signal_changes(conn, signal_frame_of(before.iloc[:0]), signal_frame_of(before))
    if pairs:
        rederive(conn, pairs)
    if stamped:
        _unstamp(conn, stamped)
    return len(ids)


def _signals(conn: Connection, ids: list[int]) -> pd.DataFrame:
    """The signals ``ids`` as stored: id and the columns their rollups are counted from."""
    found = rows_by(conn, m.Signal.__table__, "id", pd.Series(ids), SIGNAL_COLUMNS)
    return found[found["id"].isin(ids)]  # rows_by may read more


def _pairs_of_fills(conn: Connection, ids: list[int]) -> set[tuple[int, str]]:
    e, s = m.Execution, m.Signal
    pairs = set()
    for lo in range(0, len(ids), CHUNK):
        pairs |= {(int(a), b) for a, b in conn.execute(select(s.strategy_id, s.symbol).join(e, e.signal_id == s.id)
                                                       .where(e.id.in_(ids[lo:lo + CHUNK])).distinct())}
    return pairs


def _unstamp(conn: Connection, signal_ids: list[int]) -> None:
    """Signals whose fill time the import's fills set take it from their remaining fills, or none."""
    from data_access.ingest.after_write import stamp_first_fills

    stamp_first_fills(conn, signal_ids)
