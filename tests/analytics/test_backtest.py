"""The backtest engine: a hand-worked known answer, the conventions of METRICS.md, and properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import backtest as bt
from analytics.metrics import max_drawdown_pct, sharpe_ratio

# --------------------------------------------------------------------------- a known answer
#
# closes        12  11  10  11  13  14  11.5 10   9  10  12  13
# SMA(2)         -  11.5 10.5 10.5 12 13.5 12.75 10.75 9.5 9.5 11 12.5
# SMA(3)         -   -  11  10.67 11.33 12.67 12.83 11.83 10.17 9.67 10.33 11.67
# fast - slow: -0.5 -0.17 +0.67 +0.83 -0.08 -1.08 -0.67 -0.17 +0.67 +0.83 (from bar 2)
# => crosses above at bars 4 and 10, below at bar 6; orders fill at the next bar's open.
CLOSES = [12, 11, 10, 11, 13, 14, 11.5, 10, 9, 10, 12, 13]
OPENS = [12, 12, 11, 10, 11, 13.5, 14, 11, 10, 9, 10, 12.5]


def hand_bars() -> bt.Bars:
    o, c = np.array(OPENS, float), np.array(CLOSES, float)
    return bt.make_bars(
        time=pd.date_range("2024-01-01", periods=len(c), freq="D"),
        open=o,
        high=np.maximum(o, c) + 0.5,
        low=np.minimum(o, c) - 0.5,
        close=c,
    )


def test_sma_cross_long_short_trades_match_the_hand_worked_answer():
    result = bt.run(hand_bars(), "sma_cross", {"fast": 2, "slow": 3}, cash=1000)
    got = [(t.side, t.size, t.entry_bar, t.entry_price, t.exit_bar, t.exit_price, t.closed_at_end) for t in result.trades]
    assert got == [
        # long at bar 5's open 13.5: floor(1000 / 13.5) = 74 units, cash left 1
        ("long", 74, 5, 13.5, 7, 11.0, False),
        # reverse at bar 7's open 11: equity 1 + 74 * 11 = 815, short floor(815 / 11) = 74
        ("short", 74, 7, 11.0, 11, 12.5, False),
        # reverse at bar 11's open 12.5: equity 704, long floor(704 / 12.5) = 56, closed at the last close 13
        ("long", 56, 11, 12.5, 11, 13.0, True),
    ]
    assert [t.pnl for t in result.trades] == pytest.approx([74 * (11 - 13.5), -74 * (12.5 - 11), 56 * (13 - 12.5)])
    assert result.trades[0].entry_time == pd.Timestamp("2024-01-06")
    # marked to market at each close: bar 5 long 74 with cash 1; bar 7 short 74 with cash 815 + 814
    assert result.equity[5] == pytest.approx(1 + 74 * 14)
    assert result.equity[6] == pytest.approx(1 + 74 * 11.5)
    assert result.equity[7] == pytest.approx(1629 - 74 * 10)
    assert result.equity[-1] == pytest.approx(732.0)
    assert result.metrics["final_equity"] == pytest.approx(732.0)
    assert result.metrics["number_of_trades"] == 3
    assert result.metrics["win_rate_pct"] == pytest.approx(100 / 3)


def test_long_only_sma_cross_stays_flat_instead_of_shorting():
    result = bt.run(hand_bars(), "sma_cross", {"fast": 2, "slow": 3, "allow_short": False}, cash=1000)
    assert [(t.side, t.size, t.entry_bar, t.exit_bar) for t in result.trades] == [("long", 74, 5, 7), ("long", 65, 11, 11)]
    assert result.equity[-1] == pytest.approx(815 - 65 * 12.5 + 65 * 13)


def test_slippage_moves_fills_against_the_trader_and_commission_is_part_of_pnl():
    result = bt.run(hand_bars(), "sma_cross", {"fast": 2, "slow": 3, "allow_short": False}, cash=1000,
                    slippage_bps=100, commission_bps=10)
    first = result.trades[0]
    assert first.entry_price == pytest.approx(13.5 * 1.01)  # a buy pays 1 % more
    assert first.size == 73  # floor(1000 / 13.635)
    assert first.exit_price == pytest.approx(11 * 0.99)  # a sell gets 1 % less
    fees = 73 * 13.635 * 0.001 + 73 * 10.89 * 0.001
    assert first.commission == pytest.approx(fees)
    assert first.pnl == pytest.approx(73 * (10.89 - 13.635) - fees)


def test_a_decision_on_the_last_bar_is_never_filled():
    bars = hand_bars()[:11]  # the long cross happens on bar 10, the last bar here
    result = bt.run(bars, "sma_cross", {"fast": 2, "slow": 3}, cash=1000)
    assert [t.entry_bar for t in result.trades] == [5, 7]
    assert result.trades[-1].closed_at_end and result.trades[-1].exit_price == 12.0


def test_too_little_cash_for_one_unit_opens_nothing():
    result = bt.run(hand_bars(), "sma_cross", {"fast": 2, "slow": 3}, cash=5)
    assert result.trades == []
    assert np.all(result.equity == 5)


def test_stream_events_carry_candles_signals_and_running_stats():
    events = list(bt.stream(hand_bars(), "sma_cross", {"fast": 2, "slow": 3}, cash=1000))
    assert [e["bar"] for e in events] == list(range(12))
    assert events[5]["signals"] == [{"type": "entry", "side": "long", "price": 13.5, "size": 74}]
    assert [s["type"] for s in events[7]["signals"]] == ["exit", "entry"]
    assert events[7]["stats"]["trades"] == 1 and events[7]["stats"]["losses"] == 1
    assert events[4]["time"] == "2024-01-05T00:00:00Z"
    assert events[4]["close"] == 13.0 and events[4]["high"] == 13.5
    last = events[-1]
    assert last["signals"][-1]["closed_at_end"] is True
    assert last["stats"]["progress_pct"] == 100.0
    assert last["stats"]["pnl"] == pytest.approx(-268.0)
    assert last["stats"]["wins"] == 1 and last["stats"]["losses"] == 2
    peak_close_equity = 1 + 74 * 14
    assert events[6]["stats"]["drawdown_pct"] == pytest.approx((1 - (1 + 74 * 11.5) / peak_close_equity) * 100)


# --------------------------------------------------------------------------- strategy kinds


def test_every_kind_has_a_schema_with_defaults_inside_its_range():
    schemas = bt.strategy_schemas()
    assert {s["kind"] for s in schemas} >= {"sma_cross", "rsi_reversion", "donchian_breakout", "bollinger_reversion"}
    for schema in schemas:
        for p in schema["params"]:
            assert set(p) >= {"name", "type", "default", "min", "max", "step"}
            if p["type"] != "bool":
                assert p["min"] <= p["default"] <= p["max"] and p["step"] > 0


def test_rsi_reversion_buys_oversold_and_sells_overbought():
    closes = [100, 99, 98, 97, 96, 95, 96, 97, 98, 99, 100, 101, 102, 101]
    bars = bt.make_bars(time=pd.date_range("2024-01-01", periods=len(closes)), open=closes, high=closes,
                        low=closes, close=closes)
    targets = bt.target_positions(bars, "rsi_reversion", {"period": 2, "lower": 20, "upper": 80})
    # RSI(2) is 0 along the falling run (bars 2-5): long. On the rises Wilder's averages go
    # gain/loss 0.5/0.5 (RSI 50), 0.75/0.25 (75), 0.875/0.125 (87.5 > 80): flat from bar 8.
    assert targets[:8].tolist() == [0, 0, 1, 1, 1, 1, 1, 1]
    assert targets[8] == 0


def test_donchian_breakout_uses_the_channel_of_previous_bars():
    closes = [10, 11, 10, 11, 12, 11, 9, 10]
    bars = bt.make_bars(time=pd.date_range("2024-01-01", periods=len(closes)), open=closes, high=closes,
                        low=closes, close=closes)
    targets = bt.target_positions(bars, "donchian_breakout", {"window": 3})
    # bar 4 closes at 12 above the prior 3-bar high 11: long; bar 6 closes at 9 below the prior low 10: short
    assert targets.tolist() == [0, 0, 0, 0, 1, 1, -1, -1]


def test_bollinger_reversion_exits_at_the_middle_band():
    closes = [10, 10.2, 9.8, 10, 10.1, 9.9, 8, 9, 10.5, 10.6]
    bars = bt.make_bars(time=pd.date_range("2024-01-01", periods=len(closes)), open=closes, high=closes,
                        low=closes, close=closes)
    targets = bt.target_positions(bars, "bollinger_reversion", {"window": 5, "k": 1.5})
    assert targets[6] == 1  # 8 is far below the lower band
    assert targets[8] == 0  # 10.5 is back above the middle band


# --------------------------------------------------------------------------- bad input


def test_unknown_kind_names_the_valid_kinds():
    with pytest.raises(bt.UnknownStrategy, match="valid kinds: sma_cross, rsi_reversion"):
        bt.run(hand_bars(), "macd_magic")


def test_invalid_parameters_name_the_problem_and_the_valid_parameters():
    with pytest.raises(bt.InvalidParameters, match=r"fast \(5\) must be less than slow \(4\)"):
        bt.validate_params("sma_cross", {"fast": 5, "slow": 4})
    with pytest.raises(bt.InvalidParameters, match="unknown parameter.*speed.*Valid parameters: fast"):
        bt.validate_params("sma_cross", {"speed": 3})
    with pytest.raises(bt.InvalidParameters, match="window must be a whole number"):
        bt.validate_params("donchian_breakout", {"window": 2.5})
    with pytest.raises(bt.InvalidParameters, match="k must be between 0.5 and 4.0"):
        bt.validate_params("bollinger_reversion", {"k": 9})


def test_parameters_from_text_are_coerced_to_their_types():
    assert bt.validate_params("sma_cross", {"fast": "5", "slow": "20", "allow_short": "false"}) == {
        "fast": 5, "slow": 20, "allow_short": False
    }


def test_invalid_bars_are_rejected_with_the_offending_bars():
    times = pd.date_range("2024-01-01", periods=3)
    with pytest.raises(bt.InvalidBars, match=r"high is below open or close at bar\(s\) 1"):
        bt.make_bars(time=times, open=[1, 2, 3], high=[1, 1.5, 3], low=[1, 2, 3], close=[1, 2, 3])
    with pytest.raises(bt.InvalidBars, match="not strictly increasing"):
        bt.make_bars(time=[times[0], times[0], times[2]], open=[1, 2, 3], high=[1, 2, 3], low=[1, 2, 3], close=[1, 2, 3])
    with pytest.raises(bt.InvalidBars, match=r"close is not a positive number at bar\(s\) 2"):
        bt.make_bars(time=times, open=[1, 2, 3], high=[1, 2, 3], low=[1, 2, 3], close=[1, 2, np.nan])


def test_bars_from_a_frame_accept_any_letter_case_and_a_date_column():
    frame = pd.DataFrame({"Date": ["2024-01-02", "2024-01-03"], "OPEN": [1, 2], "High": [1.5, 2.5],
                          "low": [0.5, 1.5], "Close": [1.2, 2.2]})
    bars = bt.Bars.from_frame(frame)
    assert bars.close.tolist() == [1.2, 2.2]
    assert bars.volume.tolist() == [0, 0]
    assert pd.Timestamp(bars.time[1]) == pd.Timestamp("2024-01-03")


def test_bad_settings_are_rejected():
    with pytest.raises(bt.BacktestError, match="cash must be positive"):
        bt.run(hand_bars(), "sma_cross", cash=0)
    with pytest.raises(bt.BacktestError, match="fraction"):
        bt.run(hand_bars(), "sma_cross", fraction=0)


def test_sweep_runs_every_valid_combination_and_skips_crossed_windows():
    grid = {"fast": [2, 3, 5], "slow": [3, 4]}
    frame = bt.sweep(hand_bars(), "sma_cross", grid, cash=1000)
    assert sorted(zip(frame["fast"], frame["slow"])) == [(2, 3), (2, 4), (3, 4)]
    row = frame[(frame["fast"] == 2) & (frame["slow"] == 3)].iloc[0]
    assert row["final_equity"] == pytest.approx(732.0)
    _, skipped = bt.parameter_grid("sma_cross", grid)
    assert len(skipped) == 3 and "must be less than slow" in skipped[0]


def test_result_serialises_to_json_ready_values():
    import json

    doc = bt.run(hand_bars(), "sma_cross", {"fast": 2, "slow": 3}, cash=1000).to_dict()
    text = json.dumps(doc, allow_nan=False)
    assert '"entry_time": "2024-01-06T00:00:00Z"' in text
    assert len(doc["equity_curve"]) == 12 and doc["equity_curve"][-1]["equity"] == pytest.approx(732.0)


# --------------------------------------------------------------------------- properties

KINDS_WITH_SMALL_PARAMS = [
    ("sma_cross", st.fixed_dictionaries({"fast": st.integers(2, 4), "slow": st.integers(5, 8), "allow_short": st.booleans()})),
    ("rsi_reversion", st.fixed_dictionaries({"period": st.integers(2, 5), "lower": st.integers(20, 45),
                                             "upper": st.integers(55, 80), "allow_short": st.booleans()})),
    ("donchian_breakout", st.fixed_dictionaries({"window": st.integers(2, 6), "allow_short": st.booleans()})),
    ("bollinger_reversion", st.fixed_dictionaries({"window": st.integers(2, 6), "k": st.sampled_from([0.5, 1.0, 1.5]),
                                                   "allow_short": st.booleans()})),
]


@st.composite
def price_paths(draw, min_size=3, max_size=120):
    """A random-walk close with gaps and wicks: hypothesis draws the length, volatility and seed
    (its own float lists are mostly flat paths on which no strategy ever trades)."""
    n = draw(st.integers(min_size, max_size))
    volatility = draw(st.sampled_from([0.002, 0.01, 0.03, 0.08]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    close = 100 * np.exp(np.cumsum(rng.normal(0, volatility, n)))
    return close, rng.normal(0, volatility / 4, n), np.abs(rng.normal(0, volatility / 2, n))


def bars_from_path(close, gaps, wicks, start=0) -> bt.Bars:
    previous = np.r_[close[0], close[:-1]]
    opens = previous * (1 + gaps)
    return bt.make_bars(
        time=pd.date_range("2020-01-01", periods=close.size, freq="D") + pd.Timedelta(days=start),
        open=opens,
        high=np.maximum(opens, close) * (1 + wicks),
        low=np.minimum(opens, close) * (1 - wicks),
        close=close,
    )


@st.composite
def strategy_runs(draw):
    kind, params = draw(st.sampled_from(KINDS_WITH_SMALL_PARAMS))
    return kind, draw(params), draw(price_paths()), draw(st.sampled_from([0.0, 5.0])), draw(st.sampled_from([0.0, 3.0]))


def trades_from_stream(events) -> list[tuple]:
    trades, entry = [], None
    for event in events:
        for s in event["signals"]:
            if s["type"] == "entry":
                entry = (event["bar"], s)
            else:
                bar, e = entry
                trades.append((e["side"], e["size"], bar, e["price"], event["bar"], s["price"], s["pnl"], s["closed_at_end"]))
    return trades


def same(a, b, rel=1e-12) -> bool:
    """Equal structures: floats to a relative tolerance, everything else exactly."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=rel, abs_tol=1e-9)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k], rel) for k in a)
    return a == b


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(strategy_runs())
def test_run_and_stream_agree_trade_for_trade_and_bar_for_bar(case):
    kind, params, path, commission, slippage = case
    bars = bars_from_path(*path)
    costs = {"commission_bps": commission, "slippage_bps": slippage, "cash": 10_000}
    result = bt.run(bars, kind, params, **costs)
    events = list(bt.stream(bars, kind, params, **costs))
    from_run = [(t.side, t.size, t.entry_bar, t.entry_price, t.exit_bar, t.exit_price, t.pnl, t.closed_at_end)
                for t in result.trades]
    assert same(trades_from_stream(events), from_run)
    assert [e["stats"]["equity"] for e in events] == pytest.approx(result.equity.tolist(), rel=1e-12)
    assert events[-1]["stats"]["trades"] == len(result.trades)


