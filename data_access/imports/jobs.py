"""An import's life: received (``receive``), set up (entity, mapping or preset), checked whole
(``check``: every row validated and every reference resolved, nothing written), committed
(``commit``: the ingest path's one transaction, with progress), then possibly undone (undo.py).

Check and commit read the file back from the database and run on a Celery worker
(tasks/imports.py); they take the ingest path's validation, keys and lock as they are.
"""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
import zlib
from pathlib import Path

import orjson
import pandas as pd
from sqlalchemy import Connection, Engine, insert, select, update

from data_access import models as m
from data_access.imports import files, ibkr, mapping
from data_access.imports.progress import Reporter
from data_access.ingest import (ENTITIES, IngestBusy, IngestForbidden, IngestRejected, UnreadableBody, Writer,
                                ingest_all)
from data_access.ingest.parse import Parsed

WRITER_ROLES = ("admin", "ingest", "developer")
ACTIVE = ("checking", "committing", "undoing")
FINISHED = ("committed", "undone", "expired")  # nothing more to check or commit
KEEP_UNCOMMITTED_HOURS = 24  # a file uploaded and never committed is dropped after this


class ImportStateError(ValueError):
    """The import is not in a state that allows what was asked (e.g. committing one with bad rows)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def receive(engine: Engine, user, filename: str, stream: io.BufferedIOBase, path: Path) -> dict:
    """A new import of the file at ``path`` (already on local disk): its first look, its bytes stored,
    the entity and mapping guessed. ``stream`` reads the same file."""
    fmt = files.format_of(filename)
    columns, sample = files.first_look(path, fmt)
    if not columns:
        raise UnreadableBody("the file has no columns: is it empty?")
    preset = ibkr.NAME if ibkr.matches(columns) else None
    entity, guessed = (ibkr.ENTITY, {}) if preset else mapping.detect(columns)
    with engine.begin() as conn:
        expire_uncommitted(conn)
        import_id = conn.execute(insert(m.Import).values(
            user_id=user.id, username=user.username, created_at=_now(), filename=filename[:255], file_format=fmt,
            size_bytes=0,
            columns=columns, sample=sample, entity=entity, preset=preset, mapping=guessed, options={},
            status="uploaded")).inserted_primary_key[0]
        size = files.store(conn, import_id, stream)
        conn.execute(update(m.Import).where(m.Import.id == import_id).values(size_bytes=size))
    return get(engine, import_id)


def expire_uncommitted(conn: Connection) -> int:
    """Files uploaded over KEEP_UNCOMMITTED_HOURS ago and never committed: their bytes dropped, the
    import marked ``expired`` (it stays in the history)."""
    cutoff = _now() - dt.timedelta(hours=KEEP_UNCOMMITTED_HOURS)
    stale = list(conn.execute(select(m.Import.id).where(
        m.Import.created_at < cutoff, m.Import.status.in_(("uploaded", "valid", "invalid", "failed")))).scalars())
    for import_id in stale:
        files.discard(conn, import_id)
    if stale:
        conn.execute(update(m.Import).where(m.Import.id.in_(stale)).values(
            status="expired", message=f"Not committed within {KEEP_UNCOMMITTED_HOURS} hours: the file was dropped."))
    return len(stale)


def get(engine_or_conn, import_id: int) -> dict | None:
    columns = [c for c in m.Import.__table__.c if c.name not in ("problems", "inserted")]
    query = select(*columns).where(m.Import.id == import_id)
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            row = conn.execute(query).mappings().first()
    else:
        row = engine_or_conn.execute(query).mappings().first()
    return dict(row) if row else None


def configure(engine: Engine, import_id: int, entity: str, field_map: dict | None, preset: str | None,
              options: dict | None) -> bool:
    """The user's choice of entity and mapping (or preset); a changed choice needs a new check.
    Returns whether anything changed."""
    if entity not in ENTITIES:
        raise ImportStateError(f"unknown entity {entity!r}")
    chosen = {"entity": entity, "mapping": {f: c for f, c in (field_map or {}).items() if c}, "preset": preset,
              "options": options or {}}
    with engine.begin() as conn:
        current = get(conn, import_id)
        if current is None:
            raise ImportStateError(f"no import {import_id}")
        if all(current[k] == v for k, v in chosen.items()) or current["status"] in ACTIVE + FINISHED:
            if current["status"] in ACTIVE + FINISHED and any(current[k] != v for k, v in chosen.items()):
                raise ImportStateError(f"the import is {current['status']}: it can no longer be changed")
            return False
        conn.execute(update(m.Import).where(m.Import.id == import_id).values(
            **chosen, status="uploaded", counts=None, problems=None, problem_count=None, message=None))
    return True


def mark(engine: Engine, import_id: int, status: str, allowed: tuple[str, ...]) -> None:
    """Move the import to ``status`` if it is in one of ``allowed`` (one click, one job). A file kept
    past KEEP_UNCOMMITTED_HOURS is dropped first (beat drops it hourly too), so it is never checked
    or committed."""
    with engine.begin() as conn:
        if status in ("checking", "committing"):
            expire_uncommitted(conn)
        done = conn.execute(update(m.Import).where(m.Import.id == import_id, m.Import.status.in_(allowed))
                            .values(status=status)).rowcount
    if not done:
        state = (get(engine, import_id) or {}).get("status", "missing")
        raise ImportStateError(f"the import is {state}; this needs it {' or '.join(allowed)}")


def batches(conn: Connection, record: dict, path: Path) -> list[tuple[str, Parsed]]:
    """The file as the ingest batches it makes: one entity through its mapping, or the preset's."""
    parsed = files.read(path, record["file_format"])
    if record["preset"] == ibkr.NAME:
        out, problems = ibkr.batches(conn, parsed, record["options"] or {})
        if problems:
            raise IngestRejected(ibkr.ENTITY, len(parsed.frame), [_whole(p) for p in problems], parsed.line_kind)
        return out
    return [(record["entity"], mapping.apply(parsed, record["mapping"] or {}))]


