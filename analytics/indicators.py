"""Technical indicators on price arrays.

Each takes 1-D arrays (lists, numpy arrays or pandas Series) and returns numpy float arrays of
the same length, NaN until enough bars exist. Every value at index t uses bars up to t only.

- SMA(n): mean of the n closes ending at t.
- EMA(n): ``alpha = 2 / (n + 1)``, recursive from the first value (pandas
  ``ewm(span=n, adjust=False)``), reported from the n-th bar on.
- RSI(n): Wilder's smoothing ``ewm(alpha=1/n, adjust=False)`` of the gains and of the losses of
  the close differences; ``RSI = 100 - 100 / (1 + avg_gain / avg_loss)``, reported from the n-th
  difference on. No losses gives 100; no gains and no losses (a flat market) gives 50.
- ATR(n): Wilder's smoothing of the true range ``max(h - l, |h - c_prev|, |l - c_prev|)`` (the
  first bar's true range is ``h - l``), reported from the n-th bar on.
- Bollinger(n, k): SMA(n) plus/minus k population standard deviations (ddof=0, as in TA-Lib) of
  the same n closes.
- Donchian(n): highest high and lowest low of the n bars ending at t, and their midpoint.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd


def _series(values: Any, name: str) -> pd.Series:
    arr = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    return pd.Series(arr, copy=False)


def _window(n: Any, name: str = "window") -> int:
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"{name} must be a whole number of bars >= 1, got {n!r}")
    return int(n)


def sma(close: Any, window: int) -> np.ndarray:
    """Simple moving average of the ``window`` closes ending at each bar."""
    _window(window)
    return window_mean(running_sums(close, "close"), window)


class RunningSums(NamedTuple):
    """A series' running sums, from which `window_mean` gives any window's mean in a few passes.

    ``high[t]`` is the float sum of the first t values (``high[0] = 0``) and ``low[t]`` the sum of
    the rounding errors that sum made, each found exactly (Knuth's TwoSum), so a window's sum is as
    accurate as a compensated (Kahan) rolling sum's. ``changes[t]``: how many values up to t differ
    from the one before them; ``missing[t]``: how many of the first t are NaN (None: none is).
    """

    values: np.ndarray
    high: np.ndarray
    low: np.ndarray
    changes: np.ndarray
    missing: np.ndarray | None


def running_sums(values: Any, name: str = "values") -> RunningSums:
    x = _series(values, name).to_numpy()
    nan = np.isnan(x)
    missing = None
    if nan.any():
        missing = np.concatenate(([0], np.cumsum(nan, dtype=np.int32)))
        x = np.where(nan, 0.0, x)
    high = np.zeros(x.size + 1)
    np.cumsum(x, out=high[1:])
    before, total = high[:-1], high[1:]
    # TwoSum: the exact error of each step total = before + x, summed up in place
    low = np.zeros(x.size + 1)
    error = low[1:]
    virtual = np.subtract(total, before)
    np.subtract(total, virtual, out=error)
    np.subtract(before, error, out=error)
    np.subtract(x, virtual, out=virtual)
    error += virtual
    np.cumsum(error, out=error)
    changes = np.concatenate(([0], np.cumsum(x[1:] != x[:-1], dtype=np.int32)))
    return RunningSums(x, high, low, changes, missing)


def window_mean(sums: RunningSums, window: int) -> np.ndarray:
    """The mean of the ``window`` values ending at each point: NaN before the first full window and
    where one of them is NaN; exactly the value where all of them are equal."""
    n = _window(window)
    size = sums.values.size
    out = np.full(size, np.nan)
    if n <= size:
        means = out[n - 1:]
        np.subtract(sums.high[n:], sums.high[:-n], out=means)
        means += sums.low[n:]
        means -= sums.low[:-n]
        means /= n
        equal = sums.changes[n - 1:] == sums.changes[:size - n + 1]
        means[equal] = sums.values[n - 1:][equal]
        if sums.missing is not None:
            means[sums.missing[n:] != sums.missing[:-n]] = np.nan
    return out


def ema(close: Any, window: int) -> np.ndarray:
    """Exponential moving average with ``alpha = 2 / (window + 1)``."""
    n = _window(window)
    return _series(close, "close").ewm(span=n, adjust=False, min_periods=n).mean().to_numpy()


def _wilder(values: pd.Series, n: int) -> pd.Series:
    return values.ewm(alpha=1.0 / n, adjust=False, min_periods=n).mean()


def rsi(close: Any, window: int = 14) -> np.ndarray:
    """Relative strength index with Wilder's smoothing, 0..100."""
    n = _window(window)
    diff = _series(close, "close").diff()
    avg_gain = _wilder(diff.clip(lower=0.0), n).to_numpy()
    avg_loss = _wilder((-diff).clip(lower=0.0), n).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    out[(avg_loss == 0) & (avg_gain > 0)] = 100.0
    out[(avg_loss == 0) & (avg_gain == 0)] = 50.0
    return out


def true_range(high: Any, low: Any, close: Any) -> np.ndarray:
    """``max(h - l, |h - c_prev|, |l - c_prev|)``; the first bar has no previous close: ``h - l``."""
    h = _series(high, "high").to_numpy()
    low_ = _series(low, "low").to_numpy()
    c = _series(close, "close").to_numpy()
    if not h.shape == low_.shape == c.shape:
        raise ValueError("high, low and close must have the same length")
    prev = np.concatenate(([np.nan], c[:-1]))
    ranges = np.vstack((h - low_, np.abs(h - prev), np.abs(low_ - prev)))
    return np.nanmax(ranges, axis=0) if h.size else h.copy()


def atr(high: Any, low: Any, close: Any, window: int = 14) -> np.ndarray:
    """Average true range with Wilder's smoothing."""
    n = _window(window)
    return _wilder(pd.Series(true_range(high, low, close)), n).to_numpy()


class Bands(NamedTuple):
    lower: np.ndarray
    middle: np.ndarray
    upper: np.ndarray


def bollinger_bands(close: Any, window: int = 20, k: float = 2.0) -> Bands:
    """SMA(window) plus/minus ``k`` population standard deviations of the same closes."""
    n = _window(window)
    if not np.isfinite(k) or k <= 0:
        raise ValueError(f"k must be a positive number of standard deviations, got {k!r}")
    rolling = _series(close, "close").rolling(n, min_periods=n)
    middle = rolling.mean().to_numpy()
    width = k * rolling.std(ddof=0).to_numpy()
    return Bands(middle - width, middle, middle + width)


def donchian_channel(high: Any, low: Any, window: int = 20) -> Bands:
    """Lowest low, midpoint and highest high of the ``window`` bars ending at each bar."""
    n = _window(window)
    upper = _series(high, "high").rolling(n, min_periods=n).max().to_numpy()
    lower = _series(low, "low").rolling(n, min_periods=n).min().to_numpy()
    return Bands(lower, (upper + lower) / 2.0, upper)