@PROPERTY_SETTINGS
@given(strategy_runs())
def test_equity_curve_ends_at_initial_cash_plus_total_trade_pnl(case):
    kind, params, path, commission, slippage = case
    result = bt.run(bars_from_path(*path), kind, params, cash=10_000, commission_bps=commission, slippage_bps=slippage)
    assert result.equity[-1] == pytest.approx(10_000 + sum(t.pnl for t in result.trades), rel=1e-12)
    assert all(t.size >= 1 and t.entry_bar <= t.exit_bar for t in result.trades)


@PROPERTY_SETTINGS
@given(strategy_runs())
def test_every_decision_is_the_same_with_the_bars_after_it_removed(case):
    kind, params, path, _, _ = case
    bars = bars_from_path(*path)
    full = bt.target_positions(bars, kind, params)
    for t in range(len(bars)):
        assert bt.target_positions(bars[: t + 1], kind, params).tolist() == full[: t + 1].tolist(), f"bar {t}"


@PROPERTY_SETTINGS
@given(strategy_runs(), st.data())
def test_changing_bars_after_t_never_changes_decisions_or_fills_up_to_t_plus_1(case, data):
    kind, params, (close, gaps, wicks), commission, slippage = case
    n = close.size
    t = data.draw(st.integers(0, n - 3), label="t")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed of the new future"))
    changed_close = close.copy()
    changed_close[t + 1:] = close[t] * np.exp(np.cumsum(rng.normal(0, 0.05, n - t - 1)))
    # keep bar t+1's open (the fill price of a decision made at t) and change everything else after t
    changed_gaps = gaps.copy()
    changed_gaps[t + 2:] = rng.normal(0, 0.02, n - t - 2)
    changed_wicks = wicks.copy()
    changed_wicks[t + 1:] = np.abs(rng.normal(0, 0.02, n - t - 1))
    original, changed = bars_from_path(close, gaps, wicks), bars_from_path(changed_close, changed_gaps, changed_wicks)
    assert changed.open[t + 1] == pytest.approx(original.open[t + 1])

    assert bt.target_positions(changed, kind, params)[: t + 1].tolist() == bt.target_positions(original, kind, params)[: t + 1].tolist()
    costs = {"commission_bps": commission, "slippage_bps": slippage}
    before = [e["signals"] for e in bt.stream(original, kind, params, **costs)][: t + 2]
    after = [e["signals"] for e in bt.stream(changed, kind, params, **costs)][: t + 2]
    assert same(after, before)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.01, 1e6), min_size=1, max_size=300))
