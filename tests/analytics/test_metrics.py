"""Known-answer tests for analytics.metrics, worked by hand from shared/METRICS.md.

Every expected value is written as the arithmetic that produces it (or as a literal with the
derivation in a comment), never by re-running the same formula through numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics import metrics as m

approx = pytest.approx

Z_05 = -1.6448536  # METRICS.md: z_0.05


def is_finite_or_none(value) -> bool:
    return value is None or (isinstance(value, float) and math.isfinite(value))


# --------------------------------------------------------------------------- series: returns


def test_returns_are_simple_returns_from_the_second_point():
    # 110/100 - 1 = 0.1 ; 99/110 - 1 = -0.1 ; 108.9/99 - 1 = 0.1
    got = m.returns([100, 110, 99, 108.9])
    assert list(got) == approx([0.1, -0.1, 0.1])


def test_returns_of_a_single_point_are_empty():
    assert len(m.returns([100])) == 0


def test_returns_accept_a_pandas_series():
    s = pd.Series([100.0, 125.0, 100.0], index=pd.date_range("2024-01-01", periods=3))
    # 125/100 - 1 = 0.25 ; 100/125 - 1 = -0.2
    assert list(m.returns(s)) == approx([0.25, -0.2])


def test_returns_of_several_curves_are_computed_per_row():
    got = m.returns([[100, 110, 121], [100, 50, 75]])
    assert got.shape == (2, 2)
    assert list(got[0]) == approx([0.1, 0.1])  # 110/100-1, 121/110-1
    assert list(got[1]) == approx([-0.5, 0.5])  # 50/100-1, 75/50-1


# --------------------------------------------------------------------------- series: daily equity


def test_daily_equity_keeps_the_last_value_of_each_day_and_carries_gaps_forward():
    s = pd.Series(
        [105.0, 100.0, 110.0, 108.0],
        index=pd.to_datetime(
            [
                "2024-01-01 17:00",  # later on Jan 1 -> the day's value
                "2024-01-01 09:00",  # (given out of order on purpose)
                "2024-01-03 12:00",  # Jan 2 has no snapshot -> carries 105 forward
                "2024-01-05 23:59",  # Jan 4 has no snapshot -> carries 110 forward
            ]
        ),
    )
    got = m.daily_equity(s)
    assert [d.date().isoformat() for d in got.index] == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
    ]
    assert list(got) == [105.0, 105.0, 110.0, 110.0, 108.0]


def test_daily_equity_buckets_by_utc_calendar_day():
    # New York is UTC-5 in January:
    #   Jan 1 10:00 NY = Jan 1 15:00 UTC -> UTC day Jan 1
    #   Jan 1 20:00 NY = Jan 2 01:00 UTC -> UTC day Jan 2
    #   Jan 2 18:00 NY = Jan 2 23:00 UTC -> UTC day Jan 2 (the last one that day)
    idx = pd.DatetimeIndex(
        ["2024-01-01 10:00", "2024-01-01 20:00", "2024-01-02 18:00"], tz="America/New_York"
    )
    got = m.daily_equity(pd.Series([100.0, 101.0, 102.0], index=idx))
    assert [d.date().isoformat() for d in got.index] == ["2024-01-01", "2024-01-02"]
    assert list(got) == [100.0, 102.0]


def test_daily_equity_treats_naive_timestamps_as_utc():
    idx = pd.to_datetime(["2024-03-01 23:30", "2024-03-02 00:30"])
    got = m.daily_equity(pd.Series([1.0, 2.0], index=idx))
    assert [d.date().isoformat() for d in got.index] == ["2024-03-01", "2024-03-02"]
    assert list(got) == [1.0, 2.0]


# --------------------------------------------------------------------------- series: drawdown


def test_drawdown_pct_is_percent_below_the_running_peak():
    # peaks: 100 120 120 130 130
    # 90/120 - 1 = -25 % ; 104/130 - 1 = -20 %
    got = m.drawdown_pct([100, 120, 90, 130, 104])
    assert list(got) == approx([0.0, 0.0, -25.0, 0.0, -20.0])


# --------------------------------------------------------------------------- total return


def test_total_return_pct_from_first_and_last_equity():
    expected = (104 / 100 - 1) * 100  # 4 %
    assert m.total_return_pct([100, 120, 90, 130, 104]) == approx(expected)


def test_total_return_pct_can_be_negative():
    expected = (80 / 100 - 1) * 100  # -20 %
    assert m.total_return_pct([100, 150, 80]) == approx(expected)


@pytest.mark.parametrize("equity", [[100], []])
def test_total_return_pct_is_none_with_fewer_than_two_points(equity):
    assert m.total_return_pct(equity) is None


# --------------------------------------------------------------------------- CAGR


def test_cagr_pct_uses_number_of_returns_and_periods_per_year():
    # n = 2 returns, P = 4: (121/100) ^ (4/2) - 1 = 1.4641 - 1 = 46.41 %
    assert m.cagr_pct([100, 110, 121], periods_per_year=4) == approx(46.41)


def test_cagr_pct_with_n_equal_to_p_is_the_total_return():
    # n = 3 returns, P = 3: (108.9/100) ^ 1 - 1 = 8.9 %
    assert m.cagr_pct([100, 110, 99, 108.9], periods_per_year=3) == approx(8.9)


def test_cagr_pct_defaults_to_252_periods_per_year():
    # n = 252 returns of a curve that doubles: 2 ^ (252/252) - 1 = 100 %
    equity = [100.0] * 252 + [200.0]
    assert m.cagr_pct(equity) == approx(100.0)


def test_cagr_pct_annualises_a_short_curve():
    # n = 1 return of +1 %, P = 252: 1.01 ^ 252 - 1
    expected = (1.01**252 - 1) * 100
    assert m.cagr_pct([100, 101]) == approx(expected)


def test_cagr_pct_is_none_when_there_are_no_returns():
    assert m.cagr_pct([100]) is None


# --------------------------------------------------------------------------- volatility

# returns [0.03, 0.01, -0.01]: mean 0.01, deviations 0.02, 0, -0.02,
# sum of squares 0.0008, / (n-1 = 2) = 0.0004, ddof=1 std = 0.02
R3 = [0.03, 0.01, -0.01]


def test_volatility_pct_is_annualised_sample_std():
    expected = 0.02 * math.sqrt(252) * 100  # 31.749...
    assert m.volatility_pct(R3) == approx(expected)


def test_volatility_pct_of_two_opposite_returns():
    # [0.1, -0.1]: mean 0, ddof=1 var = (0.01 + 0.01) / 1 = 0.02
    expected = math.sqrt(0.02) * math.sqrt(252) * 100
    assert m.volatility_pct([0.1, -0.1]) == approx(expected)


def test_volatility_pct_follows_periods_per_year():
    expected = 0.02 * math.sqrt(365) * 100  # 38.2099...
    assert m.volatility_pct(R3, periods_per_year=365) == approx(expected)


@pytest.mark.parametrize("rets", [[0.01], []])
def test_volatility_pct_is_none_with_fewer_than_two_returns(rets):
    assert m.volatility_pct(rets) is None


# --------------------------------------------------------------------------- Sharpe


def test_sharpe_is_mean_over_sample_std_annualised():
    # mean 0.01 / std 0.02 = 0.5 ; * sqrt(252)
    expected = 0.5 * math.sqrt(252)  # 7.937...
    assert m.sharpe_ratio(R3) == approx(expected)


def test_sharpe_follows_periods_per_year():
    assert m.sharpe_ratio(R3, periods_per_year=365) == approx(0.5 * math.sqrt(365))


def test_sharpe_converts_annual_risk_free_by_compounding():
    # P = 2, rf = 21 %: rf_p = 1.21 ^ (1/2) - 1 = 0.1 exactly (not 0.21 / 2 = 0.105)
    # x = [0.4, 0.2, 0.0] - 0.1 = [0.3, 0.1, -0.1]: mean 0.1, ddof=1 std 0.2
    expected = 0.1 / 0.2 * math.sqrt(2)  # 0.7071...
    assert m.sharpe_ratio([0.4, 0.2, 0.0], risk_free=0.21, periods_per_year=2) == approx(expected)


def test_sharpe_risk_free_at_default_252_periods():
    rf_p = 1.05 ** (1 / 252) - 1  # per-period rate from 5 % a year
    expected = (0.01 - rf_p) / 0.02 * math.sqrt(252)  # std of x = std of r = 0.02
    assert m.sharpe_ratio(R3, risk_free=0.05) == approx(expected, rel=1e-9)


def test_sharpe_of_zero_mean_returns_is_zero():
    assert m.sharpe_ratio([0.1, -0.1]) == approx(0.0)


@pytest.mark.parametrize("rets", [[0.01], []])
def test_sharpe_is_none_with_fewer_than_two_returns(rets):
    assert m.sharpe_ratio(rets) is None


@pytest.mark.parametrize("rets", [[0.01, 0.01, 0.01], [0.0, 0.0], [-0.02] * 5])
def test_sharpe_is_none_when_returns_are_constant(rets):
    assert m.sharpe_ratio(rets) is None
    assert m.sharpe_ratio(rets, risk_free=0.03) is None


def test_sharpe_is_none_for_a_steady_compounding_curve():
    # 100 -> 110 -> 121 -> 133.1: every return is 10 % (up to rounding)
    assert m.sharpe_ratio(m.returns([100, 110, 121, 133.1])) is None


# --------------------------------------------------------------------------- Sortino


def test_sortino_uses_downside_deviation_over_all_n_returns():
    # R3: mean 0.01 ; min(x,0) = [0, 0, -0.01] ; sum of squares 0.0001 / n=3
    # downside dev = 0.01 / sqrt(3) ; 0.01 / (0.01/sqrt(3)) = sqrt(3) ; * sqrt(252)
    expected = math.sqrt(3) * math.sqrt(252)  # = sqrt(756) = 27.495...
    assert m.sortino_ratio(R3) == approx(expected)


def test_sortino_converts_annual_risk_free_by_compounding():
    # P = 2, rf = 21 % -> rf_p = 0.1 ; x = [0.3, 0.1, -0.1], mean 0.1
    # downside dev = sqrt(0.01 / 3) ; 0.1 / sqrt(0.01/3) = sqrt(3) ; * sqrt(2) = sqrt(6)
    got = m.sortino_ratio([0.4, 0.2, 0.0], risk_free=0.21, periods_per_year=2)
    assert got == approx(math.sqrt(6))


def test_sortino_counts_negative_excess_returns_not_negative_returns():
    # every return is positive, but rf_p = 0.1 makes x = [0.05, 0.25] - 0.1 = [-0.05, 0.15]
    # mean 0.05 ; downside dev = sqrt(0.0025 / 2) = 0.05 / sqrt(2) ; ratio sqrt(2) ; * sqrt(2) = 2
    got = m.sortino_ratio([0.05, 0.25], risk_free=0.21, periods_per_year=2)
    assert got == approx(2.0)


def test_sortino_follows_periods_per_year():
    assert m.sortino_ratio(R3, periods_per_year=365) == approx(math.sqrt(3) * math.sqrt(365))


@pytest.mark.parametrize("rets", [[0.01, 0.02], [0.0, 0.01], [0.0, 0.0], [0.05]])
def test_sortino_is_none_when_no_excess_return_is_negative(rets):
    assert m.sortino_ratio(rets) is None


# --------------------------------------------------------------------------- max drawdown


def test_max_drawdown_pct_is_positive_and_uses_the_running_peak():
    # peaks 100 120 120 130 130 -> drawdowns 0, 0, -25 %, 0, -20 % -> 25
    # (not (130 - 90) / 130 = 30.8 %, which compares with a later peak)
    assert m.max_drawdown_pct([100, 120, 90, 130, 104]) == approx(25.0)


def test_max_drawdown_pct_of_a_rising_curve_is_zero():
    assert m.max_drawdown_pct([100, 101, 105, 110]) == 0.0


def test_max_drawdown_pct_of_a_curve_falling_from_the_start():
    # 60/100 - 1 = -40 %
    assert m.max_drawdown_pct([100, 80, 60, 70]) == approx(40.0)


@pytest.mark.parametrize("equity", [[100], []])
def test_max_drawdown_pct_is_none_with_fewer_than_two_points(equity):
    assert m.max_drawdown_pct(equity) is None


def test_max_drawdown_is_a_total_loss_when_equity_goes_below_zero():
    # The raw formula would give -(-50/100 - 1) * 100 = 150; a drawdown is capped at losing
    # everything (100 %), so max drawdown stays in [0, 100] as the analytics issue requires.
    assert m.drawdown_pct([100, -50])[1] == approx(-100.0)
    assert m.max_drawdown_pct([100, -50]) == approx(100.0)


def test_daily_equity_rejects_a_missing_snapshot_value():
    index = pd.to_datetime(["2024-01-02 09:00", "2024-01-02 17:00"])
    with pytest.raises(ValueError, match="NaN"):
        m.daily_equity(pd.Series([100.0, float("nan")], index=index))


# --------------------------------------------------------------------------- Calmar


def test_calmar_is_cagr_over_max_drawdown():
    # P = 3, n = 3: CAGR = 110/100 - 1 = 10 % ; max drawdown 90/120 - 1 = -25 % -> 25
    # Calmar = 10 / 25 = 0.4
    assert m.calmar_ratio([100, 120, 90, 110], periods_per_year=3) == approx(0.4)


def test_calmar_default_periods_per_year():
    # n = 3, P = 252: CAGR = (1.1 ^ 84 - 1) * 100 ; max drawdown 25
    expected = (1.1 ** (252 / 3) - 1) * 100 / 25
    assert m.calmar_ratio([100, 120, 90, 110]) == approx(expected)


def test_calmar_is_none_when_max_drawdown_is_zero():
    assert m.calmar_ratio([100, 110, 120]) is None
    assert m.calmar_ratio([100, 100, 100]) is None


def test_calmar_is_none_with_a_single_point():
    assert m.calmar_ratio([100]) is None


# --------------------------------------------------------------------------- VaR / CVaR

# 20 returns: two losses and 18 gains of 1 %, deliberately unsorted.
# sorted: -0.05, -0.03, 0.01 ...; linear quantile at 0.05: position (20-1)*0.05 = 0.95
# -> -0.05 + 0.95 * (-0.03 - -0.05) = -0.031 -> VaR 0.031
# tail r <= -0.031 is {-0.05} -> CVaR 0.05
R20 = [0.01] * 7 + [-0.03] + [0.01] * 5 + [-0.05] + [0.01] * 6

# 21 returns: position (21-1)*0.05 = 1.0 -> quantile = 2nd smallest = -0.02 -> VaR 0.02
# tail r <= -0.02 is {-0.04, -0.02} -> CVaR = (0.04 + 0.02) / 2 = 0.03
R21 = [0.01] * 10 + [-0.02] + [0.01] * 3 + [-0.04] + [0.01] * 6


def test_var_historical_interpolates_the_5_percent_quantile():
    assert len(R20) == 20
    assert m.var_historical(R20) == approx(0.031)


def test_var_historical_on_an_exact_order_statistic():
    assert len(R21) == 21
    assert m.var_historical(R21) == approx(0.02)


def test_var_historical_in_money_is_fraction_times_latest_equity():
    latest_equity = 250_000
    assert m.var_historical(R20) * latest_equity == approx(0.031 * 250_000)  # 7,750


def test_var_historical_is_none_below_20_returns():
    assert m.var_historical(R20[:19]) is None
    assert m.var_historical([]) is None


def test_cvar_historical_averages_returns_at_or_below_the_quantile():
    assert m.cvar_historical(R20) == approx(0.05)
    assert m.cvar_historical(R21) == approx(0.03)


def test_cvar_historical_includes_ties_at_the_quantile():
    # 21 returns, sorted -0.04, -0.02, -0.02, ...: quantile = 2nd smallest = -0.02
    # tail = {-0.04, -0.02, -0.02} -> CVaR = 0.08 / 3
    rets = [0.01] * 5 + [-0.02, -0.04, -0.02] + [0.01] * 13
    assert m.cvar_historical(rets) == approx(0.08 / 3)


def test_cvar_historical_is_none_below_20_returns():
    assert m.cvar_historical(R20[:19]) is None


def test_var_parametric_with_zero_mean():
    # [0.1, -0.1]: mean 0, ddof=1 std sqrt(0.02) -> VaR = 1.6448536 * sqrt(0.02) = 0.23261743
    assert m.var_parametric([0.1, -0.1]) == approx(-(0.0 + Z_05 * math.sqrt(0.02)))


def test_var_parametric_with_nonzero_mean():
    # R3: mean 0.01, std 0.02 -> -(0.01 - 1.6448536 * 0.02) = 0.032897072 - 0.01 = 0.022897072
    assert m.var_parametric(R3) == approx(0.022897072)


def test_var_parametric_uses_the_spec_z_value_exactly():
    # METRICS.md fixes z_0.05 = -1.6448536 (the code's own comment says it uses exactly that).
    # Returns [1, -1]: mean 0, std sqrt(2) -> 1.6448536 * sqrt(2) = 2.32617426923...
    # The exact normal quantile (-1.64485362695...) would give 2.32617430735...
    assert m.var_parametric([1.0, -1.0]) == approx(1.6448536 * math.sqrt(2), rel=1e-12, abs=0)


@pytest.mark.parametrize("rets", [[0.01], []])
def test_var_parametric_is_none_with_fewer_than_two_returns(rets):
    assert m.var_parametric(rets) is None


# --------------------------------------------------------------------------- beta

# benchmark: +-1 % alternating around a 0.2 % drift; noise: +-0.5 % with period 4, which has
# mean 0 and zero covariance with the alternating pattern (1*1 - 1*1 - 1*1 + 1*1 = 0 per cycle).
ALT = [1.0 if i % 2 == 0 else -1.0 for i in range(20)]
B20 = [0.002 + 0.01 * a for a in ALT]
NOISE20 = [0.005 * (1.0 if i % 4 < 2 else -1.0) for i in range(20)]


def test_beta_of_a_scaled_benchmark_is_the_scale():
    r = [2 * b + 0.001 for b in B20]  # cov(2b + c, b) / var(b) = 2
    assert m.beta(r, B20) == approx(2.0)


def test_beta_is_covariance_over_variance_not_a_volatility_ratio():
    # r = 0.5 b + e with cov(e, b) = 0 -> beta 0.5
    # (std(r)/std(b) = sqrt(0.25 + 0.25) = 0.707 and corr = 0.707 would both differ)
    r = [0.5 * b + e for b, e in zip(B20, NOISE20)]
    assert m.beta(r, B20) == approx(0.5)


def test_beta_can_be_negative():
    r = [-1.5 * b for b in B20]
    assert m.beta(r, B20) == approx(-1.5)


def test_beta_is_none_with_fewer_than_20_common_days():
    r = [2 * b for b in B20]
    assert m.beta(r[:19], B20[:19]) is None
    assert m.beta(r[:20], B20[:20]) == approx(2.0)


def test_beta_aligns_pandas_series_on_their_dates():
    days = pd.date_range("2024-01-01", periods=30, freq="D")
    # portfolio has days 0..24, benchmark days 5..29 -> 20 common days (5..24)
    bench = pd.Series([0.002 + 0.01 * (1 if i % 2 == 0 else -1) for i in range(25)], index=days[5:30])
    port_values = {}
    for i in range(25):
        day = days[i]
        if day in bench.index:
            port_values[day] = 2 * bench[day] + 0.001  # beta 2 on common days
        else:
            port_values[day] = 0.5 * (-1) ** i  # wild values on days the benchmark lacks
    port = pd.Series(port_values)
    bench = bench.sample(frac=1.0, random_state=3)  # order must not matter, only the dates
    assert m.beta(port, bench) == approx(2.0)


def test_beta_is_none_when_pandas_series_share_fewer_than_20_dates():
    days = pd.date_range("2024-01-01", periods=31, freq="D")
    port = pd.Series([0.01 * (-1) ** i for i in range(25)], index=days[:25])
    bench = pd.Series([0.01 * (-1) ** i for i in range(25)], index=days[6:31])  # 19 common (6..24)
    assert m.beta(port, bench) is None


def test_beta_drops_periods_where_either_return_is_missing():
    r = [2 * b for b in B20] + [0.3, np.nan]
    b = list(B20) + [np.nan, 0.4]
    assert m.beta(r, b) == approx(2.0)
    # removing one more common period leaves 19 -> undefined
    r2 = list(r)
    r2[0] = np.nan
    assert m.beta(r2, b) is None


# --------------------------------------------------------------------------- performance_summary

SUMMARY_KEYS = {
    "total_return_pct",
    "cagr_pct",
    "volatility_pct",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown_pct",
    "calmar_ratio",
    "var_95",
    "var_95_parametric",
    "cvar_95",
}

# Equity 100 -> 110 -> 99 -> 108.9 has returns [0.1, -0.1, 0.1]:
#   mean 1/30 ; deviations 2/30, -4/30, 2/30 ; ddof=1 var = (4+16+4)/900/2 = 0.04/3 ;
#   std = 0.2/sqrt(3)
E4 = [100, 110, 99, 108.9]


def test_performance_summary_of_a_hand_worked_curve():
    s = m.performance_summary(E4, periods_per_year=3)
    assert set(s) == SUMMARY_KEYS
    std = 0.2 / math.sqrt(3)
    assert s["total_return_pct"] == approx(8.9)  # 108.9/100 - 1
    assert s["cagr_pct"] == approx(8.9)  # n = P = 3
    assert s["volatility_pct"] == approx(20.0)  # 0.2/sqrt(3) * sqrt(3) * 100
    assert s["sharpe_ratio"] == approx(0.5)  # (1/30) / (0.2/sqrt3) * sqrt3 = 3/6
    # downside dev sqrt(0.01/3) = 0.1/sqrt3 ; (1/30)/(0.1/sqrt3) * sqrt3 = 1
    assert s["sortino_ratio"] == approx(1.0)
    assert s["max_drawdown_pct"] == approx(10.0)  # 99/110 - 1
    assert s["calmar_ratio"] == approx(0.89)  # 8.9 / 10
    assert s["var_95"] is None  # only 3 returns
    assert s["cvar_95"] is None
    assert s["var_95_parametric"] == approx(-(1 / 30 + Z_05 * std))  # 0.156596...


def test_performance_summary_passes_risk_free_through():
    # P = 2, rf = 21 % -> rf_p = 0.1 ; equity 100, 140, 168, 168 has returns 0.4, 0.2, 0.0
    # x = [0.3, 0.1, -0.1]: Sharpe 0.1/0.2*sqrt2, Sortino sqrt(6) (see the Sortino tests)
    s = m.performance_summary([100, 140, 168, 168], risk_free=0.21, periods_per_year=2)
    assert s["sharpe_ratio"] == approx(0.5 * math.sqrt(2))
    assert s["sortino_ratio"] == approx(math.sqrt(6))
    # volatility is of r, not of x: std of [0.4, 0.2, 0.0] = 0.2 -> 0.2 * sqrt(2) * 100
    assert s["volatility_pct"] == approx(20 * math.sqrt(2))


def _equity_from_returns(rets, start=1000.0):
    equity = [start]
    for r in rets:
        equity.append(equity[-1] * (1 + r))
    return equity


def test_performance_summary_includes_historical_var_with_20_returns():
    s = m.performance_summary(_equity_from_returns(R20))
    assert s["var_95"] == approx(0.031)
    assert s["cvar_95"] == approx(0.05)


def test_performance_summary_has_none_for_every_undefined_value_of_a_one_point_curve():
    s = m.performance_summary([100])
    assert set(s) == SUMMARY_KEYS
    assert all(v is None for v in s.values()), s


def test_performance_summary_of_a_flat_curve():
    s = m.performance_summary([100, 100, 100])
    assert s["total_return_pct"] == 0.0
    assert s["cagr_pct"] == 0.0
    assert s["volatility_pct"] == 0.0
    assert s["max_drawdown_pct"] == 0.0
    assert s["sharpe_ratio"] is None  # std = 0
    assert s["sortino_ratio"] is None  # no negative x
    assert s["calmar_ratio"] is None  # max drawdown = 0
    assert s["var_95"] is None and s["cvar_95"] is None  # n < 20
    assert s["var_95_parametric"] == 0.0


def test_performance_summary_never_returns_nan_or_infinity():
    for equity in ([100, 0, 50], [100, 100], [0, 10, 20], [100, 50, 0]):
        s = m.performance_summary(equity)
        assert all(is_finite_or_none(v) for v in s.values()), (equity, s)


def test_performance_summary_matches_the_individual_functions():
    equity = _equity_from_returns(R21, start=500.0)
    r = m.returns(equity)
    s = m.performance_summary(equity, risk_free=0.02, periods_per_year=365)
    assert s["total_return_pct"] == approx(m.total_return_pct(equity))
    assert s["cagr_pct"] == approx(m.cagr_pct(equity, periods_per_year=365))
    assert s["volatility_pct"] == approx(m.volatility_pct(r, periods_per_year=365))
    assert s["sharpe_ratio"] == approx(m.sharpe_ratio(r, risk_free=0.02, periods_per_year=365))
    assert s["sortino_ratio"] == approx(m.sortino_ratio(r, risk_free=0.02, periods_per_year=365))
    assert s["max_drawdown_pct"] == approx(m.max_drawdown_pct(equity))
    assert s["calmar_ratio"] == approx(m.calmar_ratio(equity, periods_per_year=365))
    assert s["var_95"] == approx(m.var_historical(r))
    assert s["var_95_parametric"] == approx(m.var_parametric(r))
    assert s["cvar_95"] == approx(m.cvar_historical(r))


# --------------------------------------------------------------------------- several curves (2-D)

CURVES = [
    [100, 110, 99, 108.9, 120],  # ordinary
    [100, 100, 100, 100, 100],  # flat: Sharpe, Sortino, Calmar undefined
    [100, 90, 81, 72.9, 65.61],  # steady 10 % losses: Sharpe undefined (constant returns)
]


@pytest.mark.parametrize(
    "fn",
    [m.total_return_pct, m.cagr_pct, m.max_drawdown_pct, m.calmar_ratio],
    ids=lambda f: f.__name__,
)
def test_equity_metric_of_several_curves_is_a_list_in_row_order(fn):
    got = fn(np.array(CURVES, dtype=float))
    assert isinstance(got, list) and len(got) == len(CURVES)
    for value, curve in zip(got, CURVES):
        expected = fn(curve)
        assert value is None if expected is None else value == approx(expected)


@pytest.mark.parametrize(
    "fn",
    [m.volatility_pct, m.sharpe_ratio, m.sortino_ratio, m.var_parametric, m.var_historical, m.cvar_historical],
    ids=lambda f: f.__name__,
)
def test_return_metric_of_several_series_is_a_list_in_row_order(fn):
    rows = [R21, [0.01] * 21, list(reversed(R21)), [0.02, -0.01] * 10 + [0.0]]
    got = fn(np.array(rows))
    assert isinstance(got, list) and len(got) == len(rows)
    for value, row in zip(got, rows):
        expected = fn(row)
        assert value is None if expected is None else value == approx(expected)


def test_several_curves_give_the_hand_worked_values_per_row():
    assert m.total_return_pct([[100, 110], [100, 80]]) == approx([10.0, -20.0])
    assert m.max_drawdown_pct([[100, 110], [100, 80]]) == approx([0.0, 20.0])
    assert m.calmar_ratio([[100, 110], [100, 80]], periods_per_year=1) == [None, approx(-1.0)]
    assert m.sharpe_ratio([[0.03, 0.01, -0.01], [0.01, 0.01, 0.01]]) == [approx(0.5 * math.sqrt(252)), None]


def test_drawdown_pct_of_several_curves_is_per_row():
    got = m.drawdown_pct([[100, 50, 100], [100, 120, 90]])
    assert list(got[0]) == approx([0.0, -50.0, 0.0])
    assert list(got[1]) == approx([0.0, 0.0, -25.0])


def test_performance_summary_of_several_curves_is_a_list_of_per_row_summaries():
    got = m.performance_summary(CURVES, periods_per_year=4)
    assert isinstance(got, list) and len(got) == len(CURVES)
    for summary, curve in zip(got, CURVES):
        one = m.performance_summary(curve, periods_per_year=4)
        assert set(summary) == set(one)
        for key, expected in one.items():
            assert summary[key] is None if expected is None else summary[key] == approx(expected), key
    assert got[1]["sharpe_ratio"] is None
    assert got[2]["sharpe_ratio"] is None


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "fn",
    [m.returns, m.total_return_pct, m.cagr_pct, m.max_drawdown_pct, m.calmar_ratio, m.drawdown_pct, m.performance_summary],
    ids=lambda f: f.__name__,
)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_equity_raises_value_error(fn, bad):
    with pytest.raises(ValueError):
        fn([100.0, bad, 110.0])


@pytest.mark.parametrize(
    "fn",
    [m.volatility_pct, m.sharpe_ratio, m.sortino_ratio, m.var_historical, m.var_parametric, m.cvar_historical],
    ids=lambda f: f.__name__,
)
def test_nan_in_returns_raises_value_error(fn):
    with pytest.raises(ValueError):
        fn([0.01] * 10 + [np.nan] + [0.01] * 10)


def test_nan_in_a_row_of_several_curves_raises_value_error():
    with pytest.raises(ValueError):
        m.total_return_pct([[100, 110], [100, np.nan]])


# --------------------------------------------------------------------------- trades

# closed trades: two winners (100, 200), two losers (-50, -25), one breakeven (0)
PNL = [100.0, -50.0, 0.0, 200.0, -25.0]


def test_win_rate_pct_counts_strictly_positive_trades():
    assert m.win_rate_pct(PNL) == approx(2 / 5 * 100)  # 40 %


def test_breakeven_trade_does_not_count_as_a_win():
    assert m.win_rate_pct([0.0, 0.0, 10.0, -10.0]) == approx(1 / 4 * 100)  # 25 %
    assert m.win_rate_pct([0.0]) == 0.0


def test_avg_win_and_avg_loss():
    assert m.avg_win(PNL) == approx((100 + 200) / 2)  # 150
    assert m.avg_loss(PNL) == approx((-50 - 25) / 2)  # -37.5, negative


def test_breakeven_trade_is_neither_a_win_nor_a_loss_in_the_averages():
    assert m.avg_win([10.0, 0.0]) == approx(10.0)
    assert m.avg_loss([-10.0, 0.0]) == approx(-10.0)


def test_profit_factor_is_gross_profit_over_gross_loss():
    assert m.profit_factor(PNL) == approx((100 + 200) / abs(-50 - 25))  # 4.0


def test_profit_factor_is_none_without_losers():
    assert m.profit_factor([10.0, 0.0, 5.0]) is None
    assert m.profit_factor([]) is None


def test_profit_factor_is_zero_without_winners():
    assert m.profit_factor([-10.0, -5.0, 0.0]) == 0.0


def test_expectancy_is_mean_pnl_per_closed_trade():
    assert m.expectancy(PNL) == approx((100 - 50 + 0 + 200 - 25) / 5)  # 45, breakeven counted


def test_trade_metrics_are_none_without_trades():
    assert m.win_rate_pct([]) is None
    assert m.avg_win([]) is None
    assert m.avg_loss([]) is None
    assert m.expectancy([]) is None


def test_avg_win_is_none_without_winners_and_avg_loss_none_without_losers():
    assert m.avg_win([-1.0, 0.0]) is None
    assert m.avg_loss([1.0, 0.0]) is None


def test_trade_summary_of_the_hand_worked_trades():
    s = m.trade_summary(PNL)
    assert s["number_of_trades"] == 5
    assert s["winning_trades"] == 2
    assert s["losing_trades"] == 2
    assert s["win_rate_pct"] == approx(40.0)
    assert s["avg_win"] == approx(150.0)
    assert s["avg_loss"] == approx(-37.5)
    assert s["profit_factor"] == approx(4.0)
    assert s["expectancy"] == approx(45.0)
    assert s["total_pnl"] == approx(225.0)


def test_trade_summary_accepts_a_pandas_series_and_has_none_for_undefined_values():
    s = m.trade_summary(pd.Series([5.0, 0.0, 15.0]))
    assert s["win_rate_pct"] == approx(2 / 3 * 100)
    assert s["avg_win"] == approx(10.0)
    assert s["avg_loss"] is None
    assert s["profit_factor"] is None  # no losers
    assert s["expectancy"] == approx(20 / 3)


def test_trade_summary_of_no_trades():
    s = m.trade_summary([])
    assert s["number_of_trades"] == 0
    assert s["total_pnl"] == 0.0
    for key in ("win_rate_pct", "avg_win", "avg_loss", "profit_factor", "expectancy"):
        assert s[key] is None, key


@pytest.mark.parametrize(
    "fn", [m.win_rate_pct, m.avg_win, m.avg_loss, m.profit_factor, m.expectancy, m.trade_summary], ids=lambda f: f.__name__
)
def test_nan_trade_pnl_raises_value_error(fn):
    with pytest.raises(ValueError):
        fn([10.0, np.nan])


# --------------------------------------------------------------------------- signals and fills


def test_fill_rate_pct_is_filled_over_sent():
    assert m.fill_rate_pct(7, 8) == approx(7 / 8 * 100)  # 87.5
    assert m.fill_rate_pct(0, 5) == 0.0
    assert m.fill_rate_pct(5, 5) == 100.0


def test_fill_rate_pct_is_none_when_nothing_was_sent():
    assert m.fill_rate_pct(0, 0) is None


@pytest.mark.parametrize("filled, sent", [(9, 8), (1, 0), (-1, 5), (0, -1)])
def test_fill_rate_pct_rejects_impossible_counts(filled, sent):
    with pytest.raises(ValueError):
        m.fill_rate_pct(filled, sent)


def test_lag_summary_with_linear_interpolation_percentiles():
    lags = [10.0, 3.0, 1.0, 4.0, 2.0]  # sorted: 1 2 3 4 10
    s = m.lag_summary(lags)
    assert set(s) == {"avg", "median", "p95", "p99", "max"}
    assert s["avg"] == approx(20 / 5)  # 4
    assert s["median"] == approx(3.0)  # position 4*0.5 = 2
    assert s["p95"] == approx(4 + 0.8 * (10 - 4))  # position 4*0.95 = 3.8 -> 8.8
    assert s["p99"] == approx(4 + 0.96 * (10 - 4))  # position 4*0.99 = 3.96 -> 9.76
    assert s["max"] == 10.0


def test_lag_summary_median_of_an_even_count_interpolates():
    s = m.lag_summary([1.0, 2.0, 4.0, 8.0])
    assert s["median"] == approx((2 + 4) / 2)  # position 3*0.5 = 1.5 -> 3
    assert s["avg"] == approx(15 / 4)
    assert s["p95"] == approx(4 + 0.85 * (8 - 4))  # position 3*0.95 = 2.85 -> 7.4
    assert s["p99"] == approx(4 + 0.97 * (8 - 4))  # position 2.97 -> 7.88


def test_lag_summary_of_a_single_fill():
    s = m.lag_summary([2.5])
    assert s == {"avg": 2.5, "median": 2.5, "p95": 2.5, "p99": 2.5, "max": 2.5}


def test_lag_summary_without_fills_is_all_none():
    assert m.lag_summary([]) == {"avg": None, "median": None, "p95": None, "p99": None, "max": None}


def test_lag_summary_rejects_negative_and_nan_lags():
    with pytest.raises(ValueError):
        m.lag_summary([1.0, -0.5])
    with pytest.raises(ValueError):
        m.lag_summary([1.0, np.nan])


# --------------------------------------------------------------------------- many curves and many trade sets at once


def test_performance_summary_of_many_curves_is_each_curve_from_first_principles():
    rng = np.random.default_rng(8)
    returns_ = rng.normal(0.0004, 0.01, (5, 300))
    returns_[2, 100:200] = 0.0  # flat stretch: ties at the 5 % quantile
    curves = 1_000 * np.cumprod(1 + np.c_[np.zeros(5), returns_], axis=1)
    got = m.performance_summary(curves, risk_free=0.03)
    rf_p = 1.03 ** (1 / 252) - 1
    for curve, summary in zip(curves, got):
        r = curve[1:] / curve[:-1] - 1
        x = r - rf_p
        q = np.quantile(r, 0.05)
        peak = np.maximum.accumulate(curve)
        assert summary["volatility_pct"] == approx(r.std(ddof=1) * math.sqrt(252) * 100)
        assert summary["sharpe_ratio"] == approx(x.mean() / x.std(ddof=1) * math.sqrt(252))
        assert summary["sortino_ratio"] == approx(x.mean() / math.sqrt((np.minimum(x, 0) ** 2).mean()) * math.sqrt(252))
        assert summary["var_95"] == approx(-q)
        assert summary["cvar_95"] == approx(-r[r <= q].mean())
        assert summary["var_95_parametric"] == approx(-(r.mean() - 1.6448536 * r.std(ddof=1)))
        assert summary["max_drawdown_pct"] == approx(-(curve / peak - 1).min() * 100)


def test_trade_summaries_are_each_group_s_trade_summary():
    rng = np.random.default_rng(4)
    pnl = np.round(rng.normal(5, 40, 200), 0)  # some breakeven trades
    group = np.sort(rng.integers(0, 7, 200))
    group[group == 3] = 4  # a group with no trades
    got = m.trade_summaries(pnl, group, 8)
    assert len(got) == 8
    for g, summary in enumerate(got):
        p = pnl[group == g]
        wins, losses = p[p > 0], p[p < 0]
        expected = {
            "number_of_trades": p.size, "winning_trades": wins.size, "losing_trades": losses.size,
            "win_rate_pct": wins.size / p.size * 100 if p.size else None,
            "avg_win": wins.mean() if wins.size else None, "avg_loss": losses.mean() if losses.size else None,
            "profit_factor": wins.sum() / -losses.sum() if losses.size else None,
            "expectancy": p.mean() if p.size else None, "total_pnl": p.sum(),
        }
        assert summary.keys() == expected.keys()
        for key, value in expected.items():
            assert summary[key] == (None if value is None else approx(value)), (g, key)


@pytest.mark.parametrize("zeros", [0.0, 0.5, 0.97])  # a flat book returns exact zeros: ties at the quantile
@pytest.mark.parametrize("losses", [0.5, 0.03])  # many losses, or fewer than 5 % of returns
def test_historical_var_and_cvar_of_one_curve_are_their_definitions(zeros, losses):
    rng = np.random.default_rng(int(zeros * 100 + losses * 1000))
    r = np.abs(rng.normal(0.001, 0.01, 20_000))
    r[rng.random(r.size) < losses] *= -1
    r[rng.random(r.size) < zeros] = 0.0
    q = np.quantile(r, 1 - 0.95)
    assert m.var_historical(r) == -q  # numpy's interpolation, to the bit
    assert m.cvar_historical(r) == approx(-r[r <= q].mean(), rel=1e-12)
