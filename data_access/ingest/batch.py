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

from data_access import models as m
from data_access.ingest.entities import ENTITIES, Entity, Ref
from data_access.ingest.fields import Problem
from data_access.ingest.lookup import rows_by
from data_access.ingest.parse import Parsed
from data_access.ingest.upsert import classify, write
from data_access.ingest.validate import check

ADVISORY_LOCK = 7_274_681  # pg_advisory_xact_lock key of the ingest lock
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


class IngestForbidden(PermissionError):
    def __init__(self, message: str, details: dict) -> None:
        super().__init__(message)
        self.details = details


def ingest(engine: Engine, entity_name: str, parsed: Parsed, writer: Writer, dry_run: bool = False,
           progress=None) -> IngestResult:
    """Write one batch (see the module docstring); ``progress(n)`` is called as chunks of n rows are written."""
    entity = ENTITIES[entity_name]
    checked = check(parsed, entity)
    received = len(checked.frame)
    with engine.connect() as conn:
        transaction = conn.begin()
        cache = _widen_cache(conn)
        try:
            _lock(conn)
            result = _apply(conn, entity, checked.frame, checked.problems, parsed, writer, None if dry_run else progress)
            result.ignored_columns, result.dry_run = checked.ignored_columns, dry_run
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
        finally:
            _restore_cache(conn, cache)
    result.received = received
    return result


def _widen_cache(conn: Connection) -> int | None:
    """SQLite: the connection's cache size before it is widened for the batch (a per-connection
    setting, nothing about durability)."""
    if conn.dialect.name != "sqlite":
        return None
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    return before


def _restore_cache(conn: Connection, before: int | None) -> None:
    if before is None:
        return
    with contextlib.suppress(Exception):  # a connection that broke mid-batch is discarded anyway
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")
        finally:
            cursor.close()


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":  # any write statement takes the database's write lock until commit
        conn.exec_driver_sql("UPDATE table_versions SET version = version WHERE name = 'ingest'")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})


def _apply(conn: Connection, entity: Entity, frame: pd.DataFrame, problems: list[Problem], parsed: Parsed,
           writer: Writer, progress=None) -> IngestResult:
    ids, found = {}, {}
    for ref in entity.refs:
        ids[ref.field], found[ref.field] = _resolve(conn, ref, frame[ref.field], problems)
    if problems:
        raise IngestRejected(entity.name, len(frame), _numbered(problems, parsed), parsed.line_kind)
    columns = entity.columns(frame, ids)
    rows = pd.DataFrame({name: pd.Series(values, index=frame.index) if not isinstance(values, pd.Series)
                         else values for name, values in columns.items()})
    outcome, stored = classify(conn, entity.table, entity.key, rows)
    if writer.role == m.Role.DEVELOPER.value:
        _check_own(conn, entity, rows, stored, writer)
    write(conn, entity.table, outcome, progress)
    families = set(entity.families) if (outcome.inserted or outcome.updated) else set()
    if len(outcome.changed) and entity.name in ("executions", "signals"):
        from data_access.ingest.after_write import after_fills_written, after_signals_written

        if entity.name == "executions":
            touched = after_fills_written(conn, outcome, found["signal_id"])
        else:
            touched = after_signals_written(conn, outcome)
        if touched:
            families |= {"positions", "trades"}
    return IngestResult(entity.name, len(frame), outcome.inserted, outcome.updated, outcome.unchanged,
                        families=tuple(sorted(families)))


def _resolve(conn: Connection, ref: Ref, names: pd.Series, problems: list[Problem]) -> tuple[np.ndarray, pd.DataFrame]:
    """The row id each name refers to (None where there is no name), and the rows found (the
    column, id and ``ref.carry``); an unknown name is a problem."""
    found = rows_by(conn, ref.table, ref.column, names, ["id", *ref.carry])
    at = pd.Index(found[ref.column]).get_indexer(names) if len(found) else np.full(len(names), -1)
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
    """A developer writes signals and executions of their own strategies only, and moves none
    out of another's."""
    own = set(conn.execute(select(m.Strategy.id).where(m.Strategy.developer_id == writer.id)).scalars())
    if entity.name == "signals":
        strategies = set(rows["strategy_id"].dropna().astype(int)) | set(stored["strategy_id"].dropna().astype(int))
    elif entity.name == "executions":
        signal_ids = set(rows["signal_id"].dropna().astype(int)) | set(stored["signal_id"].dropna().astype(int))
        strategies = set(rows_by(conn, m.Signal.__table__, "id", sorted(signal_ids), ["strategy_id"])["strategy_id"])
    else:
        raise IngestForbidden(f"A developer may not write {entity.name}.", {"entity": entity.name})
    others = strategies - own
    if others:
        names = sorted(conn.execute(select(m.Strategy.name).where(m.Strategy.id.in_(sorted(others)))).scalars())
        raise IngestForbidden("A developer may write signals and executions of their own strategies only.",
                              {"strategies_not_yours": names})
