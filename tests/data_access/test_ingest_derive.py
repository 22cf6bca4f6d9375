"""Closed trades and positions derived in the database: appends continue from the open lots, and
every path ends where a derivation from scratch does (SQLite; PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import insert, text

import data_access.models as m

from data_access import migrate
from data_access.db import make_engine
from data_access.ingest.derive import Written, derive_after_write, rederive
from tests.conftest import migrated

T0 = dt.datetime(2026, 3, 2, 14, 30)
SYMBOLS = ("AAA", "BTC")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = migrated(f"sqlite:///{tmp_path / 'derive.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        migrate.upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (id, name, broker, net_contributions, currency) "
                          "VALUES (1, 'Main', 'IBKR', 1000000, 'USD')"))
        for s in (1, 2):
            conn.execute(text("INSERT INTO strategies (id, name, account_id, allocation, status) "
                              "VALUES (:s, :n, 1, 0.5, 'ACTIVE')"), {"s": s, "n": f"strategy {s}"})
    yield engine
    engine.dispose()


class Book:
    """Writes signals with one execution each, as the ingest writer would."""

    def __init__(self, engine):
        self.engine = engine
        self.n = 0

    def fills(self, rng, count: int, start: dt.datetime) -> list[dict]:
        rows = []
        for _ in range(count):
            self.n += 1
            symbol = SYMBOLS[int(rng.integers(0, 2))]
            quantity = float(rng.integers(1, 20)) if symbol == "AAA" else round(float(rng.uniform(0.001, 0.5)), 4)
            rows.append({
                "n": self.n, "strategy": int(rng.integers(1, 3)), "symbol": symbol,
                "side": "BUY" if rng.random() < 0.5 else "SELL", "quantity": quantity,
                # whole seconds: some fills share a time and are ordered by execution_id
                "at": start + dt.timedelta(seconds=int(rng.integers(0, 600))),
                "price": round(float(rng.uniform(90, 110)), 2), "commission": round(float(rng.uniform(0, 1)), 4),
            })
        return rows

    def write(self, conn, rows: list[dict]) -> dict:
        conn.execute(insert(m.Signal), [
            {"id": r["n"], "signal_id": f"sig_{r['n']}", "strategy_id": r["strategy"], "symbol": r["symbol"],
             "side": r["side"], "quantity": r["quantity"], "received_at": r["at"], "status": "FILLED",
             "filled_at": r["at"]} for r in rows])
        conn.execute(insert(m.Execution), [
            {"id": r["n"], "execution_id": f"exe_{r['n']:06d}", "signal_id": r["n"], "filled_at": r["at"],
             "price": r["price"], "quantity": r["quantity"], "commission": r["commission"]} for r in rows])
        touched: dict = {}
        for r in rows:
            key = (r["strategy"], r["symbol"])
            mark = (r["at"], f"exe_{r['n']:06d}")
            earliest, count = touched.get(key, (mark, 0))
            touched[key] = (min(earliest, mark), count + 1)
        return {key: Written(mark[0], mark[1], count) for key, (mark, count) in touched.items()}


def state(engine) -> tuple[list, list]:
    with engine.connect() as conn:
        trades = conn.execute(text(
            "SELECT strategy_id, symbol, side, quantity, entry_price, exit_price, opened_at, closed_at, commission, "
            "realized_pnl, account_id FROM closed_trades")).all()
        positions = conn.execute(text(
            "SELECT strategy_id, symbol, quantity, entry_price, opened_at, account_id FROM positions "
            "ORDER BY strategy_id, symbol")).all()

    def norm(row):
        return tuple(round(v, 6) if isinstance(v, float) else str(v) for v in row)

    return sorted(norm(t) for t in trades), [norm(p) for p in positions]


def from_scratch(engine) -> tuple[list, list]:
    with engine.begin() as conn:
        rederive(conn, [(s, sym) for s in (1, 2) for sym in SYMBOLS])
    return state(engine)


def test_appended_batches_continue_from_the_open_lots_and_equal_a_derivation_from_scratch(engine):
    rng = np.random.default_rng(7)
    book = Book(engine)
    paths = {"appended": 0, "rederived": 0}
    for batch in range(6):
        rows = book.fills(rng, 25, T0 + dt.timedelta(hours=batch))
        with engine.begin() as conn:
            done = derive_after_write(conn, book.write(conn, rows))
        paths = {k: paths[k] + done[k] for k in paths}
    appended = state(engine)
    assert paths["appended"] > 0
    assert appended == from_scratch(engine)
    trades, positions = appended
    assert {t[2] for t in trades} == {"long", "short"} and positions
    assert all(p[5] == "1" for p in positions) and all(t[10] == "1" for t in trades)


def test_a_late_fill_rederives_its_pair_and_the_result_does_not_depend_on_arrival_order(engine):
    rng = np.random.default_rng(11)
    book = Book(engine)
    early = book.fills(rng, 30, T0)
    late = book.fills(rng, 30, T0 + dt.timedelta(hours=1))
    with engine.begin() as conn:
        derive_after_write(conn, book.write(conn, late))
    with engine.begin() as conn:
        done = derive_after_write(conn, book.write(conn, early))  # older than what is derived
    assert done["rederived"] > 0
    assert state(engine) == from_scratch(engine)


def test_rederive_matches_a_position_netted_by_hand(engine):
    book = Book(engine)
    rows = [
        {"n": 1, "strategy": 1, "symbol": "AAA", "side": "BUY", "quantity": 10.0, "at": T0, "price": 100.0,
         "commission": 1.0},
        {"n": 2, "strategy": 1, "symbol": "AAA", "side": "SELL", "quantity": 15.0,
         "at": T0 + dt.timedelta(minutes=1), "price": 110.0, "commission": 3.0},
    ]
    book.n = 2
    with engine.begin() as conn:
        book.write(conn, rows)
        rederive(conn, [(1, "AAA")])
    trades, positions = state(engine)
    assert [t[2:6] for t in trades] == [("long", 10.0, 100.0, 110.0)]
    assert trades[0][8:10] == (3.0, 97.0)
    assert [p[1:4] for p in positions] == [("AAA", -5.0, 110.0)]
