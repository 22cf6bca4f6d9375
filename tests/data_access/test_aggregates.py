"""trade_days, the daily rollup of closed trades the dashboards read, always equals the closed
trades summed in the test: on random books whose fills arrive through the ingest writer in random
batches and orders, with corrections re-deriving pairs (SQLite; PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from data_access import migrate
from data_access.aggregates import rebuild_trade_days
from data_access.db import make_engine
from data_access.ingest import Writer, ingest
from tests.ingest_books import parsed as _parsed
from tests.ingest_books import with_strategies

T0 = dt.datetime(2026, 3, 2, 9, 0)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A migrated SQLite file with two strategies, copied for each example."""
    path = tmp_path_factory.mktemp("aggregates") / "template.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with_strategies(engine)
    engine.dispose()
    return path


def _summed_from_trades(engine) -> pd.DataFrame:
    """The rollup computed here, its own way: every closed trade read and summed in pandas."""
    with engine.connect() as conn:
        trades = pd.DataFrame(conn.execute(text("SELECT strategy_id, closed_at, realized_pnl FROM closed_trades")).all(),
                              columns=["strategy_id", "closed_at", "realized_pnl"])
    if not len(trades):
        return pd.DataFrame(columns=["strategy_id", "day", "realized_pnl", "trades", "wins", "losses", "gross_win",
                                     "gross_loss"])
    pnl = trades["realized_pnl"].astype(float)
    trades = trades.assign(day=pd.to_datetime(trades["closed_at"]).dt.strftime("%Y-%m-%d"), realized_pnl=pnl,
                           trades=1, wins=(pnl > 0).astype(int), losses=(pnl < 0).astype(int),
                           gross_win=pnl.clip(lower=0), gross_loss=pnl.clip(upper=0))
    return (trades.drop(columns="closed_at").groupby(["strategy_id", "day"]).sum().reset_index()
            .sort_values(["strategy_id", "day"]).reset_index(drop=True))


def _stored(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT strategy_id, day, realized_pnl, trades, wins, losses, gross_win, gross_loss "
                                 "FROM trade_days ORDER BY strategy_id, day")).all()
    frame = pd.DataFrame(rows, columns=["strategy_id", "day", "realized_pnl", "trades", "wins", "losses", "gross_win",
                                        "gross_loss"])
    frame["day"] = frame["day"].map(lambda d: str(d)[:10])
    return frame


def _assert_same(engine) -> None:
    expected, stored = _summed_from_trades(engine), _stored(engine)
    assert stored[["strategy_id", "day", "trades", "wins", "losses"]].astype(str).values.tolist() == \
        expected[["strategy_id", "day", "trades", "wins", "losses"]].astype(str).values.tolist()
    for column in ("realized_pnl", "gross_win", "gross_loss"):
        np.testing.assert_allclose(stored[column].astype(float), expected[column].astype(float), rtol=1e-9, atol=1e-6)


fills = st.lists(st.tuples(st.sampled_from(["Alpha", "Beta"]), st.sampled_from(["AAA", "BBB"]),
                           st.sampled_from(["BUY", "SELL"]), st.integers(1, 9), st.integers(90, 110),
                           st.integers(0, 6 * 24 * 60)), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(book=fills, cuts=st.lists(st.integers(0, 40), max_size=4), order=st.randoms(use_true_random=False),
       corrections=st.lists(st.tuples(st.integers(0, 39), st.integers(80, 120)), max_size=3))
def test_trade_days_equal_the_trades_summed_whatever_the_batches(template, tmp_path, book, cuts, order, corrections):
    path = tmp_path / f"book_{order.random():.12f}.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        signals = [{"signal_id": f"s{i}", "strategy_name": strategy, "symbol": symbol, "side": side, "quantity": qty,
                    "received_time": (T0 + dt.timedelta(minutes=minute)).isoformat(), "execution_status": "FILLED"}
                   for i, (strategy, symbol, side, qty, _price, minute) in enumerate(book)]
        executions = [{"execution_id": f"e{i}", "signal_id": f"s{i}", "avg_fill_price": price, "filled_quantity": qty,
                       "filled_at": (T0 + dt.timedelta(minutes=minute, seconds=5)).isoformat()}
                      for i, (_s, _sym, _side, qty, price, minute) in enumerate(book)]
        ingest(engine, "signals", _parsed(signals), Writer("admin"))
        order.shuffle(executions)
        bounds = sorted({0, len(executions), *[c for c in cuts if c < len(executions)]})
        for lo, hi in zip(bounds, bounds[1:]):
            ingest(engine, "executions", _parsed(executions[lo:hi]), Writer("admin"))
            _assert_same(engine)
        for index, price in corrections:  # a broker's corrected price: the pair is derived again
            row = dict(executions[index % len(executions)], avg_fill_price=price)
            ingest(engine, "executions", _parsed([row]), Writer("admin"))
        _assert_same(engine)
        with engine.begin() as conn:  # and rebuild-aggregates ends where the writes did
            before = _stored(engine)
            rebuild_trade_days(conn)
        after = _stored(engine)
        assert after[["strategy_id", "day", "trades"]].values.tolist() == before[["strategy_id", "day", "trades"]].values.tolist()
    finally:
        engine.dispose()


