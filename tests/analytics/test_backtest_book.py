"""The book's vectorised formulation against a plain bar-by-bar reference: every path `settle` can
take (one run's loop, many runs in step, the loop compiled by numba) gives the reference's trades
and equity to the bit, with shorts, slippage, commission, fractions below and above 1 and too
little cash for a unit."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import backtest as bt
from analytics.backtest import book
from analytics.backtest.simulation import simulate

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HAS_NUMBA = importlib.util.find_spec("numba") is not None


def reference(bars: bt.Bars, targets: np.ndarray, config: bt.Settings) -> tuple[list[tuple], list[float]]:
    """Trades and equity of one row of target positions, bar by bar, straight from the conventions."""
    cash, units, wanted, entry = config.cash, 0, bt.FLAT, None
    trades, equity = [], []
    last = len(bars) - 1

    def close(bar: int, price: float, at_end: bool) -> None:
        nonlocal cash, units
        side = 1 if units > 0 else -1
        exit_price = config.fill_price(price, -side)
        fee = config.commission(units * exit_price)
        entry_bar, entry_price, entry_fee = entry
        pnl = units * (exit_price - entry_price) - entry_fee - fee
        trades.append((side, abs(units), entry_bar, entry_price, bar, exit_price, pnl, entry_fee + fee, at_end))
        cash += units * exit_price - fee
        units = 0

    for t in range(last + 1):
        if t > 0 and targets[t - 1] != wanted:
            wanted = int(targets[t - 1])
            if units:
                close(t, bars.open[t], False)
            if wanted:
                price = config.fill_price(bars.open[t], wanted)
                size = config.size(cash, price)
                if size:
                    fee = config.commission(size * price)
                    units = wanted * size
                    cash -= units * price + fee
                    entry = (t, price, fee)
        if t == last and units:
            close(t, bars.close[t], True)
        equity.append(cash + units * bars.close[t])
    return trades, equity


def ledger_rows(ledger: bt.Ledger, row: int) -> list[tuple]:
    mine = ledger.row == row
    columns = (ledger.side, ledger.size, ledger.entry_bar, ledger.entry_price, ledger.exit_bar, ledger.exit_price,
               ledger.pnl, ledger.commission, ledger.closed_at_end)
    return list(zip(*(column[mine].tolist() for column in columns)))


@st.composite
def books(draw):
    """Random bars, several rows of random target positions (runs of long, flat and short) and costs."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(2, 150))
    close = 100 * np.exp(np.cumsum(rng.normal(0, draw(st.sampled_from([0.003, 0.02, 0.08])), n)))
    opens = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.01, n))
    bars = bt.make_bars(time=pd.date_range("2021-01-01", periods=n, freq="h"), open=opens,
                        high=np.maximum(opens, close) * 1.01, low=np.minimum(opens, close) * 0.99, close=close)
    rows = draw(st.integers(1, 6))
    change = rng.random((rows, n)) < draw(st.sampled_from([0.05, 0.3, 0.9]))
    choices = rng.choice(draw(st.sampled_from([(-1, 0, 1), (0, 1), (-1, 1)])), (rows, n))
    at = np.maximum.accumulate(np.where(change, np.arange(n), 0), axis=1)
    targets = np.take_along_axis(choices, at, axis=1).astype(np.int8)
    config = bt.Settings(cash=draw(st.sampled_from([40.0, 1_000.0, 250_000.0])),
                         fraction=draw(st.sampled_from([0.35, 1.0, 3.0])),
                         commission_bps=draw(st.sampled_from([0.0, 30.0])),
                         slippage_bps=draw(st.sampled_from([0.0, 15.0])))
    return bars, targets, config


def assert_matches_reference(bars: bt.Bars, targets: np.ndarray, config: bt.Settings) -> None:
    ledger, equity = simulate(bars, targets, config)
    assert equity.shape == targets.shape
    for row in range(targets.shape[0]):
        trades, curve = reference(bars, targets[row], config)
        assert ledger_rows(ledger, row) == trades
        assert equity[row].tolist() == curve


