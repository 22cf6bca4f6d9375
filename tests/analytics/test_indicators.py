"""Known-answer tests for analytics.indicators, worked by hand.

Conventions (METRICS.md and the module docstring): SMA = mean of the n closes ending at t;
EMA alpha = 2/(n+1) seeded with the first close, reported from the n-th bar; RSI = Wilder's
ewm(alpha=1/n, adjust=False) of gains and losses of close differences, reported from the n-th
difference, flat market = 50; ATR = Wilder's smoothing of the true range (first bar h - l),
reported from the n-th bar; Bollinger uses the population std (ddof=0); Donchian is the highest
high / lowest low of the n bars ending at t.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics import indicators as ind

approx = pytest.approx
nan = math.nan


def assert_series(got, expected):
    """Equal element by element, NaN where expected is NaN, floats compared approximately."""
    got = np.asarray(got, dtype=float)
    assert got.shape == (len(expected),)
    for i, (g, e) in enumerate(zip(got, expected)):
        if math.isnan(e):
            assert math.isnan(g), f"index {i}: expected NaN, got {g}"
        else:
            assert g == approx(e), f"index {i}: expected {e}, got {g}"


# --------------------------------------------------------------------------- SMA


def test_sma_is_the_mean_of_the_n_closes_ending_at_t():
    # (1+2+3)/3 = 2, (2+3+4)/3 = 3, (3+4+5)/3 = 4
    assert_series(ind.sma([1, 2, 3, 4, 5], 3), [nan, nan, 2, 3, 4])


def test_sma_of_irregular_closes():
    # (10+11)/2, (11+9)/2, (9+12)/2, (12+12)/2
    assert_series(ind.sma([10, 11, 9, 12, 12], 2), [nan, 10.5, 10, 10.5, 12])


def test_sma_of_window_one_is_the_close():
    assert_series(ind.sma([3, 1, 4], 1), [3, 1, 4])


def test_sma_accepts_a_pandas_series_and_returns_numpy():
    got = ind.sma(pd.Series([2.0, 4.0, 6.0], index=[10, 20, 30]), 2)
    assert isinstance(got, np.ndarray)
    assert_series(got, [nan, 3, 5])


def test_sma_longer_than_the_data_is_all_nan():
    assert_series(ind.sma([1, 2], 3), [nan, nan])


# --------------------------------------------------------------------------- EMA


def test_ema_is_seeded_with_the_first_close_and_reported_from_the_nth_bar():
    # n = 3 -> alpha = 2/4 = 0.5
    # e0 = 10
    # e1 = 0.5*11 + 0.5*10    = 10.5
    # e2 = 0.5*9  + 0.5*10.5  = 9.75     (an SMA seed would give 10)
    # e3 = 0.5*12 + 0.5*9.75  = 10.875
    # e4 = 0.5*12 + 0.5*10.875 = 11.4375
    assert_series(ind.ema([10, 11, 9, 12, 12], 3), [nan, nan, 9.75, 10.875, 11.4375])


def test_ema_with_alpha_two_thirds():
    # n = 2 -> alpha = 2/3 ; e0 = 3 ; e1 = 2/3*6 + 1/3*3 = 5 ; e2 = 2/3*3 + 1/3*5 = 11/3
    assert_series(ind.ema([3, 6, 3], 2), [nan, 5, 11 / 3])


# --------------------------------------------------------------------------- RSI


def test_rsi_wilder_n2_worked_by_hand():
    # closes 10 12 11 14 13 13 ; diffs +2 -1 +3 -1 0 ; alpha = 1/2
    # gains 2 0 3 0 0 -> avg_gain: 2, 1, 2, 1, 0.5
    # losses 0 1 0 1 0 -> avg_loss: 0, 0.5, 0.25, 0.625, 0.3125
    # reported from the 2nd difference (index 2):
    #   idx2 RS = 1/0.5 = 2        -> 100 - 100/3   = 66.667
    #   idx3 RS = 2/0.25 = 8       -> 100 - 100/9   = 88.889
    #   idx4 RS = 1/0.625 = 1.6    -> 100 - 100/2.6 = 61.538
    #   idx5 RS = 0.5/0.3125 = 1.6 -> 61.538
    expected = [nan, nan, 100 - 100 / 3, 100 - 100 / 9, 100 - 100 / 2.6, 100 - 100 / 2.6]
    assert_series(ind.rsi([10, 12, 11, 14, 13, 13], 2), expected)


def test_rsi_wilder_n3_worked_by_hand():
    # closes 44 46 45 47 49 48 ; diffs +2 -1 +2 +2 -1 ; alpha = 1/3
    # avg_gain: 2, 4/3, 14/9, 46/27, 92/81
    # avg_loss: 0, 1/3, 2/9,  4/27,  35/81
    # idx3 RS = 7 -> 87.5 ; idx4 RS = 11.5 -> 92 ; idx5 RS = 92/35 -> 100 - 3500/127
    expected = [nan, nan, nan, 87.5, 92.0, 100 - 3500 / 127]
    assert_series(ind.rsi([44, 46, 45, 47, 49, 48], 3), expected)


def test_rsi_is_100_without_losses_and_0_without_gains():
    assert_series(ind.rsi([1, 2, 3, 4], 2), [nan, nan, 100, 100])
    assert_series(ind.rsi([4, 3, 2, 1], 2), [nan, nan, 0, 0])


def test_rsi_of_a_flat_market_is_50():
    assert_series(ind.rsi([5, 5, 5, 5], 2), [nan, nan, 50, 50])


def test_rsi_default_window_is_14():
    closes = [1.0 + (i % 3) for i in range(20)]
    got = ind.rsi(closes)
    assert np.isnan(got[:14]).all()
    assert np.isfinite(got[14:]).all()


# --------------------------------------------------------------------------- true range / ATR

# bar  high  low   close  prev close  true range
#  0   10    8     9      -           10-8 = 2
#  1   11    8     10     9           max(3, |11-9|=2, |8-9|=1)    = 3
#  2   15    13    14     10          gap up: max(2, 5, 3)          = 5
#  3   12    11    11.5   14          gap down: max(1, 2, |11-14|=3) = 3
#  4   12.5  11    12     11.5        max(1.5, 1, 0.5)              = 1.5
HIGH = [10, 11, 15, 12, 12.5]
LOW = [8, 8, 13, 11, 11]
CLOSE = [9, 10, 14, 11.5, 12]


def test_true_range_includes_gaps_against_the_previous_close():
    assert_series(ind.true_range(HIGH, LOW, CLOSE), [2, 3, 5, 3, 1.5])


def test_atr_is_wilder_smoothing_of_true_range():
    # n = 3, alpha = 1/3, seeded with the first true range:
    # a0 = 2
    # a1 = 2/3*2     + 1/3*3   = 7/3
    # a2 = 2/3*7/3   + 1/3*5   = 29/9      (reported from the 3rd bar)
    # a3 = 2/3*29/9  + 1/3*3   = 85/27
    # a4 = 2/3*85/27 + 1/3*1.5 = 210.5/81
    assert_series(ind.atr(HIGH, LOW, CLOSE, 3), [nan, nan, 29 / 9, 85 / 27, 210.5 / 81])


def test_atr_n2_worked_by_hand():
    # alpha = 1/2: 2 -> 2.5 -> 3.75 -> 3.375 -> 2.4375, reported from bar 1
    assert_series(ind.atr(HIGH, LOW, CLOSE, 2), [nan, 2.5, 3.75, 3.375, 2.4375])


def test_true_range_rejects_arrays_of_different_lengths():
    with pytest.raises(ValueError):
        ind.true_range([1, 2, 3], [0, 1], [1, 2, 3])


# --------------------------------------------------------------------------- Bollinger


def test_bollinger_uses_population_std():
    # n = 2, k = 2
    # [1, 3]: mean 2, pop std sqrt(((1-2)^2 + (3-2)^2)/2) = 1 -> 0, 2, 4   (ddof=1 would be sqrt2)
    # [3, 3]: mean 3, std 0 -> 3, 3, 3
    # [3, 7]: mean 5, pop std 2 -> 1, 5, 9
    bands = ind.bollinger_bands([1, 3, 3, 7], 2, 2.0)
    assert_series(bands.lower, [nan, 0, 3, 1])
    assert_series(bands.middle, [nan, 2, 3, 5])
    assert_series(bands.upper, [nan, 4, 3, 9])


def test_bollinger_classic_population_example_and_k():
    # 2 4 4 4 5 5 7 9: mean 5, squared deviations 9 1 1 1 0 0 4 16 = 32, /8 = 4 -> std 2
    closes = [2, 4, 4, 4, 5, 5, 7, 9]
    lower, middle, upper = ind.bollinger_bands(closes, 8, 1.5)
    assert_series(middle, [nan] * 7 + [5])
    assert_series(lower, [nan] * 7 + [5 - 1.5 * 2])
    assert_series(upper, [nan] * 7 + [5 + 1.5 * 2])


def test_bollinger_middle_band_is_the_sma():
    closes = [10, 11, 9, 12, 12, 15]
    assert_series(ind.bollinger_bands(closes, 3).middle, list(ind.sma(closes, 3)))


# --------------------------------------------------------------------------- Donchian


def test_donchian_channel_is_highest_high_lowest_low_and_midpoint():
    high = [5, 7, 6, 4, 8]
    low = [3, 1, 4, 3, 5]
    # idx2: max(5,7,6)=7 min(3,1,4)=1 ; idx3: max(7,6,4)=7 min(1,4,3)=1 ; idx4: max(6,4,8)=8 min(4,3,5)=3
    ch = ind.donchian_channel(high, low, 3)
    assert_series(ch.upper, [nan, nan, 7, 7, 8])
    assert_series(ch.lower, [nan, nan, 1, 1, 3])
    assert_series(ch.middle, [nan, nan, 4, 4, 5.5])


# --------------------------------------------------------------------------- warm-up NaN

N = 4
BARS = 12


def _bars(seed=0, length=BARS):
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(0, 1, length))
    high = close + rng.uniform(0.1, 1.0, length)
    low = close - rng.uniform(0.1, 1.0, length)
    return high, low, close


# name -> (function of (high, low, close, window) returning a list of arrays, first valid index)
INDICATORS = {
    "sma": (lambda h, l, c, n: [ind.sma(c, n)], N - 1),
    "ema": (lambda h, l, c, n: [ind.ema(c, n)], N - 1),
    "rsi": (lambda h, l, c, n: [ind.rsi(c, n)], N),
    "atr": (lambda h, l, c, n: [ind.atr(h, l, c, n)], N - 1),
    "bollinger": (lambda h, l, c, n: list(ind.bollinger_bands(c, n, 2.0)), N - 1),
    "donchian": (lambda h, l, c, n: list(ind.donchian_channel(h, l, n)), N - 1),
}


@pytest.mark.parametrize("name", list(INDICATORS))
def test_indicator_is_nan_during_warm_up_and_defined_after(name):
    fn, first_valid = INDICATORS[name]
    h, l, c = _bars()
    for out in fn(h, l, c, N):
        assert len(out) == BARS
        assert np.isnan(out[:first_valid]).all(), out
        assert np.isfinite(out[first_valid:]).all(), out


# --------------------------------------------------------------------------- causality


@pytest.mark.parametrize("name", list(INDICATORS))
def test_no_value_at_t_changes_when_bars_after_t_change(name):
    fn, _ = INDICATORS[name]
    h, l, c = _bars(seed=1)
    base = fn(h, l, c, N)
    h2, l2, c2 = _bars(seed=2)
    for t in range(BARS):
        # keep bars 0..t, replace every later bar with different (and much larger) prices
        h_mix = np.concatenate([h[: t + 1], h2[t + 1 :] * 3])
        l_mix = np.concatenate([l[: t + 1], l2[t + 1 :] * 3])
        c_mix = np.concatenate([c[: t + 1], c2[t + 1 :] * 3])
        changed = fn(h_mix, l_mix, c_mix, N)
        for before, after in zip(base, changed):
            np.testing.assert_array_equal(after[: t + 1], before[: t + 1])


# --------------------------------------------------------------------------- invalid windows


def _call(name, window):
    h, l, c = _bars()
    return {
        "sma": lambda: ind.sma(c, window),
        "ema": lambda: ind.ema(c, window),
        "rsi": lambda: ind.rsi(c, window),
        "atr": lambda: ind.atr(h, l, c, window),
        "bollinger": lambda: ind.bollinger_bands(c, window),
        "donchian": lambda: ind.donchian_channel(h, l, window),
    }[name]()


@pytest.mark.parametrize("window", [0, 2.5, -1])
@pytest.mark.parametrize("name", list(INDICATORS))
def test_invalid_window_raises_value_error(name, window):
    with pytest.raises(ValueError):
        _call(name, window)


@pytest.mark.parametrize("k", [0, -1, math.nan])
def test_bollinger_rejects_a_non_positive_k(k):
    with pytest.raises(ValueError):
        ind.bollinger_bands([1, 2, 3], 2, k)


def test_two_dimensional_close_is_rejected():
    with pytest.raises(ValueError):
        ind.sma([[1, 2], [3, 4]], 2)


# --------------------------------------------------------------------------- SMA from running sums


@pytest.mark.parametrize("seed", range(4))
def test_sma_from_running_sums_is_a_compensated_rolling_mean(seed):
    # Prices on a cent grid with runs of equal closes: ties and flat windows, where rounding shows.
    rng = np.random.default_rng(seed)
    steps = rng.choice([-1, 0, 0, 1], 5_000) * rng.integers(1, 4, 5_000)
    closes = np.round(rng.choice([0.5, 120.0, 60_000.0]) + np.cumsum(steps) * 0.01, 2)
    closes[1000:1100] = closes[1000]  # a flat stretch longer than every window
    sums = ind.running_sums(closes)
    for window in (1, 2, 10, 30, 400):
        got = ind.window_mean(sums, window)
        exact = [math.fsum(closes[t - window + 1:t + 1]) / window for t in range(window - 1, closes.size)]
        assert np.isnan(got[:window - 1]).all()
        np.testing.assert_allclose(got[window - 1:], exact, rtol=4e-16 * window, atol=0)
        flat = np.flatnonzero([len(set(closes[t - window + 1:t + 1])) == 1 for t in range(window - 1, closes.size)])
        assert (got[window - 1:][flat] == closes[window - 1:][flat]).all()  # a flat window's mean is its value exactly
        np.testing.assert_allclose(got, pd.Series(closes).rolling(window).mean(), rtol=1e-13, atol=1e-12)


def test_a_window_longer_than_the_series_is_all_nan():
    assert np.isnan(ind.window_mean(ind.running_sums([1.0, 2.0]), 3)).all()


def test_sma_is_nan_where_its_window_holds_a_nan_and_defined_again_after():
    closes = [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 6.0, 6.0]
    assert_series(ind.sma(closes, 2), [nan, 1.5, nan, nan, 4.5, 5.5, 6.0, 6.0])
    assert_series(ind.sma(closes, 3), list(pd.Series(closes).rolling(3).mean()))