def test_on_postgresql_the_writes_keep_the_days(postgres_url):
    migrate.upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        ingest(engine, "accounts", _parsed([{"account_name": "Main", "broker": "IBKR", "net_contributions": 1e6}]),
               Writer("admin"))
        ingest(engine, "strategies", _parsed([{"strategy_name": "Alpha", "account_name": "Main", "allocation": 0.5}]),
               Writer("admin"))
        rng = np.random.default_rng(5)
        n = 60
        sides = rng.choice(["BUY", "SELL"], n)
        minutes = np.sort(rng.integers(0, 5 * 24 * 60, n))
        ingest(engine, "signals", _parsed([{"signal_id": f"p{i}", "strategy_name": "Alpha", "symbol": "AAA",
                                            "side": sides[i], "quantity": 5, "execution_status": "FILLED",
                                            "received_time": (T0 + dt.timedelta(minutes=int(minutes[i]))).isoformat()}
                                           for i in range(n)]), Writer("admin"))
        executions = [{"execution_id": f"pe{i}", "signal_id": f"p{i}", "avg_fill_price": float(rng.integers(90, 110)),
                       "filled_quantity": 5, "filled_at": (T0 + dt.timedelta(minutes=int(minutes[i]), seconds=3)).isoformat()}
                      for i in range(n)]
        for lo in range(0, n, 17):  # in time order: the append path
            ingest(engine, "executions", _parsed(executions[lo:lo + 17]), Writer("admin"))
        _assert_same(engine)
        ingest(engine, "executions", _parsed([dict(executions[3], avg_fill_price=150.0)]), Writer("admin"))
        _assert_same(engine)
        assert len(_stored(engine)) >= 4
    finally:
        engine.dispose()


def test_rebuild_aggregates_sums_days_lost_by_hand_again(template, tmp_path, redis_url):
    from click.testing import CliRunner

    from app.cli import main

    path = tmp_path / "cli.db"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        ingest(engine, "signals", _parsed([{"signal_id": f"c{i}", "strategy_name": "Alpha", "symbol": "AAA",
                                            "side": "BUY" if i % 2 == 0 else "SELL", "quantity": 2,
                                            "received_time": (T0 + dt.timedelta(hours=9 * i)).isoformat(),
                                            "execution_status": "FILLED"} for i in range(8)]), Writer("admin"))
        ingest(engine, "executions", _parsed([{"execution_id": f"ce{i}", "signal_id": f"c{i}", "filled_quantity": 2,
                                               "avg_fill_price": 100 + 3 * i,
                                               "filled_at": (T0 + dt.timedelta(hours=9 * i, seconds=1)).isoformat()}
                                              for i in range(8)]), Writer("admin"))
        kept = _stored(engine)
        assert kept["trades"].sum() == 4
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM trade_days"))
        result = CliRunner().invoke(main, ["rebuild-aggregates"], env={"DATABASE_URL": url, "REDIS_URL": redis_url},
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert f"{len(kept)} strategy days" in result.output
        assert _stored(engine).values.tolist() == kept.values.tolist()
    finally:
        engine.dispose()
