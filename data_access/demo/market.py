"""The demo market: daily bars of 11 symbols from hidden regimes, GARCH volatility and fat tails."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics import backtest as bt
from app.config import Settings
from data_access.demo.scales import NEW_YORK, US


# symbol, first open, annual vol, annual drift, correlation with the market factor, base volume, unit decimals
SYMBOLS: tuple[tuple[str, float, float, float, float, float, int], ...] = (
    ("SPY", 430.0, 0.16, 0.09, 1.00, 80e6, 0),
    ("QQQ", 365.0, 0.22, 0.12, 0.92, 45e6, 0),
    ("IWM", 185.0, 0.24, 0.05, 0.85, 30e6, 0),
    ("AAPL", 175.0, 0.27, 0.12, 0.70, 60e6, 0),
    ("MSFT", 330.0, 0.25, 0.14, 0.72, 25e6, 0),
    ("NVDA", 45.0, 0.52, 0.35, 0.60, 300e6, 0),
    ("TSLA", 220.0, 0.58, 0.05, 0.50, 110e6, 0),
    ("JPM", 145.0, 0.24, 0.10, 0.65, 10e6, 0),
    ("XOM", 105.0, 0.27, 0.04, 0.45, 17e6, 0),
    ("BTCUSD", 29_000.0, 0.62, 0.30, 0.35, 30e3, 4),
    ("ETHUSD", 1_850.0, 0.70, 0.40, 0.33, 400e3, 3),
)
SYMBOL_INDEX = {s[0]: i for i, s in enumerate(SYMBOLS)}
MARKET_PROXY = "SPY"  # the symbol that is the market factor itself (correlation 1)


def symbol_names(settings: Settings) -> np.ndarray:
    """The symbols as written: the market proxy takes the benchmark's name when that is another one."""
    names = np.array([s[0] for s in SYMBOLS], dtype=object)
    if settings.BENCHMARK_SYMBOL not in SYMBOL_INDEX:
        names[SYMBOL_INDEX[MARKET_PROXY]] = settings.BENCHMARK_SYMBOL
    return names

# Hidden regimes: calm, normal, turbulent. Persistent states; turbulence is rarer and shorter.
REGIME_TRANSITIONS = np.array([
    [0.985, 0.013, 0.002],
    [0.012, 0.978, 0.010],
    [0.005, 0.045, 0.950],
])
REGIME_VOL = np.array([0.70, 1.00, 1.85])
REGIME_DRIFT = np.array([0.06, 0.00, -0.35])  # added to the symbol's annual drift
REGIME_VOLUME = np.array([0.85, 1.00, 1.55])
GARCH_ALPHA, GARCH_BETA = 0.07, 0.91
T_DF = 5  # Student-t degrees of freedom of the shocks


@dataclass(frozen=True)
class Market:
    days: pd.DatetimeIndex  # business days (naive, midnight UTC)
    regime: np.ndarray  # (n,) 0 calm, 1 normal, 2 turbulent
    open: np.ndarray  # (k, n)
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    session_open_us: np.ndarray  # (n,) epoch microseconds of 09:30 New York on each day

    @property
    def n(self) -> int:
        return len(self.days)

    def bars(self, k: int) -> bt.Bars:
        return bt.make_bars(time=self.days.to_numpy(), open=self.open[k], high=self.high[k], low=self.low[k],
                            close=self.close[k], volume=self.volume[k])


def _t_shocks(rng: np.random.Generator, size) -> np.ndarray:
    return rng.standard_t(T_DF, size) / math.sqrt(T_DF / (T_DF - 2))


def simulate_market(rng: np.random.Generator, days: pd.DatetimeIndex) -> Market:
    n, k = len(days), len(SYMBOLS)
    vol = np.array([s[2] for s in SYMBOLS])
    drift = np.array([s[3] for s in SYMBOLS])
    corr = np.array([s[4] for s in SYMBOLS])

    regime = np.empty(n, dtype=np.int8)
    regime[0] = 1
    u = rng.random(n)
    cumulative = REGIME_TRANSITIONS.cumsum(axis=1)
    for t in range(1, n):
        regime[t] = min(int(np.searchsorted(cumulative[regime[t - 1]], u[t], side="right")), 2)

    z_market = _t_shocks(rng, n)
    z_own = _t_shocks(rng, (k, n))
    z = corr[:, None] * z_market[None, :] + np.sqrt(1.0 - corr**2)[:, None] * z_own
    target = (vol[:, None] / math.sqrt(252.0) * REGIME_VOL[regime][None, :]) ** 2  # long-run daily variance
    h = np.empty((k, n))
    h[:, 0] = target[:, 0]
    for t in range(n - 1):
        eps2 = h[:, t] * z[:, t] ** 2
        h[:, t + 1] = target[:, t + 1] * (1 - GARCH_ALPHA - GARCH_BETA) + GARCH_ALPHA * eps2 + GARCH_BETA * h[:, t]
    sigma = np.sqrt(h)
    mu = (drift[:, None] + REGIME_DRIFT[regime][None, :]) / 252.0
    r = mu - 0.5 * h + sigma * z

    log_close = np.log(np.array([s[1] for s in SYMBOLS]))[:, None] + np.cumsum(r, axis=1)
    prev = np.concatenate([np.log(np.array([s[1] for s in SYMBOLS]))[:, None], log_close[:, :-1]], axis=1)
    gap = sigma * 0.30 * rng.standard_normal((k, n))
    open_ = np.exp(prev + gap)
    close = np.exp(log_close)
    wick_up = np.abs(rng.standard_normal((k, n))) * sigma * 0.45
    wick_down = np.abs(rng.standard_normal((k, n))) * sigma * 0.45
    high = np.maximum(open_, close) * np.exp(wick_up)
    low = np.minimum(open_, close) * np.exp(-wick_down)
    # Rounding is monotonic, so high >= max(open, close) and low <= min(open, close) survive it.
    open_, high, low, close = (np.round(a, 2) for a in (open_, high, low, close))
    base_volume = np.array([s[5] for s in SYMBOLS])
    volume = (base_volume[:, None] * np.exp(0.35 * rng.standard_normal((k, n)))
              * (0.6 + 0.8 * np.abs(z)) * REGIME_VOLUME[regime][None, :])
    volume = np.where(base_volume[:, None] >= 1e6, np.round(volume), np.round(volume, 2))

    opens_ny = [dt.datetime(d.year, d.month, d.day, 9, 30, tzinfo=NEW_YORK) for d in days]
    session_open_us = np.array([int(o.timestamp()) * US for o in opens_ny], dtype=np.int64)
    return Market(days, regime, open_, high, low, close, volume, session_open_us)



def _in_range(rng: np.random.Generator, market: Market, sym: np.ndarray, day: np.ndarray) -> np.ndarray:
    low, high = market.low[sym, day], market.high[sym, day]
    return np.round(low + rng.beta(2.0, 2.0, sym.size) * (high - low), 4)


def _units(qty: np.ndarray, sym: np.ndarray) -> np.ndarray:
    decimals = np.array([s[6] for s in SYMBOLS])[sym]
    scale = 10.0 ** decimals
    return np.maximum(np.floor(qty * scale) / scale, 1.0 / scale)

