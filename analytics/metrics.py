"""Performance, risk, trade and execution metrics, exactly as ``shared/METRICS.md`` defines them.

Every function takes plain numbers: a 1-D array (or pandas Series / list) for one curve, or a
2-D array whose rows are curves of equal length. One curve gives ``float | None``; several give a
``list[float | None]`` in row order. An undefined value is ``None``, never NaN or infinity.

Conventions (the QuantStats / empyrical family): simple returns ``E_t / E_{t-1} - 1``; annualise
with ``periods_per_year`` (252 by default); ``risk_free`` is an annual rate turned into a
per-period one as ``(1 + rf) ** (1 / P) - 1``; sample statistics use ``ddof=1``; quantiles use
linear interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from analytics.return_stats import ReturnStats

PERIODS_PER_YEAR = 252
VAR_LEVEL = 0.95
MIN_RETURNS_FOR_HISTORICAL_VAR = 20
MIN_COMMON_DAYS_FOR_BETA = 20

Number = float | None


# --------------------------------------------------------------------------- plumbing


def _as_rows(values: Any, name: str) -> tuple[np.ndarray, bool]:
    """Return ``(2-D float array, was_one_dimensional)``; reject NaN and infinity."""
    if isinstance(values, (pd.Series, pd.DataFrame)):
        values = values.to_numpy()
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a sequence of numbers, got a scalar")
    if arr.ndim > 2:
        raise ValueError(f"{name} must be 1-D (one series) or 2-D (one series per row)")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    one = arr.ndim == 1
    return (arr[np.newaxis, :] if one else arr), one


def _out(values: np.ndarray, one: bool) -> Number | list[Number]:
    """NaN / inf become None; one series gives a scalar, several a list."""
    cleaned = [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]
    return cleaned[0] if one else cleaned


def _per_period_rf(risk_free: float, periods_per_year: float) -> float:
    if periods_per_year <= 0:
        raise ValueError("periods_per_year must be positive")
    if risk_free <= -1:
        raise ValueError("risk_free must be greater than -1 (it is an annual rate)")
    return (1.0 + risk_free) ** (1.0 / periods_per_year) - 1.0


def _returns_2d(equity: np.ndarray) -> np.ndarray:
    """Simple returns per row; a return after a non-positive equity is NaN (undefined)."""
    prev = equity[:, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = equity[:, 1:] / prev
    r -= 1.0
    r[prev <= 0] = np.nan
    return r


def _std_is_zero(std: np.ndarray, mean: np.ndarray) -> np.ndarray:
    # Constant returns give a std of a few ulps rather than exactly 0; treat that as zero.
    return std <= 1e-12 * np.abs(mean)


# --------------------------------------------------------------------------- series


def returns(equity: Any) -> np.ndarray:
    """Simple period returns of an equity curve: ``E_t / E_{t-1} - 1`` from the second point on."""
    rows, one = _as_rows(equity, "equity")
    r = _returns_2d(rows)
    return r[0] if one else r


def daily_equity(equity: pd.Series) -> pd.Series:
    """One value per calendar day (UTC), the last value of each day, gaps carried forward.

    ``equity`` is indexed by timestamps (naive timestamps are taken as UTC).
    """
    if not isinstance(equity, pd.Series) or not isinstance(equity.index, pd.DatetimeIndex):
        raise TypeError("daily_equity needs a pandas Series indexed by timestamps")
    if equity.isna().any():
        raise ValueError("equity contains NaN")
    if equity.empty:
        return equity.astype(float)
    index = equity.index
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    by_day = pd.Series(equity.to_numpy(dtype=float), index=index).sort_index()
    by_day = by_day.groupby(by_day.index.normalize()).last()
    full = pd.date_range(by_day.index[0], by_day.index[-1], freq="D")
    return by_day.reindex(full).ffill()


def drawdown_pct(equity: Any) -> np.ndarray:
    """Drawdown at each point, in percent below the running peak (0 at a new high, -8.5 = 8.5 % down).

    Equity at or below zero is a total loss: -100, never less.
    """
    rows, one = _as_rows(equity, "equity")
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.clip((rows / np.maximum.accumulate(rows, axis=1) - 1.0) * 100.0, -100.0, 0.0)
    return dd[0] if one else dd


# --------------------------------------------------------------------------- risk and return


def _total_return_pct(equity: np.ndarray) -> np.ndarray:
    out = np.full(equity.shape[0], np.nan)
    if equity.shape[1] >= 2:
        first = equity[:, 0]
        ok = first > 0
        out[ok] = (equity[ok, -1] / first[ok] - 1.0) * 100.0
    return out


def _cagr_pct(equity: np.ndarray, periods_per_year: float) -> np.ndarray:
    n = equity.shape[1] - 1
    out = np.full(equity.shape[0], np.nan)
    if n >= 1:
        ratio = np.full(equity.shape[0], np.nan)
        ok = equity[:, 0] > 0
        ratio[ok] = equity[ok, -1] / equity[ok, 0]
        with np.errstate(invalid="ignore"):
            out = (np.power(ratio, periods_per_year / n) - 1.0) * 100.0
        out[ratio <= 0] = -100.0
    return out


def _volatility_pct(r: ReturnStats, periods_per_year: float) -> np.ndarray:
    undefined = r.undefined(2)
    return undefined if undefined is not None else r.std * np.sqrt(periods_per_year) * 100.0


def _sharpe(r: ReturnStats, periods_per_year: float) -> np.ndarray:
    if (undefined := r.undefined(2)) is not None:
        return undefined
    mean, std = r.excess_mean, r.excess_std
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mean / std * np.sqrt(periods_per_year)
    out[_std_is_zero(std, mean)] = np.nan
    return out


def _sortino(r: ReturnStats, periods_per_year: float) -> np.ndarray:
    if (undefined := r.undefined(1)) is not None:
        return undefined
    deviation, has_losses = r.downside
    with np.errstate(divide="ignore", invalid="ignore"):
        out = r.excess_mean / deviation * np.sqrt(periods_per_year)
    out[~has_losses] = np.nan
    return out


def _max_drawdown_pct(equity: np.ndarray) -> np.ndarray:
    if equity.shape[1] < 2:
        return np.full(equity.shape[0], np.nan)
    ratio = np.maximum.accumulate(equity, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        worst = np.divide(equity, ratio, out=ratio).min(axis=1) - 1.0
    # Equity at or below zero is a total loss: the drawdown cannot exceed 100 %.
    return np.clip(-worst * 100.0, 0.0, 100.0)


def _calmar(cagr: np.ndarray, max_dd: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = cagr / max_dd
    out[max_dd == 0] = np.nan
    return out


def _var_historical(r: ReturnStats, level: float) -> np.ndarray:
    undefined = r.undefined(MIN_RETURNS_FOR_HISTORICAL_VAR)
    return undefined if undefined is not None else -r.quantile(1.0 - level)


def _var_parametric(r: ReturnStats, level: float) -> np.ndarray:
    if (undefined := r.undefined(2)) is not None:
        return undefined
    return -(r.mean + _normal_quantile(1.0 - level) * r.std)


def _cvar_historical(r: ReturnStats, level: float) -> np.ndarray:
    if (undefined := r.undefined(MIN_RETURNS_FOR_HISTORICAL_VAR)) is not None:
        return undefined
    return -r.tail_mean(1.0 - level)


def _normal_quantile(p: float) -> float:
    if not 0.0 < p < 1.0:
        raise ValueError("level must be strictly between 0 and 1")
    # METRICS.md fixes z_0.05 to seven decimals; use exactly that for the default level.
    return -1.6448536 if math.isclose(p, 0.05) else NormalDist().inv_cdf(p)


def total_return_pct(equity: Any) -> Number | list[Number]:
    """``(E_last / E_first - 1) * 100``; None with fewer than 2 points."""
    rows, one = _as_rows(equity, "equity")
    return _out(_total_return_pct(rows), one)


def cagr_pct(equity: Any, periods_per_year: float = PERIODS_PER_YEAR) -> Number | list[Number]:
    """``((E_last / E_first) ** (P / n) - 1) * 100`` with n returns; None when n = 0."""
    rows, one = _as_rows(equity, "equity")
    _per_period_rf(0.0, periods_per_year)
    return _out(_cagr_pct(rows, periods_per_year), one)


def volatility_pct(period_returns: Any, periods_per_year: float = PERIODS_PER_YEAR) -> Number | list[Number]:
    """Annualised volatility: ``std(r, ddof=1) * sqrt(P) * 100``; None with fewer than 2 returns."""
    rows, one = _as_rows(period_returns, "returns")
    _per_period_rf(0.0, periods_per_year)
    return _out(_volatility_pct(ReturnStats(rows), periods_per_year), one)


def sharpe_ratio(
    period_returns: Any, risk_free: float = 0.0, periods_per_year: float = PERIODS_PER_YEAR
) -> Number | list[Number]:
    """``mean(x) / std(x, ddof=1) * sqrt(P)`` of excess returns; None with < 2 returns or zero std."""
    rows, one = _as_rows(period_returns, "returns")
    return _out(_sharpe(ReturnStats(rows, _per_period_rf(risk_free, periods_per_year)), periods_per_year), one)


def sortino_ratio(
    period_returns: Any, risk_free: float = 0.0, periods_per_year: float = PERIODS_PER_YEAR
) -> Number | list[Number]:
    """``mean(x) / sqrt(sum(min(x, 0)^2) / n) * sqrt(P)``; None when no excess return is negative."""
    rows, one = _as_rows(period_returns, "returns")
    return _out(_sortino(ReturnStats(rows, _per_period_rf(risk_free, periods_per_year)), periods_per_year), one)


def max_drawdown_pct(equity: Any) -> Number | list[Number]:
    """Largest fall from a running peak, as a positive percentage (8.5 means -8.5 %)."""
    rows, one = _as_rows(equity, "equity")
    return _out(_max_drawdown_pct(rows), one)


def calmar_ratio(equity: Any, periods_per_year: float = PERIODS_PER_YEAR) -> Number | list[Number]:
    """``CAGR % / max drawdown %``; None when the max drawdown is 0."""
    rows, one = _as_rows(equity, "equity")
    return _out(_calmar(_cagr_pct(rows, periods_per_year), _max_drawdown_pct(rows)), one)


def var_historical(period_returns: Any, level: float = VAR_LEVEL) -> Number | list[Number]:
    """1-period historical VaR as a positive fraction: ``-quantile(r, 1 - level)``; None below 20 returns.

    Multiply by the latest equity for VaR in money.
    """
    rows, one = _as_rows(period_returns, "returns")
    _normal_quantile(1.0 - level)
    return _out(_var_historical(ReturnStats(rows), level), one)


def var_parametric(period_returns: Any, level: float = VAR_LEVEL) -> Number | list[Number]:
    """Gaussian VaR: ``-(mean(r) + z * std(r, ddof=1))``, z the normal quantile of ``1 - level``."""
    rows, one = _as_rows(period_returns, "returns")
    return _out(_var_parametric(ReturnStats(rows), level), one)


def cvar_historical(period_returns: Any, level: float = VAR_LEVEL) -> Number | list[Number]:
    """Expected shortfall: ``-mean(r[r <= quantile(r, 1 - level)])``; None below 20 returns."""
    rows, one = _as_rows(period_returns, "returns")
    _normal_quantile(1.0 - level)
    return _out(_cvar_historical(ReturnStats(rows), level), one)


def beta(period_returns: Any, benchmark_returns: Any) -> Number:
    """``cov(r, b, ddof=1) / var(b, ddof=1)`` over the periods where both returns exist.

    Two pandas Series are aligned on their index; two arrays must have the same length and may
    hold NaN where a return does not exist. None with fewer than 20 common periods or a flat
    benchmark.
    """
    if isinstance(period_returns, pd.Series) and isinstance(benchmark_returns, pd.Series):
        both = pd.concat([period_returns, benchmark_returns], axis=1, join="inner").to_numpy(dtype=float)
        r, b = both[:, 0], both[:, 1]
    else:
        r = np.asarray(period_returns, dtype=float)
        b = np.asarray(benchmark_returns, dtype=float)
        if r.ndim != 1 or r.shape != b.shape:
            raise ValueError("returns and benchmark returns must be 1-D and of the same length")
    common = np.isfinite(r) & np.isfinite(b)
    if common.sum() < MIN_COMMON_DAYS_FOR_BETA:
        return None
    r, b = r[common], b[common]
    var_b = b.var(ddof=1)
    if _std_is_zero(np.sqrt(np.array([var_b])), np.array([b.mean()]))[0]:
        return None
    return float(np.cov(r, b, ddof=1)[0, 1] / var_b)


def performance_summary(
    equity: Any, risk_free: float = 0.0, periods_per_year: float = PERIODS_PER_YEAR
) -> dict[str, Number] | list[dict[str, Number]]:
    """Every equity-curve metric at once, vectorised over rows.

    Keys: total_return_pct, cagr_pct, volatility_pct, sharpe_ratio, sortino_ratio,
    max_drawdown_pct, calmar_ratio, var_95, var_95_parametric, cvar_95 (VaR/CVaR as fractions).
    """
    rows, one = _as_rows(equity, "equity")
    rf_p = _per_period_rf(risk_free, periods_per_year)
    r = _returns_2d(rows)
    # A non-positive equity makes later returns undefined, and with them every return statistic.
    broken = np.isnan(r).any(axis=1)
    clean = ReturnStats(np.where(np.isnan(r), 0.0, r) if broken.any() else r, rf_p)
    cagr = _cagr_pct(rows, periods_per_year)
    max_dd = _max_drawdown_pct(rows)
    from_returns = {
        "volatility_pct": _volatility_pct(clean, periods_per_year),
        "sharpe_ratio": _sharpe(clean, periods_per_year),
        "sortino_ratio": _sortino(clean, periods_per_year),
        "var_95": _var_historical(clean, VAR_LEVEL),
        "var_95_parametric": _var_parametric(clean, VAR_LEVEL),
        "cvar_95": _cvar_historical(clean, VAR_LEVEL),
    }
    for values in from_returns.values():
        values[broken] = np.nan
    columns = {
        "total_return_pct": _total_return_pct(rows),
        "cagr_pct": cagr,
        "max_drawdown_pct": max_dd,
        "calmar_ratio": _calmar(cagr, max_dd),
        **from_returns,
    }
    as_lists = {name: _out(values, False) for name, values in columns.items()}
    summaries = [{name: as_lists[name][i] for name in columns} for i in range(rows.shape[0])]
    return summaries[0] if one else summaries


# --------------------------------------------------------------------------- trades


def _pnl_array(pnl: Any) -> np.ndarray:
    arr = np.asarray(pnl.to_numpy() if isinstance(pnl, pd.Series) else pnl, dtype=float).ravel()
    if not np.isfinite(arr).all():
        raise ValueError("trade PnL contains NaN or infinity")
    return arr


def win_rate_pct(pnl: Sequence[float] | np.ndarray) -> Number:
    """``winning / closed * 100``; a breakeven trade is not a win. None with no trades."""
    return trade_summary(pnl)["win_rate_pct"]


def avg_win(pnl: Sequence[float] | np.ndarray) -> Number:
    """Mean PnL of winning trades; None with no winners."""
    return trade_summary(pnl)["avg_win"]


def avg_loss(pnl: Sequence[float] | np.ndarray) -> Number:
    """Mean PnL of losing trades (a negative number); None with no losers."""
    return trade_summary(pnl)["avg_loss"]


def profit_factor(pnl: Sequence[float] | np.ndarray) -> Number:
    """``sum(winners) / abs(sum(losers))``; None when there are no losing trades."""
    return trade_summary(pnl)["profit_factor"]


def expectancy(pnl: Sequence[float] | np.ndarray) -> Number:
    """Mean PnL per closed trade; None with no trades."""
    return trade_summary(pnl)["expectancy"]


def trade_summary(pnl: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """Every closed-trade metric at once."""
    p = _pnl_array(pnl)
    return trade_summaries(p, np.zeros(p.size, dtype=np.int64), 1)[0]


def trade_summaries(pnl: Any, group: np.ndarray, groups: int) -> list[dict[str, Any]]:
    """`trade_summary` of several sets of trades at once: trade i is in set ``group[i]`` (0 to
    ``groups - 1``); one summary per set, in order."""
    p = _pnl_array(pnl)

    def per_group(weights: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights, groups)

    count = np.bincount(group, minlength=groups)
    won, lost = p > 0, p < 0
    winners, losers = per_group(won), per_group(lost)
    win_sum, loss_sum = per_group(np.where(won, p, 0.0)), per_group(np.where(lost, p, 0.0))
    total = per_group(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = {
            "win_rate_pct": winners / count * 100.0,
            "avg_win": win_sum / winners,
            "avg_loss": loss_sum / losers,
            "profit_factor": np.where(losers > 0, win_sum / np.abs(loss_sum), np.nan),
            "expectancy": total / count,
        }
    counts = zip(count.tolist(), winners.astype(int).tolist(), losers.astype(int).tolist(), total.tolist())
    values = zip(*(_out(column, False) for column in columns.values()))
    return [
        {"number_of_trades": n, "winning_trades": w, "losing_trades": lo,
         **dict(zip(columns, ratios)), "total_pnl": pnl_sum}
        for (n, w, lo, pnl_sum), ratios in zip(counts, values)
    ]


# --------------------------------------------------------------------------- signals and fills


def fill_rate_pct(filled: int, sent: int) -> Number:
    """``filled / sent * 100``; None when nothing was sent."""
    if filled < 0 or sent < 0 or filled > sent:
        raise ValueError(f"need 0 <= filled <= sent, got filled={filled}, sent={sent}")
    return filled / sent * 100.0 if sent else None


def lag_summary(lag_seconds: Any) -> dict[str, Number]:
    """Signal-to-fill lag statistics in seconds over filled signals: avg, median (p50), p95, p99, max."""
    lags = _pnl_array(lag_seconds)
    if lags.size and (lags < 0).any():
        raise ValueError("a signal-to-fill lag cannot be negative")
    keys = ("avg", "median", "p95", "p99", "max")
    if not lags.size:
        return dict.fromkeys(keys)
    p50, p95, p99 = np.quantile(lags, [0.5, 0.95, 0.99])
    return dict(zip(keys, (float(lags.mean()), float(p50), float(p95), float(p99), float(lags.max()))))
