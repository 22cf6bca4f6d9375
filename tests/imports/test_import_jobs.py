"""An import's life on the database: detected, checked whole, committed, undone."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from data_access import models as m
from data_access.imports import jobs, undo
from tests.imports.conftest import upload

SIGNALS = (b"signal_id,strategy_name,symbol,side,quantity,received_time,execution_status\n"
           b"s1,Alpha,AAPL,BUY,10,2026-12-01T14:30:00Z,FILLED\n"
           b"s2,Alpha,MSFT,SELL,5,2026-12-01T15:00:00Z,PENDING\n"
           b"s3,Beta,AAPL,BUY,7,2026-12-02T15:00:00Z,REJECTED\n")


def count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar()


def test_a_clean_signals_file_is_detected_checked_committed_and_undone(engine, tmp_path):
    record = upload(engine, tmp_path, "signals.csv", SIGNALS)
    assert record["entity"] == "signals" and record["status"] == "uploaded"
    assert record["mapping"]["received_time"] == "received_time"
    assert jobs.check(engine, record["id"]) == {"status": "valid", "counts": {
        "signals": {"inserted": 3, "updated": 0, "unchanged": 0}}}
    assert count(engine, m.Signal) == 0, "a check writes nothing"
    assert jobs.commit(engine, record["id"])["status"] == "committed"
    assert count(engine, m.Signal) == 3
    assert count(engine, m.ImportChunk) == 0, "the file's bytes go once it is committed"
    assert undo.undo(engine, record["id"])["removed"] == {"signals": 3}
    assert count(engine, m.Signal) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.coalesce(func.sum(m.SignalDay.signals), 0))).scalar() == 0
    assert jobs.get(engine, record["id"])["status"] == "undone"


def test_an_undo_redelivered_after_its_worker_died_finishes_and_a_second_delivery_changes_nothing(engine, tmp_path):
    record = upload(engine, tmp_path, "signals.csv", SIGNALS)
    jobs.check(engine, record["id"])
    jobs.commit(engine, record["id"])
    jobs.mark(engine, record["id"], "undoing", ("committed",))  # the first delivery got this far, then its worker died
    assert undo.undo(engine, record["id"])["removed"] == {"signals": 3}
    assert jobs.get(engine, record["id"])["status"] == "undone" and count(engine, m.Signal) == 0
    with pytest.raises(jobs.ImportStateError):
        undo.undo(engine, record["id"])  # nothing left to undo
    assert jobs.get(engine, record["id"])["status"] == "undone"


def test_a_commit_that_fails_before_its_record_is_written_leaves_neither_rows_nor_a_committed_import(
        engine, tmp_path, monkeypatch):
    record = upload(engine, tmp_path, "signals.csv", SIGNALS)
    jobs.check(engine, record["id"])

    def broken_pack(results):
        raise OSError("disk full")

    monkeypatch.setattr(jobs, "_pack", broken_pack)
    assert jobs.commit(engine, record["id"])["status"] != "committed"
    assert count(engine, m.Signal) == 0, "the rows went back with the import's record"
    monkeypatch.undo()
    assert jobs.get(engine, record["id"])["status"] != "committed"


def test_a_bad_row_is_reported_by_its_line_and_nothing_is_written(engine, tmp_path):
    bad = SIGNALS.replace(b"s2,Alpha,MSFT,SELL,5", b"s2,Alpha,MSFT,SELL,-5").replace(b"Beta,AAPL,BUY", b"Gamma,AAPL,BUY")
    record = upload(engine, tmp_path, "signals.csv", bad)
    jobs.check(engine, record["id"])
    assert jobs.get(engine, record["id"])["status"] == "invalid"
    problems = jobs.problems(engine, record["id"])
    assert {(p["line"], p["field"]) for p in problems} == {(3, "quantity"), (4, "strategy_name")}
    assert count(engine, m.Signal) == 0


def test_other_column_names_go_in_through_a_mapping(engine, tmp_path):
    data = (b"Ref,Strat,Ticker,Direction,Qty,Time,State\n"
            b"x1,Alpha,AAPL,BUY,10,2026-12-01T14:30:00Z,FILLED\n")
    record = upload(engine, tmp_path, "mine.csv", data)
    assert record["entity"] == "signals"
    assert record["mapping"] == {"signal_id": "Ref", "strategy_name": "Strat", "symbol": "Ticker", "side": "Direction",
                                 "quantity": "Qty", "received_time": "Time", "execution_status": "State"}
    jobs.configure(engine, record["id"], "signals", {**record["mapping"], "side": None}, None, None)
    jobs.check(engine, record["id"])
    assert jobs.get(engine, record["id"])["status"] == "invalid", "a required field left unmapped is a problem"
    jobs.configure(engine, record["id"], "signals", record["mapping"], None, None)
    jobs.check(engine, record["id"])
    assert jobs.commit(engine, record["id"])["counts"] == {"signals": {"inserted": 1, "updated": 0, "unchanged": 0}}


def test_an_import_that_updated_records_cannot_be_undone_and_says_why(engine, tmp_path):
    first = upload(engine, tmp_path, "a.csv", SIGNALS)
    jobs.check(engine, first["id"])
    jobs.commit(engine, first["id"])
    second = upload(engine, tmp_path, "b.csv", SIGNALS.replace(b"MSFT,SELL,5,2026-12-01T15:00:00Z,PENDING",
                                                                   b"MSFT,SELL,5,2026-12-01T15:00:00Z,CANCELLED"))
    jobs.check(engine, second["id"])
    jobs.commit(engine, second["id"])
    record = jobs.get(engine, second["id"])
    assert record["counts"]["signals"] == {"inserted": 0, "updated": 1, "unchanged": 2}
    assert "cannot be undone" in record["message"]
    with pytest.raises(jobs.ImportStateError, match="cannot be undone"):
        undo.undo(engine, second["id"])
    with pytest.raises(undo.UndoRefused, match="changed or removed since"):
        undo.undo(engine, first["id"])
    assert count(engine, m.Signal) == 3


def test_undoing_fills_rederives_positions_and_trades_and_is_refused_while_later_fills_name_its_signals(engine, tmp_path):
    signals = upload(engine, tmp_path, "s.csv", SIGNALS.replace(b"MSFT,SELL,5", b"AAPL,SELL,5"))
    jobs.check(engine, signals["id"])
    jobs.commit(engine, signals["id"])
    fills = upload(engine, tmp_path, "e.csv", b"execution_id,signal_id,filled_at,avg_fill_price,filled_quantity\n"
                   b"e1,s1,2026-12-01T14:30:01Z,100,10\ne2,s2,2026-12-01T15:00:01Z,110,5\n")
    assert fills["entity"] == "executions"
    jobs.check(engine, fills["id"])
    jobs.commit(engine, fills["id"])
    assert count(engine, m.ClosedTrade) == 1 and count(engine, m.Position) == 1
    with pytest.raises(undo.UndoRefused, match="executions written after this import"):
        undo.undo(engine, signals["id"])
    undo.undo(engine, fills["id"])
    assert count(engine, m.ClosedTrade) == 0 and count(engine, m.Position) == 0
    assert count(engine, m.Execution) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.TradeDay).where(m.TradeDay.trades > 0)).scalar() == 0
        stamped = conn.execute(select(m.Signal.filled_at).where(m.Signal.signal_id == "s2")).scalar()
    assert stamped is None, "the fill time the import's fill stamped goes with it"
    undo.undo(engine, signals["id"])
    assert count(engine, m.Signal) == 0


def test_a_saved_preset_is_replaced_only_by_whoever_saved_it_or_an_admin(engine):
    from data_access.imports import presets

    mapping = {"signal_id": "Ref", "strategy_name": "Strat"}
    with engine.begin() as conn:
        presets.save(conn, "Broker fills", "signals", mapping, "alice")
    with pytest.raises(presets.PresetError, match="alice's preset"), engine.begin() as conn:
        presets.save(conn, "Broker fills", "signals", {**mapping, "signal_id": "Strat"}, "bob")
    with engine.connect() as conn:
        assert presets.get(conn, "Broker fills")["mapping"] == mapping  # bob changed nothing
    with engine.begin() as conn:
        presets.save(conn, "Broker fills", "signals", {**mapping, "symbol": "Ticker"}, "alice")
        presets.save(conn, "Broker fills", "signals", {**mapping, "symbol": "Sym"}, "root", admin=True)
    with engine.connect() as conn:
        assert presets.get(conn, "Broker fills")["mapping"]["symbol"] == "Sym"
