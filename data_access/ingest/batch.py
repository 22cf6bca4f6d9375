"""One batch in, all or nothing: check it, resolve its references, upsert it, re-derive what it
changes (positions and closed trades from fills), in one transaction that holds the ingest lock.

The lock serialises ingest batches (SQLite: the database's write lock, taken first; PostgreSQL: a
transaction-scoped advisory lock), so concurrent senders of overlapping rows end with one record
per key and exact counts. Cache families are bumped by the caller, after the commit.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import OperationalError

from data_access import models as m
from data_access.aggregates.signal_days import apply_signal_changes, signal_frame_of
from data_access.db import sqlite_lock_wait
from data_access.ingest.entities import DEVELOPER_ENTITIES, ENTITIES, Entity, Ref
from data_access.ingest.fields import Problem
from data_access.ingest.keys import positions
from data_access.ingest.lookup import rows_by
from data_access.ingest.parse import Parsed
from data_access.ingest.upsert import Outcome, classify, write
from data_access.ingest.validate import check

ADVISORY_LOCK = 7_274_681  # pg_advisory_xact_lock key of the ingest lock
LOCK_WAIT_SECONDS = 30
# SQLite's page cache for a batch, KiB: large indexes grow and sort in memory (1M closed trades
# into two indexes: 12 s with the default 2 MB, under 5 s so); given back after the batch
SQLITE_CACHE_KIB = 512 * 1024


@dataclass
class Writer:
    """Who writes: ``role`` and user ``id`` (a developer may write only their own strategies' rows)."""

    role: str
    id: int | None = None


@dataclass
class IngestResult:
    entity: str
    received: int
    inserted: int
    updated: int
    unchanged: int
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    families: tuple[str, ...] = ()
    inserted_rows: pd.DataFrame | None = None  # with keep_inserted: the rows inserted, as table columns
    replaced: int = 0  # stored records the batch changed (rows of one batch that repeat a new key are not)
    stamped: list[int] = field(default_factory=list)  # with keep_inserted: signals whose filled_at the fills set

    def to_dict(self) -> dict:
        return {"entity": self.entity, "received": self.received, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "ignored_columns": self.ignored_columns, "dry_run": self.dry_run}


class IngestRejected(ValueError):
    """Bad rows: nothing was written. ``problems`` lists each bad field of each row."""

    def __init__(self, entity: str, received: int, problems: list[dict], line_kind: str) -> None:
        rows = {p["row"] for p in problems if p["row"] is not None}
        super().__init__(f"{len(rows) or 'the batch has'} {'bad rows' if rows else 'problems'}"
                         f"{f' of {received}' if rows else ''}: nothing was written")
        self.entity, self.received, self.problems, self.line_kind = entity, received, problems, line_kind


class IngestBusy(RuntimeError):
    """Another batch holds the ingest lock (a long backfill): nothing was written; try again later."""


class IngestForbidden(PermissionError):
    def __init__(self, message: str, details: dict) -> None:
        super().__init__(message)
        self.details = details


def ingest(engine: Engine, entity_name: str, parsed: Parsed, writer: Writer, dry_run: bool = False,
           progress=None) -> IngestResult:
    """Write one batch (see the module docstring); ``progress(n)`` is called as chunks of n rows are written."""
    return ingest_all(engine, [(entity_name, parsed)], writer, dry_run, progress)[0]


def ingest_all(engine: Engine, batches: list[tuple[str, Parsed]], writer: Writer, dry_run: bool = False,
               progress=None, keep_inserted: bool = False, before_commit=None) -> list[IngestResult]:
    """Write batches of several entities in order, in one transaction: all of them or none (a later
    batch may name rows an earlier one adds). A dry run writes only the batches a later one refers
    to, and rolls them back; one batch alone is compared with what is stored without the ingest
    lock, so checking a large file holds up no sender. ``keep_inserted``: each result keeps the rows
    it inserted (``inserted_rows``, table columns), so they can be taken out again.
    ``before_commit(conn, results)``: what else the same transaction writes (an import's record)."""
    checked = [(ENTITIES[name], check(parsed, ENTITIES[name]), parsed) for name, parsed in batches]
    results = []
    with engine.connect() as conn:
        cache = _widen_cache(conn)
        transaction = conn.begin()
        try:
            if not dry_run or len(checked) > 1:
                lock_ingest(conn)
            for at, (entity, one, parsed) in enumerate(checked):
                # a dry run writes only what a later batch refers to: the counts come from comparing
                # each row with what is stored, before any write
                last = at == len(checked) - 1
                result = _apply(conn, entity, one.frame, one.problems, parsed, writer,
                                None if dry_run else progress, keep_inserted, write_rows=not (dry_run and last))
                result.ignored_columns, result.dry_run = one.ignored_columns, dry_run
                results.append(result)
            if dry_run:
                transaction.rollback()
            else:
                if before_commit is not None:
                    before_commit(conn, results)
                transaction.commit()
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
        finally:
            _restore_cache(conn, cache)
    return results


def _widen_cache(conn: Connection) -> int | None:
    """SQLite: the connection's cache size before it is widened for the batch (a per-connection
    setting, nothing about durability), and its foreign keys off for the batch, outside any
    transaction, where that PRAGMA takes effect. The batch resolves every reference itself, under
    the write lock, before it writes; SQLite's own check of each inserted row against its parent
    (a B-tree probe per row, a quarter of an executions insert) would only repeat it."""
    if conn.dialect.name != "sqlite":
        return None
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
    conn.commit()
    return before


def _restore_cache(conn: Connection, before: int | None) -> None:
    if before is None:
        return
    try:
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()
    except Exception:  # a broken connection: never back in the pool with foreign keys off
        with contextlib.suppress(Exception):
            conn.invalidate()


def lock_ingest(conn: Connection) -> None:
    """Take the ingest lock, waiting up to LOCK_WAIT_SECONDS for a batch that holds it (IngestBusy then)."""
    try:
        if conn.dialect.name == "sqlite":  # any write statement takes the database's write lock until commit
            with sqlite_lock_wait(conn, LOCK_WAIT_SECONDS):
                conn.exec_driver_sql("UPDATE table_versions SET version = version WHERE name = 'ingest'")
        elif conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'")
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
            conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
    except OperationalError as exc:  # SQLite: "database is locked"; PostgreSQL: lock_timeout
        raise IngestBusy(f"another batch has held the ingest lock for over {LOCK_WAIT_SECONDS} s") from exc


def _apply(conn: Connection, entity: Entity, frame: pd.DataFrame, problems: list[Problem], parsed: Parsed,
           writer: Writer, progress=None, keep_inserted: bool = False, write_rows: bool = True) -> IngestResult:
    ids, found = {}, {}
    for ref in entity.refs:
        ids[ref.field], found[ref.field] = _resolve(conn, ref, frame[ref.field], problems)
    if problems:
        raise IngestRejected(entity.name, len(frame), _numbered(problems, parsed), parsed.line_kind)
    columns = entity.columns(frame, ids)
    rows = pd.DataFrame({name: pd.Series(values, index=frame.index) if not isinstance(values, pd.Series)
                         else values for name, values in columns.items()})
    outcome, stored = classify(conn, entity.table, entity.key, rows, entity.complete)
    if writer.role == m.Role.DEVELOPER.value:
        _check_own(conn, entity, rows, stored, writer)
    if not write_rows:
        return IngestResult(entity.name, len(frame), outcome.inserted, outcome.updated, outcome.unchanged)
    write(conn, entity.table, outcome, progress)
    if entity.name == "signals" and len(outcome.changed):
        _count_signals(conn, outcome)
    families = set(entity.families) if len(outcome.changed) else set()  # rows that ended as stored bump nothing
    if len(outcome.changed) and entity.name in ("executions", "signals", "strategies"):
        from data_access.ingest.after_write import (after_fills_written, after_signals_written,
                                                    after_strategies_written, stamped_by_fills)

        if entity.name == "executions":
            touched = after_fills_written(conn, outcome, found["signal_id"])
        elif entity.name == "signals":
            touched = after_signals_written(conn, outcome)
        else:
            touched = after_strategies_written(conn, outcome)
        if touched:
            families |= {"positions", "trades"}
    inserted_rows = outcome.changed[outcome.changed["id"].isna()].drop(columns="id") if keep_inserted else None
    stamped = []
    if keep_inserted and entity.name == "executions" and len(outcome.changed):
        referred = found["signal_id"]  # as resolved, before the write: the fill times the batch's fills may set
        stamped = sorted(int(i) for i in referred.loc[stamped_by_fills(referred), "id"])
    return IngestResult(entity.name, len(frame), outcome.inserted, outcome.updated, outcome.unchanged,
                        families=tuple(sorted(families)), inserted_rows=inserted_rows,
                        replaced=len(outcome.previous), stamped=stamped)


def _count_signals(conn: Connection, outcome: Outcome) -> None:
    """The signal rollups follow the write: the rows written added, the rows they replaced taken away."""
    apply_signal_changes(conn, signal_frame_of(outcome.changed),
                         signal_frame_of(outcome.previous) if len(outcome.previous) else None)


def _resolve(conn: Connection, ref: Ref, names: pd.Series, problems: list[Problem]) -> tuple[np.ndarray, pd.DataFrame]:
    """The row id each name refers to (None where there is no name), and the rows found (the
    column, id and ``ref.carry``); an unknown name is a problem."""
    found = rows_by(conn, ref.table, ref.column, names, ["id", *ref.carry])
    at = positions(names, found[ref.column]) if len(found) else np.full(len(names), -1)
    unknown = names.notna().to_numpy() & (at < 0)
    problems.extend(Problem(int(r), ref.field, f"unknown {ref.what} {names.iat[r]!r}: send it first", ref.where)
                    for r in np.flatnonzero(unknown))
    ids = found["id"].to_numpy(dtype=np.int64)[np.maximum(at, 0)] if len(found) else np.zeros(len(names), np.int64)
    if (at >= 0).all():
        return ids, found
    out = ids.astype(object)
    out[at < 0] = None
    return out, found


def _numbered(problems: list[Problem], parsed: Parsed) -> list[dict]:
    out = []
    for p in sorted(problems, key=lambda p: (p.row, p.field)):
        line = int(parsed.lines[p.row]) if 0 <= p.row < len(parsed.lines) else None
        out.append({"row": p.row + 1 if p.row >= 0 else None, "line": line, "field": p.field or None,
                    "message": p.message, "valid": p.valid})
    return out


def _check_own(conn: Connection, entity: Entity, rows: pd.DataFrame, stored: pd.DataFrame, writer: Writer) -> None:
    """A developer writes signals and executions of their own strategies only, and moves none out of
    another's. The refusal names the batch's rows, not the strategies, which another developer's may be."""
    if entity.name not in DEVELOPER_ENTITIES:
        raise IngestForbidden(f"A developer may not write {entity.name}.", {"entity": entity.name})
    own = set(conn.execute(select(m.Strategy.id).where(m.Strategy.developer_id == writer.id)).scalars())
    key = entity.key[0]
    before = rows[[key]].merge(stored, on=key, how="left", suffixes=("", "_stored"))
    if entity.name == "signals":
        new, old = rows["strategy_id"], before["strategy_id"]
    else:
        ids = pd.concat([rows["signal_id"], before["signal_id"]]).dropna().astype(int)
        owner = rows_by(conn, m.Signal.__table__, "id", sorted(set(ids)), ["strategy_id"]).set_index("id")["strategy_id"]
        new, old = rows["signal_id"].map(owner), before["signal_id"].map(owner)
    theirs = (~new.isin(own)).to_numpy() | (old.notna() & ~old.isin(own)).to_numpy()
    if theirs.any():
        raise IngestForbidden("A developer may write signals and executions of their own strategies only.",
                              {"rows_not_yours": [int(r) + 1 for r in np.flatnonzero(theirs)][:1000]})