def preview(conn: Connection, record: dict, rows: int = 10) -> tuple[list[str], list[dict], list[dict]]:
    """The sample's first rows as tradeboard will store them (checked field by field, without the
    database's references): the columns, the rows, and each problem found in them."""
    from data_access.ingest.validate import check

    sample = pd.DataFrame(record["sample"][:rows], columns=record["columns"]).astype(object)
    parsed = Parsed(sample, pd.RangeIndex(2, len(sample) + 2).to_numpy(), [], "line")
    if record["preset"] == ibkr.NAME:
        out, problems = ibkr.batches(conn, parsed, {**(record["options"] or {}), "strategy_name": "?"})
        if problems:
            return [], [], [_whole(p) for p in problems]
        entity, parsed = out[-1]
    else:
        entity, parsed = record["entity"], mapping.apply(parsed, record["mapping"] or {})
    checked = check(parsed, ENTITIES[entity])
    frame = checked.frame.astype(object).where(checked.frame.notna(), None)
    problems = [{"row": p.row + 1 if p.row >= 0 else None, "field": p.field, "message": p.message}
                for p in checked.problems]
    return list(frame.columns), files.records(frame), problems


def _whole(problem) -> dict:
    return {"row": None, "line": None, "field": problem.field, "message": problem.message, "valid": problem.valid}


def _writer(conn: Connection, record: dict) -> Writer:
    row = conn.execute(select(m.User.role, m.User.is_active).where(m.User.id == record["user_id"])).first()
    role = getattr(row.role, "value", row.role) if row else None
    if row is None or not row.is_active or role not in WRITER_ROLES:
        raise IngestForbidden("The user who uploaded this file may no longer write to the book.",
                              {"user": record["username"]})
    return Writer(role, record["user_id"])


def _finish(engine: Engine, import_id: int, **values) -> None:
    with engine.begin() as conn:
        conn.execute(update(m.Import).where(m.Import.id == import_id).values(**values))


def _failure(exc: Exception) -> dict:
    """What an import that could not be checked or committed records, and shows."""
    if isinstance(exc, IngestRejected):
        rows = {p["row"] for p in exc.problems if p["row"] is not None}
        label = f"{len(rows):,} bad row{'' if len(rows) == 1 else 's'}" if rows else "the file has problems"
        return {"status": "invalid", "message": f"{exc.entity}: {label}. Nothing was written.",
                "problem_count": len(exc.problems),
                "problems": zlib.compress(orjson.dumps([{**p, "entity": exc.entity} for p in exc.problems]))}
    if isinstance(exc, (UnreadableBody, FileNotFoundError)):
        return {"status": "invalid", "message": f"The file cannot be read: {exc}", "problem_count": 0}
    if isinstance(exc, IngestForbidden):
        rows = exc.details.get("rows_not_yours")
        more = f" (rows {', '.join(map(str, rows[:10]))}{'...' if len(rows) > 10 else ''})" if rows else ""
        return {"status": "invalid", "message": f"{exc}{more}", "problem_count": 0}
    if isinstance(exc, IngestBusy):
        return {"status": "failed", "message": f"{exc}: nothing was written; try again.", "problem_count": 0}
    return {"status": "failed", "message": f"{type(exc).__name__}: {exc}"[:500]}


