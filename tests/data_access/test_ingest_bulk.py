"""The bulk paths of the writer (references through a temporary table or a whole-table read, an
empty table not read, its indexes (and PostgreSQL's foreign keys) made again after the rows, fills into an empty executions table
derived without reading them back) end in the same book as the small-batch paths, and stay all or
nothing and idempotent (SQLite; PostgreSQL when configured)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from data_access import migrate
from data_access.db import make_engine
from data_access.ingest import IngestRejected, Writer, ingest, lookup, rebuild
from data_access.ingest.derive import rederive
from data_access.ingest.parse import Parsed
from tests.conftest import migrated

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import ingest_book  # noqa: E402

ROWS = 3_000


def _parsed(frame) -> Parsed:
    return Parsed(frame.reset_index(drop=True), np.arange(1, len(frame) + 1))


def _book(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {table: [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in conn.execute(text(
            f"SELECT strategy_id, symbol, {columns} FROM {table} ORDER BY strategy_id, symbol, {order}")).all()]
            for table, columns, order in (
                ("positions", "quantity, entry_price", "quantity"),
                ("closed_trades", "quantity, entry_price, exit_price, realized_pnl, commission",
                 "opened_at, closed_at, quantity, entry_price, exit_price"))}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path, monkeypatch):
    if request.param == "sqlite":
        url = migrated(f"sqlite:///{tmp_path / 'bulk.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        migrate.upgrade(url)
    engine = make_engine(url)
    for entity, frame in (("accounts", ingest_book.accounts_frame()), ("strategies", ingest_book.strategies_frame())):
        ingest(engine, entity, _parsed(frame.astype(object)), Writer("admin"))
    monkeypatch.setattr(lookup, "IN_MAX", 100)  # this small book takes the paths of a backfill
    monkeypatch.setattr(rebuild, "SQLITE_MIN_ROWS", 100)  # and its indexes (PostgreSQL: foreign keys) built after
    monkeypatch.setattr(rebuild, "PG_MIN_ROWS", 100)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("scan_share", [0.25, 1e9], ids=["whole-table", "temporary-table"])
def test_a_backfill_derives_what_a_rederivation_does_and_imports_again_unchanged(engine, monkeypatch, scan_share):
    monkeypatch.setattr(lookup, "SCAN_SHARE", scan_share)
    signals, executions = ingest_book.book(ROWS, "t_")
    first, later = executions.iloc[: ROWS // 2], executions.iloc[ROWS // 2:]
    assert ingest(engine, "signals", _parsed(signals), Writer("admin")).inserted == ROWS
    assert ingest(engine, "executions", _parsed(first), Writer("admin")).inserted == len(first)  # into an empty table
    assert ingest(engine, "executions", _parsed(later), Writer("admin")).inserted == len(later)  # appended
    derived = _book(engine)
    with engine.begin() as conn:
        pairs = conn.execute(text("SELECT DISTINCT strategy_id, symbol FROM signals")).all()
        rederive(conn, [tuple(p) for p in pairs])
    assert _book(engine) == derived
    assert len(derived["closed_trades"]) > 0 and len(derived["positions"]) > 0
    for entity, frame in (("signals", signals), ("executions", executions)):
        result = ingest(engine, entity, _parsed(frame), Writer("admin"))
        assert (result.inserted, result.updated, result.unchanged) == (0, 0, len(frame))


def test_a_backfill_with_unknown_signals_writes_nothing_and_names_each(engine):
    signals, executions = ingest_book.book(ROWS, "u_")
    ingest(engine, "signals", _parsed(signals.iloc[:-300]), Writer("admin"))
    missing = set(signals["signal_id"].iloc[-300:])
    with pytest.raises(IngestRejected) as rejected:
        ingest(engine, "executions", _parsed(executions), Writer("admin"))
    named = [p for p in rejected.value.problems if p["field"] == "signal_id"]
    assert len(named) == executions["signal_id"].isin(missing).sum() > 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM executions")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM closed_trades")).scalar() == 0


def _schema(engine) -> list[tuple]:
    """Every index and foreign key of the tables a backfill writes."""
    tables = ("signals", "executions", "closed_trades", "positions")
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            return sorted(conn.execute(text(f"SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'index' "
                                            f"AND tbl_name IN {tables}")).all())
        return sorted(conn.execute(text(
            f"SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename IN {tables} UNION ALL "
            f"SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            f"WHERE contype = 'f' AND conrelid::regclass::text IN {tables}")).all())


def test_a_backfill_into_empty_tables_leaves_every_index_and_foreign_key_as_it_was(engine):
    before = _schema(engine)
    signals, executions = ingest_book.book(ROWS, "k_")
    assert ingest(engine, "signals", _parsed(signals), Writer("admin"), dry_run=True).inserted == ROWS  # rolled back
    assert _schema(engine) == before
    ingest(engine, "signals", _parsed(signals), Writer("admin"))
    ingest(engine, "executions", _parsed(executions), Writer("admin"))
    assert _schema(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM closed_trades")).scalar() > 0
