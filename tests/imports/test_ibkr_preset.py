"""IBKR's Flex Query trades export goes in as fills, with signals made for the orders tradeboard
does not hold; FIFO over the result is computed here on its own and compared."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from data_access import models as m
from data_access.imports import ibkr, jobs, undo
from tests.imports.conftest import upload

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ibkr-flex-trades.csv"


def test_the_sample_is_recognised_and_needs_a_strategy_for_orders_without_a_signal(engine, tmp_path):
    record = upload(engine, tmp_path, "flex.csv", SAMPLE.read_bytes())
    assert record["preset"] == ibkr.NAME and record["entity"] == "executions"
    jobs.check(engine, record["id"])
    record = jobs.get(engine, record["id"])
    assert record["status"] == "invalid"
    assert [p["field"] for p in jobs.problems(engine, record["id"])] == ["strategy_name"]
    assert "4 orders have no signal" in jobs.problems(engine, record["id"])[0]["message"]


def test_the_sample_imports_as_fills_and_orders_and_derives_the_round_trips(engine, tmp_path):
    record = upload(engine, tmp_path, "flex.csv", SAMPLE.read_bytes())
    jobs.configure(engine, record["id"], "executions", {}, ibkr.NAME, {"strategy_name": "Alpha"})
    assert jobs.check(engine, record["id"])["status"] == "valid"
    result = jobs.commit(engine, record["id"])
    assert result["counts"] == {"signals": {"inserted": 4, "updated": 0, "unchanged": 0},
                                "executions": {"inserted": 5, "updated": 0, "unchanged": 0}}
    raw = pd.read_csv(SAMPLE, dtype={"OrderReference": str})
    with engine.connect() as conn:
        fills = pd.DataFrame(conn.execute(select(m.Execution.execution_id, m.Execution.filled_at, m.Execution.price,
                                                 m.Execution.quantity, m.Execution.commission, m.Signal.signal_id)
                                          .join(m.Signal)).all(), columns=["exec", "at", "price", "qty", "fee", "signal"])
        trades = conn.execute(select(m.ClosedTrade.symbol, m.ClosedTrade.quantity, m.ClosedTrade.realized_pnl)
                              .order_by(m.ClosedTrade.symbol)).all()
    fills = fills.set_index("exec").loc[raw["IBExecID"]]
    assert fills["qty"].tolist() == raw["Quantity"].abs().tolist()
    assert fills["fee"].tolist() == pytest.approx((-raw["IBCommission"]).tolist())
    # 09:30:12 in New York on 1 December is 14:30:12 UTC
    assert pd.Timestamp(fills["at"].iloc[0]) == pd.Timestamp("2026-12-01 14:30:12")
    assert fills["signal"].iloc[0] == "sig_20261201_0001"
    assert fills["signal"].iloc[2] == "ib-order-4411002", "no order reference: the signal is named by the order"
    # FIFO by hand: AAPL bought 100 @ 243.12 and 50 @ 243.15, sold 150 @ 246.40; MSFT sold 40 @ 431.80, bought back @ 428.10
    aapl = 100 * (246.40 - 243.12) + 50 * (246.40 - 243.15) - (0.35 + 0.18 + 0.52)
    msft = 40 * (431.80 - 428.10) - (0.20 + 0.20)
    assert [(s, q) for s, q, _ in trades] == [("AAPL", 100), ("AAPL", 50), ("MSFT", 40)]
    assert sum(p for s, _q, p in trades if s == "AAPL") == pytest.approx(aapl, abs=0.01)
    assert sum(p for s, _q, p in trades if s == "MSFT") == pytest.approx(msft, abs=0.01)
    assert undo.undo(engine, record["id"])["removed"] == {"executions": 5, "signals": 4}
    with engine.connect() as conn:
        assert conn.execute(select(m.ClosedTrade.id)).first() is None


def test_importing_the_sample_twice_changes_nothing(engine, tmp_path):
    for name in ("a.csv", "b.csv"):
        record = upload(engine, tmp_path, name, SAMPLE.read_bytes())
        jobs.configure(engine, record["id"], "executions", {}, ibkr.NAME, {"strategy_name": "Alpha"})
        jobs.check(engine, record["id"])
        result = jobs.commit(engine, record["id"])
    assert result["counts"] == {"executions": {"inserted": 0, "updated": 0, "unchanged": 5}}