def assert_path_matches_reference(case: tuple, in_step_rows: int, compiled_from: int) -> None:
    """`settle`'s choice of path forced by its two thresholds."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(book, "IN_STEP_ROWS", in_step_rows)
        patch.setattr(book, "COMPILED_FROM", compiled_from)
        assert_matches_reference(*case)


@SETTINGS
@given(books())
def test_each_run_settled_alone_matches_the_reference(case):
    assert_path_matches_reference(case, in_step_rows=10**9, compiled_from=10**9)


@SETTINGS
@given(books())
def test_runs_settled_in_step_match_the_reference(case):
    assert_path_matches_reference(case, in_step_rows=0, compiled_from=10**9)


@pytest.mark.skipif(not HAS_NUMBA, reason="numba is not installed")
@SETTINGS
@given(books())
def test_the_compiled_loop_matches_the_reference(case):
    assert_path_matches_reference(case, in_step_rows=10**9, compiled_from=0)


def test_too_little_cash_opens_nothing_on_every_path(monkeypatch):
    bars = bt.make_bars(time=pd.date_range("2024-01-01", periods=4), open=[100, 100, 100, 100],
                        high=[101] * 4, low=[99] * 4, close=[100, 100, 100, 100])
    targets = np.array([[1, -1, 1, 1], [0, 1, 1, 0]], dtype=np.int8)
    for in_step in (0, 10**9):
        monkeypatch.setattr(book, "IN_STEP_ROWS", in_step)
        ledger, equity = simulate(bars, targets, bt.Settings(cash=99.0))
        assert len(ledger) == 0 and (equity == 99.0).all()


def test_a_sweep_reports_what_each_run_reports_alone():
    rng = np.random.default_rng(11)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, 400)))
    bars = bt.make_bars(time=pd.date_range("2022-01-01", periods=400), open=close * (1 + rng.normal(0, 0.005, 400)),
                        high=close * 1.03, low=close * 0.97, close=close)
    grid = {"fast": [3, 5, 8], "slow": [12, 20], "allow_short": [True, False]}
    costs = {"cash": 5_000, "commission_bps": 4.0, "slippage_bps": 2.0, "fraction": 0.8}
    frame = bt.sweep(bars, "sma_cross", grid, **costs)
    assert len(frame) == 12
    for row in frame.to_dict("records"):
        params = {name: row[name] for name in ("fast", "slow", "allow_short")}
        alone = bt.run(bars, "sma_cross", params, **costs).metrics
        for name, value in alone.items():
            assert row[name] == (pytest.approx(value, rel=1e-9, abs=1e-12) if value is not None else None), name


def test_trades_are_made_from_the_ledger_with_their_bar_times():
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, 60)))
    bars = bt.make_bars(time=pd.date_range("2024-03-01 09:30", periods=60, freq="min"), open=close, high=close,
                        low=close, close=close)
    result = bt.run(bars, "sma_cross", {"fast": 2, "slow": 5})
    assert len(result.trades) == len(result.ledger) > 0
    for trade, (side, size, entry_bar, entry_price, exit_bar, exit_price, pnl, fee, at_end) in zip(
        result.trades, ledger_rows(result.ledger, 0)
    ):
        assert (trade.side, trade.size, trade.entry_bar, trade.exit_bar) == (bt.SIDE_NAMES[side], size, entry_bar, exit_bar)
        assert (trade.entry_price, trade.exit_price, trade.pnl, trade.commission, trade.closed_at_end) == (
            entry_price, exit_price, pnl, fee, at_end)
        assert trade.entry_time == pd.Timestamp(bars.time[entry_bar]) and trade.exit_time == pd.Timestamp(bars.time[exit_bar])
        assert isinstance(trade.size, int) and isinstance(trade.entry_bar, int)