def check(engine: Engine, import_id: int, redis=None) -> dict:
    """Every row of the file validated and every reference resolved, in a transaction that is then
    rolled back: the counts it would make, or every bad row. Nothing is written."""
    record = get(engine, import_id)
    if record is None or record["status"] in FINISHED:  # a redelivered task after the work was done
        return {"status": record and record["status"]}
    reporter = Reporter(redis, import_id, "checking", 0)
    try:
        with engine.connect() as conn, files.fetched(conn, import_id, record["filename"]) as path:
            planned = batches(conn, record, path)
            writer = _writer(conn, record)
        rows = len(planned[-1][1].frame)
        reporter.set_phase("checking", rows)
        results = ingest_all(engine, planned, writer, dry_run=True)
    except Exception as exc:  # noqa: BLE001 - every failure is the import's state, shown on the page
        failure = _failure(exc)
        _finish(engine, import_id, checked_at=_now(), counts=None, **failure)
        return {"status": failure["status"]}
    counts = {r.entity: {"inserted": r.inserted, "updated": r.updated, "unchanged": r.unchanged} for r in results}
    _finish(engine, import_id, status="valid", rows=rows, counts=counts, checked_at=_now(), problem_count=0,
            problems=None, message=None)
    reporter.set_phase("checked")
    return {"status": "valid", "counts": counts}


def commit(engine: Engine, import_id: int, redis=None, bump=None) -> dict:
    """The file written, all or nothing, through the ingest path (which checks it again, under its
    lock): the counts per entity, and the rows inserted kept for an undo. ``bump(*families)``
    invalidates the dashboards it changed."""
    record = get(engine, import_id)
    if record is None or record["status"] in FINISHED:  # a redelivered task after the work was done
        return {"status": record and record["status"]}
    started = time.perf_counter()
    try:
        with engine.connect() as conn, files.fetched(conn, import_id, record["filename"]) as path:
            planned = batches(conn, record, path)
            writer = _writer(conn, record)
        reporter = Reporter(redis, import_id, "writing", sum(len(p.frame) for _e, p in planned))

        def recorded(conn: Connection, results) -> None:  # in the rows' own transaction: a crash loses both or neither
            replaced = sum(r.replaced for r in results)
            message = None
            if replaced:
                message = (f"Updated {replaced:,} records that were already stored: their earlier values are not "
                           "kept, so this import cannot be undone.")
            files.discard(conn, import_id)
            conn.execute(update(m.Import).where(m.Import.id == import_id).values(
                status="committed", counts=_counts(results), committed_at=_now(), message=message,
                seconds=round(time.perf_counter() - started, 3), rows=len(planned[-1][1].frame),
                inserted=None if replaced else _pack(results)))

        results = ingest_all(engine, planned, writer, progress=reporter, keep_inserted=True, before_commit=recorded)
    except Exception as exc:  # noqa: BLE001
        failure = _failure(exc)
        _finish(engine, import_id, **failure)
        return {"status": failure["status"]}
    counts = _counts(results)
    families = sorted({f for r in results for f in r.families})
    if bump is not None and families:
        bump(*families)
    reporter.set_phase("done")
    return {"status": "committed", "counts": counts, "families": families}


def _counts(results) -> dict:
    return {r.entity: {"inserted": r.inserted, "updated": r.updated, "unchanged": r.unchanged} for r in results}


def _pack(results) -> bytes:
    """The rows each batch inserted (Parquet per entity) and the signals its fills stamped, zipped."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        order = [r.entity for r in results]
        archive.writestr("order.json", orjson.dumps({"order": order, "stamped": {r.entity: r.stamped for r in results}}))
        for r in results:
            buffer = io.BytesIO()
            r.inserted_rows.reset_index(drop=True).to_parquet(buffer, compression="zstd")
            archive.writestr(f"{r.entity}.parquet", buffer.getvalue())
    return out.getvalue()


def unpack(blob: bytes) -> tuple[list[tuple[str, pd.DataFrame]], dict[str, list[int]]]:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        meta = orjson.loads(archive.read("order.json"))
        frames = [(e, pd.read_parquet(io.BytesIO(archive.read(f"{e}.parquet")))) for e in meta["order"]]
    return frames, meta["stamped"]


def problems(engine: Engine, import_id: int) -> list[dict]:
    with engine.connect() as conn:
        blob = conn.execute(select(m.Import.problems).where(m.Import.id == import_id)).scalar()
    return orjson.loads(zlib.decompress(blob)) if blob else []


def history(engine: Engine, user_id: int | None, limit: int = 200) -> list[dict]:
    """Past imports, newest first: every user's for ``user_id=None`` (an admin), else the user's own."""
    t = m.Import
    query = select(t.id, t.username, t.created_at, t.filename, t.entity, t.preset, t.status, t.rows, t.counts,
                   t.message, t.inserted.is_not(None).label("undoable"), t.committed_at, t.undone_at,
                   t.problem_count).order_by(t.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(t.user_id == user_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