def test_max_drawdown_is_between_0_and_100_percent(equity):
    value = max_drawdown_pct(equity)
    assert value is None if len(equity) < 2 else 0.0 <= value <= 100.0


# Returns at a resolution of 1e-8 (a millionth of a percent): finer values square into subnormal
# floats, where scaling is no longer exact in IEEE arithmetic whatever the formula.
daily_returns = st.floats(-0.5, 0.5).map(lambda r: round(r, 8))


@settings(max_examples=200, deadline=None)
@given(st.lists(daily_returns, min_size=2, max_size=300), st.floats(1e-3, 1e3))
def test_sharpe_is_unchanged_when_returns_are_scaled(period_returns, scale):
    base = sharpe_ratio(period_returns)
    scaled = sharpe_ratio(np.array(period_returns) * scale)
    if base is None:
        # zero dispersion stays zero dispersion at any positive scale (up to rounding at the edge)
        assert scaled is None or abs(scaled) > 1e6
    else:
        assert scaled == pytest.approx(base, rel=1e-9, abs=1e-9)


def test_a_grid_with_a_bad_value_or_name_is_rejected_before_running_anything():
    with pytest.raises(bt.InvalidParameters, match="fast must be a number, got 'abc'"):
        bt.parameter_grid("sma_cross", {"fast": [5, "abc"], "slow": [30]})
    with pytest.raises(bt.InvalidParameters, match="window must be between 2 and 250"):
        bt.parameter_grid("donchian_breakout", {"window": [10, 900]})
    with pytest.raises(bt.InvalidParameters, match="unknown parameter.*speed"):
        bt.parameter_grid("sma_cross", {"speed": [1]})
    with pytest.raises(bt.InvalidParameters, match="at least one value"):
        bt.parameter_grid("sma_cross", {"fast": []})
