"""Demo data: a deterministic, realistic fund in one call.

``seed(url, scale="demo", seed=42)`` fills an empty, migrated database with:

- **market data**: daily bars (business days, ~3 years ending today, UTC) for 11 symbols incl. the
  benchmark. Returns switch between hidden calm / normal / turbulent regimes (a Markov chain with
  persistent states) and carry GARCH(1,1) volatility clustering with fat-tailed (Student-t)
  shocks correlated through a market factor. Opens gap from the previous close; highs and lows
  bracket the open and close.
- **the fund**: 4 broker accounts, developer users (no usable password until one is set by the
  CLI), 7 strategies (different edges, fill rates and latency profiles; one PAUSED).
- **signals and fills**: round trips per strategy (entry and exit signals, FILLED, each with one
  execution or two partial ones at prices inside that day's bar range), closed trades with
  realized PnL from those fills, a few open lots per strategy (the ``positions``), plus REJECTED
  (with a reason), CANCELLED and PENDING signals. Signal-to-fill lags are lognormal with a long
  tail of multi-minute outliers. Signals arrive during NYSE hours.
- **account snapshots** on every business day, coherent with the trades: equity = net
  contributions + realized PnL (less commissions) + unrealized PnL of the lots open at that
  close; cash = equity - net market value; margin used = a broker rate times gross exposure.
- **backtests**: every strategy kind over parameter grids x symbols x windows, actually run by
  ``analytics.backtest.run`` on the seeded bars, completed over the last ~120 days, with trades
  and equity curves; a few FAILED runs.
- **paper trading**: 2 paper accounts with open and closed trades from several sources.

Everything comes from ``numpy.random.Generator`` streams spawned from ``seed``: the same seed
(and the same ``as_of`` day) gives identical rows. Rows go in with the DB-API ``executemany``
(psycopg2 ``execute_values`` on PostgreSQL) inside one transaction: an error leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Table, delete, func, inspect, insert, select, text

import data_access.models as m
from analytics import backtest as bt
from analytics.metrics import volatility_pct
from app.config import Settings
from data_access.db import make_engine

__all__ = ["SCALES", "DatabaseNotEmpty", "SchemaMissing", "config_key", "seed"]


class DatabaseNotEmpty(RuntimeError):
    """The database already holds data and ``reset`` was not asked for."""


class SchemaMissing(RuntimeError):
    """The tables do not exist yet: run the migrations first."""


# --------------------------------------------------------------------------- scales


@dataclass(frozen=True)
class Scale:
    name: str
    round_trips: int  # closed round trips over all strategies (2 filled signals each)
    trade_ideas: int  # the round trips are children of this many trade ideas (same symbol, direction, days)
    backtest_runs: int  # including the few FAILED ones
    backtest_windows: tuple[int, ...]  # window lengths in bars
    backtest_symbols: tuple[str, ...] | None  # None: every symbol
    paper_closed: int
    paper_open: int
    chunk: int = 20_000  # rows per executemany


SCALES: dict[str, Scale] = {
    "demo": Scale("demo", round_trips=1_700, trade_ideas=1_700, backtest_runs=400, backtest_windows=(252, 378, 504),
                  backtest_symbols=("SPY", "QQQ", "AAPL", "NVDA", "TSLA", "BTCUSD"), paper_closed=400, paper_open=24),
    "large": Scale("large", round_trips=500_000, trade_ideas=8_000, backtest_runs=10_200,
                   backtest_windows=(126, 189, 252), backtest_symbols=None, paper_closed=20_000, paper_open=60,
                   chunk=50_000),
}

YEARS = 3
BAR_DAYS = 252 * YEARS
SESSION_SECONDS = 6.5 * 3600  # 09:30-16:00 America/New_York
NEW_YORK = ZoneInfo("America/New_York")
US = 1_000_000  # microseconds per second

# --------------------------------------------------------------------------- market model

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


# --------------------------------------------------------------------------- the fund

ACCOUNTS: tuple[tuple[str, str, float, float, int], ...] = (
    # name, broker, net contributions, margin rate on gross exposure, currency decimals
    ("IBKR Main Account", "IBKR", 1_900_000.0, 0.25, 2),
    ("Alpaca Growth", "Alpaca", 800_000.0, 0.30, 2),
    ("Tradier Equities", "Tradier", 1_450_000.0, 0.25, 2),
    ("Binance Crypto", "Binance", 850_000.0, 0.20, 2),
)
FUND_CAPITAL = sum(a[2] for a in ACCOUNTS)

DEVELOPERS: tuple[tuple[str, str], ...] = (
    ("jdoe", "John Doe"),
    ("asmith", "Ada Smith"),
    ("mlee", "Maria Lee"),
    ("rpatel", "Raj Patel"),
    ("kchen", "Kevin Chen"),
)

REJECT_REASONS = ("insufficient margin", "risk limit exceeded", "price outside band", "symbol halted",
                  "duplicate signal")


@dataclass(frozen=True)
class StrategyProfile:
    name: str
    developer: str
    account: int  # index into ACCOUNTS
    allocation: float
    status: str
    symbols: tuple[str, ...]
    sharpe: float  # the edge it is given (realized Sharpe varies around it)
    fill_rate: float
    lag_median: float  # seconds
    lag_sigma: float  # lognormal shape
    lag_outliers: float  # share of fills delayed by minutes
    activity: float  # share weight of the round trips
    intraday: float  # share of round trips closed the same day
    mean_hold: float  # business days, for overnight trades
    exposure: float  # average gross exposure / allocated capital
    reasons: tuple[float, ...]  # weights of REJECT_REASONS
    start: float = 0.0  # share of the period before its first signal
    paused_days: int = 0  # business days without signals at the end (PAUSED)


STRATEGIES: tuple[StrategyProfile, ...] = (
    StrategyProfile("SPX Momentum", "jdoe", 0, 0.20, "ACTIVE", ("SPY", "QQQ"), 1.4, 0.96, 1.2, 0.5, 0.005,
                    1.3, 0.25, 4.0, 0.9, (3, 4, 2, 1, 2)),
    StrategyProfile("Tech Mean Reversion", "asmith", 0, 0.15, "ACTIVE", ("AAPL", "MSFT", "NVDA"), 0.9, 0.92, 2.5,
                    0.7, 0.010, 1.0, 0.35, 3.0, 0.8, (2, 3, 4, 1, 2)),
    StrategyProfile("Small Cap Breakout", "mlee", 1, 0.10, "ACTIVE", ("IWM", "TSLA"), -0.7, 0.84, 6.0, 0.9, 0.040,
                    0.9, 0.20, 5.0, 0.9, (5, 2, 3, 3, 1)),
    StrategyProfile("Financials & Energy Rotation", "rpatel", 2, 0.12, "ACTIVE", ("JPM", "XOM"), 0.35, 0.90, 3.5,
                    0.6, 0.020, 0.7, 0.15, 6.0, 0.7, (2, 2, 2, 1, 4)),
    StrategyProfile("Crypto Trend", "asmith", 3, 0.13, "ACTIVE", ("BTCUSD", "ETHUSD"), 0.7, 0.88, 0.8, 1.2, 0.030,
                    1.1, 0.30, 4.0, 0.6, (3, 3, 5, 0, 1)),
    StrategyProfile("Volatility Carry", "jdoe", 1, 0.05, "PAUSED", ("SPY", "IWM"), -1.1, 0.80, 4.0, 0.8, 0.020,
                    0.5, 0.40, 3.0, 0.8, (4, 5, 1, 1, 1), paused_days=45),
    StrategyProfile("Index Stat Arb", "kchen", 2, 0.15, "ACTIVE", ("SPY", "QQQ", "IWM"), 1.8, 0.98, 0.4, 0.4, 0.002,
                    1.5, 0.60, 2.0, 0.7, (1, 2, 2, 1, 3), start=0.35),
)

STATUS_CODES = ("FILLED", "REJECTED", "CANCELLED", "PENDING")
FILLED, REJECTED, CANCELLED, PENDING = range(4)


def _commission(broker: str, quantity: np.ndarray, price: np.ndarray) -> np.ndarray:
    notional = quantity * price
    if broker == "IBKR":  # tiered: $0.005/share, $1 minimum, at most 1 % of the notional
        fee = np.minimum(np.maximum(0.005 * quantity, 1.0), 0.01 * notional)
    elif broker == "Tradier":
        fee = np.minimum(np.maximum(0.0035 * quantity, 0.35), 0.01 * notional)
    elif broker == "Binance":
        fee = 0.00075 * notional
    else:  # Alpaca: commission-free
        fee = np.zeros_like(notional)
    return np.round(fee, 4)


# --------------------------------------------------------------------------- signals, fills, trades


@dataclass
class Book:
    """Everything about live trading, as flat numpy columns."""

    # signals
    sig_strategy: np.ndarray
    sig_symbol: np.ndarray
    sig_side: np.ndarray  # 0 BUY, 1 SELL
    sig_qty: np.ndarray
    sig_received: np.ndarray  # epoch us
    sig_status: np.ndarray
    sig_reason: np.ndarray  # index into REJECT_REASONS, -1 none
    sig_filled: np.ndarray  # epoch us, -1 none
    # executions (exe_signal indexes the signal arrays)
    exe_signal: np.ndarray
    exe_time: np.ndarray
    exe_price: np.ndarray
    exe_qty: np.ndarray
    exe_commission: np.ndarray
    # lots: closed round trips and open positions (lot_exit_signal == -1)
    lot_strategy: np.ndarray
    lot_symbol: np.ndarray
    lot_dir: np.ndarray  # +1 long, -1 short
    lot_qty: np.ndarray
    lot_entry_day: np.ndarray
    lot_exit_day: np.ndarray  # n_days for open lots
    lot_entry_price: np.ndarray
    lot_exit_price: np.ndarray  # nan for open lots
    lot_entry_signal: np.ndarray
    lot_exit_signal: np.ndarray
    lot_entry_commission: np.ndarray
    lot_exit_commission: np.ndarray


def _lags(rng: np.random.Generator, p: StrategyProfile, n: int) -> np.ndarray:
    """Signal-to-fill seconds: a lognormal body and a few multi-minute stragglers (< 15 min)."""
    lag = p.lag_median * np.exp(p.lag_sigma * rng.standard_normal(n))
    outlier = rng.random(n) < p.lag_outliers
    tail = 60.0 * (1.0 + rng.pareto(1.5, int(outlier.sum())))
    lag[outlier] = np.where(tail > 880.0, rng.uniform(60.0, 880.0, tail.size), tail)  # truncated, no spike at the cap
    return np.round(np.clip(lag, 0.05, 880.0), 3)


def _in_range(rng: np.random.Generator, market: Market, sym: np.ndarray, day: np.ndarray) -> np.ndarray:
    low, high = market.low[sym, day], market.high[sym, day]
    return np.round(low + rng.beta(2.0, 2.0, sym.size) * (high - low), 4)


def _units(qty: np.ndarray, sym: np.ndarray) -> np.ndarray:
    decimals = np.array([s[6] for s in SYMBOLS])[sym]
    scale = 10.0 ** decimals
    return np.maximum(np.floor(qty * scale) / scale, 1.0 / scale)


def simulate_book(rng: np.random.Generator, market: Market, scale: Scale, last_signal_day: int) -> Book:
    parts: list[dict[str, np.ndarray]] = []
    weights = np.array([p.activity for p in STRATEGIES])
    trips = np.round(scale.round_trips * weights / weights.sum()).astype(int)
    parents = np.round(scale.trade_ideas * weights / weights.sum()).astype(int)
    for s, p in enumerate(STRATEGIES):
        parts.append(_strategy_book(rng, market, s, p, int(trips[s]), int(parents[s]), last_signal_day))
    return _merge(parts)


def _calibrate_hit_rate(target: float, luck: np.ndarray, move: np.ndarray, parent: np.ndarray,
                        unit_pnl: np.ndarray, commission: np.ndarray, day: np.ndarray, days: int) -> float:
    """Bisection on the hit rate so the strategy's annualized Sharpe of daily realized PnL is
    ``target`` for these very trades (same draws: the Sharpe grows with the hit rate)."""

    def sharpe(hit: float) -> float:
        pnl = np.where(luck < hit, move, -move)[parent] * unit_pnl - commission
        daily = np.bincount(day, weights=pnl, minlength=days)
        std = daily.std(ddof=1)
        return float(daily.mean() / std * math.sqrt(252.0)) if std > 0 else 0.0

    lo, hi = 0.02, 0.98
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if sharpe(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _strategy_book(rng: np.random.Generator, market: Market, s: int, p: StrategyProfile, n_trips: int,
                   n_parents: int, last_signal_day: int) -> dict[str, np.ndarray]:
    broker = ACCOUNTS[p.account][1]
    first = int(round(p.start * last_signal_day)) + 20
    last = last_signal_day - p.paused_days
    active_days = last - first + 1
    symbols = np.array([SYMBOL_INDEX[x] for x in p.symbols])
    capital = p.allocation * FUND_CAPITAL

    # ---- closed round trips. A trade idea (a "parent": symbol, direction, entry and exit day) is
    # worked as one or more child round trips at different times of those days. At demo scale each
    # parent has one child; at large scale a parent has dozens, so PnL and exposure keep the same
    # size and the Sharpe the same meaning while the signal count grows.
    n_parents = max(min(n_parents, n_trips), 1)
    p_sym = symbols[rng.integers(0, symbols.size, n_parents)]
    p_entry = rng.integers(first, last + 1, n_parents)
    hold = np.where(rng.random(n_parents) < p.intraday, 0, rng.geometric(1.0 / p.mean_hold, n_parents))
    p_exit = np.minimum(p_entry + hold, last)
    parent = np.sort(np.concatenate([np.arange(n_parents), rng.integers(0, n_parents, n_trips - n_parents)]))
    children = np.bincount(parent, minlength=n_parents)
    sym, entry_day, exit_day = p_sym[parent], p_entry[parent], p_exit[parent]
    same_day = exit_day == entry_day
    entry_off = np.where(same_day, rng.uniform(0, 3 * 3600, n_trips), rng.uniform(0, SESSION_SECONDS - 900, n_trips))
    exit_off = np.where(same_day, rng.uniform(3.25 * 3600, SESSION_SECONDS - 60, n_trips),
                        rng.uniform(0, SESSION_SECONDS - 900, n_trips))
    entry_px = _in_range(rng, market, sym, entry_day)
    exit_px = _in_range(rng, market, sym, exit_day)
    move = np.sign(np.bincount(parent, weights=exit_px - entry_px, minlength=n_parents))
    move[move == 0] = rng.choice([-1.0, 1.0], int((move == 0).sum()))
    luck = rng.random(n_parents)  # compared with the hit rate below

    # ---- a few open lots: one per (strategy, symbol), entered in the last days
    n_open = 0 if p.status != "ACTIVE" else min(symbols.size, 2 + int(rng.integers(0, 2)))
    open_sym = rng.permutation(symbols)[:n_open]
    open_day = last - rng.integers(0, 8, n_open)
    open_off = rng.uniform(0, SESSION_SECONDS - 900, n_open)
    open_px = _in_range(rng, market, open_sym, open_day)
    open_dir = rng.choice(np.array([-1, 1], dtype=np.int8), n_open, p=[0.3, 0.7])

    # ---- sizing: average gross exposure ~ exposure x allocated capital
    overnight = (p_exit - p_entry).sum() + 0.5 * (p_exit == p_entry).sum()
    concurrency = max(overnight / active_days, 1.0)
    # risk parity of a kind: volatile symbols get smaller lots (a 25 % vol asset takes the full size)
    vol_scale = np.minimum(1.0, 0.25 / np.array([x[2] for x in SYMBOLS]))
    notional = p.exposure * capital / concurrency
    p_notional = notional * vol_scale[p_sym] * np.exp(0.35 * rng.standard_normal(n_parents))
    qty = _units(p_notional[parent] / children[parent] * np.exp(0.2 * rng.standard_normal(n_trips)) / entry_px, sym)
    open_qty = _units(notional * vol_scale[open_sym] * np.exp(0.35 * rng.standard_normal(n_open)) / open_px, open_sym)

    # ---- the edge: the hit rate (chance of having picked the direction the price then went)
    # that gives the profile's Sharpe on daily realized PnL after commissions
    hit = _calibrate_hit_rate(p.sharpe, luck, move, parent, qty * (exit_px - entry_px),
                              _commission(broker, qty, entry_px) + _commission(broker, qty, exit_px),
                              exit_day - first, active_days)
    direction = np.where(luck < hit, move, -move).astype(np.int8)[parent]

    # ---- filled signals: entries, exits, open entries (local signal numbering)
    n_filled = 2 * n_trips + n_open
    f_sym = np.concatenate([sym, sym, open_sym])
    f_day = np.concatenate([entry_day, exit_day, open_day])
    f_off = np.concatenate([entry_off, exit_off, open_off])
    f_dir = np.concatenate([direction, -direction, open_dir])  # +1 buys
    f_qty = np.concatenate([qty, qty, open_qty])
    f_px = np.concatenate([entry_px, exit_px, open_px])
    f_received = market.session_open_us[f_day] + np.round(f_off * US).astype(np.int64)
    f_filled = f_received + np.round(_lags(rng, p, n_filled) * US).astype(np.int64)

    # executions: most signals fill at once, ~6 % in two partial fills a few seconds apart
    split = (rng.random(n_filled) < 0.06) & (f_qty >= 2)
    first_qty = np.where(split, _units(f_qty * rng.uniform(0.3, 0.7, n_filled), f_sym), f_qty)
    first_qty = np.where(first_qty >= f_qty, f_qty, first_qty)
    split &= first_qty < f_qty
    second_qty = np.round(f_qty - first_qty, 6)
    low, high = market.low[f_sym, f_day], market.high[f_sym, f_day]
    second_px = np.round(np.clip(f_px * (1 + 0.0008 * rng.standard_normal(n_filled)), low, high), 4)
    second_time = f_filled + np.round(rng.uniform(0.2, 5.0, n_filled) * US).astype(np.int64)
    idx = np.arange(n_filled)
    exe_signal = np.concatenate([idx, idx[split]])
    exe_time = np.concatenate([f_filled, second_time[split]])
    exe_price = np.concatenate([f_px, second_px[split]])
    exe_qty = np.concatenate([first_qty, second_qty[split]])
    exe_commission = _commission(broker, exe_qty, exe_price)
    signal_commission = np.bincount(exe_signal, weights=exe_commission, minlength=n_filled)
    vwap = np.round(np.bincount(exe_signal, weights=exe_qty * exe_price, minlength=n_filled) / f_qty, 4)

    # ---- signals that did not fill
    n_unfilled = int(round(n_filled * (1.0 - p.fill_rate) / p.fill_rate))
    n_pending = 0 if p.status != "ACTIVE" else int(rng.integers(1, 5))
    n_other = max(n_unfilled - n_pending, 0)
    u_status = np.where(rng.random(n_other) < 0.7, REJECTED, CANCELLED)
    u_status = np.concatenate([u_status, np.full(n_pending, PENDING)])
    u_sym = symbols[rng.integers(0, symbols.size, n_other + n_pending)]
    u_day = np.concatenate([rng.integers(first, last + 1, n_other), np.full(n_pending, last)])
    u_off = np.concatenate([rng.uniform(0, SESSION_SECONDS, n_other),
                            rng.uniform(SESSION_SECONDS - 2 * 3600, SESSION_SECONDS, n_pending)])
    u_received = market.session_open_us[u_day] + np.round(u_off * US).astype(np.int64)
    u_qty = _units(notional * vol_scale[u_sym] * np.exp(0.35 * rng.standard_normal(u_sym.size))
                   / market.close[u_sym, u_day], u_sym)
    reasons = np.array(p.reasons, dtype=float)
    reason = rng.choice(len(REJECT_REASONS), u_sym.size, p=reasons / reasons.sum())
    u_reason = np.where(u_status == REJECTED, reason, -1)

    n_sig = n_filled + u_sym.size
    lot_entry = np.concatenate([np.arange(n_trips), 2 * n_trips + np.arange(n_open)])
    lot_exit = np.concatenate([n_trips + np.arange(n_trips), np.full(n_open, -1)])
    out = {
        "sig_strategy": np.full(n_sig, s, dtype=np.int16),
        "sig_symbol": np.concatenate([f_sym, u_sym]).astype(np.int16),
        "sig_side": np.concatenate([(f_dir < 0).astype(np.int8), rng.integers(0, 2, u_sym.size).astype(np.int8)]),
        "sig_qty": np.concatenate([f_qty, u_qty]),
        "sig_received": np.concatenate([f_received, u_received]),
        "sig_status": np.concatenate([np.full(n_filled, FILLED), u_status]).astype(np.int8),
        "sig_reason": np.concatenate([np.full(n_filled, -1), u_reason]).astype(np.int8),
        "sig_filled": np.concatenate([f_filled, np.full(u_sym.size, -1, dtype=np.int64)]),
        "exe_signal": exe_signal,
        "exe_time": exe_time,
        "exe_price": exe_price,
        "exe_qty": exe_qty,
        "exe_commission": exe_commission,
        "lot_strategy": np.full(n_trips + n_open, s, dtype=np.int16),
        "lot_symbol": np.concatenate([sym, open_sym]),
        "lot_dir": np.concatenate([direction, open_dir]).astype(np.int8),
        "lot_qty": np.concatenate([qty, open_qty]),
        "lot_entry_day": np.concatenate([entry_day, open_day]),
        "lot_exit_day": np.concatenate([exit_day, np.full(n_open, market.n)]),
        "lot_entry_price": vwap[lot_entry],
        "lot_exit_price": np.concatenate([vwap[n_trips:2 * n_trips], np.full(n_open, np.nan)]),
        "lot_entry_signal": lot_entry,
        "lot_exit_signal": lot_exit,
        "lot_entry_commission": signal_commission[lot_entry],
        "lot_exit_commission": np.concatenate([signal_commission[n_trips:2 * n_trips], np.zeros(n_open)]),
    }
    return out


def _merge(parts: list[dict[str, np.ndarray]]) -> Book:
    """Concatenate the strategies' books, renumber signals in time order (ids grow with time)."""
    offsets = np.cumsum([0] + [part["sig_strategy"].size for part in parts])[:-1]
    for part, offset in zip(parts, offsets):
        part["exe_signal"] = part["exe_signal"] + offset
        part["lot_entry_signal"] = part["lot_entry_signal"] + offset
        part["lot_exit_signal"] = np.where(part["lot_exit_signal"] >= 0, part["lot_exit_signal"] + offset, -1)
    merged = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    order = np.lexsort((np.arange(merged["sig_received"].size), merged["sig_received"]))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    for key in [k for k in merged if k.startswith("sig_")]:
        merged[key] = merged[key][order]
    merged["exe_signal"] = rank[merged["exe_signal"]]
    merged["lot_entry_signal"] = rank[merged["lot_entry_signal"]]
    merged["lot_exit_signal"] = np.where(merged["lot_exit_signal"] >= 0, rank[merged["lot_exit_signal"]], -1)
    exe_order = np.lexsort((merged["exe_signal"], merged["exe_time"]))
    for key in [k for k in merged if k.startswith("exe_")]:
        merged[key] = merged[key][exe_order]
    return Book(**merged)


# --------------------------------------------------------------------------- account snapshots


def account_snapshots(market: Market, book: Book) -> dict[str, np.ndarray]:
    """Per account and business day: equity, cash, margin, unrealized PnL (arrays of shape (a, n))."""
    n, a = market.n, len(ACCOUNTS)
    account_of = np.array([p.account for p in STRATEGIES])[book.lot_strategy]
    closed = book.lot_exit_signal >= 0
    # cash flows: entry commissions on the entry day; gross PnL less exit commission on the exit day
    flows = np.zeros(a * n)
    np.add.at(flows, account_of * n + book.lot_entry_day, -book.lot_entry_commission)
    gross = book.lot_dir * book.lot_qty * (book.lot_exit_price - book.lot_entry_price)
    np.add.at(flows, (account_of * n + book.lot_exit_day)[closed], (gross - book.lot_exit_commission)[closed])
    realized = np.cumsum(flows.reshape(a, n), axis=1)

    # lots held at a day's close: entry_day <= d < exit_day
    length = book.lot_exit_day - book.lot_entry_day
    held = length > 0
    lot = np.repeat(np.flatnonzero(held), length[held])
    start = np.repeat(book.lot_entry_day[held], length[held])
    step = np.arange(lot.size) - np.repeat(np.cumsum(length[held]) - length[held], length[held])
    day = start + step
    price = market.close[book.lot_symbol[lot], day]
    signed = book.lot_dir[lot] * book.lot_qty[lot]
    key = account_of[lot] * n + day
    unrealized = np.bincount(key, weights=signed * (price - book.lot_entry_price[lot]), minlength=a * n).reshape(a, n)
    net_value = np.bincount(key, weights=signed * price, minlength=a * n).reshape(a, n)
    gross_value = np.bincount(key, weights=np.abs(signed) * price, minlength=a * n).reshape(a, n)

    contributions = np.array([acc[2] for acc in ACCOUNTS])[:, None]
    rate = np.array([acc[3] for acc in ACCOUNTS])[:, None]
    equity = contributions + realized + unrealized
    margin_used = np.minimum(rate * gross_value, 0.45 * np.maximum(equity, 0.0))
    return {
        "equity": np.round(equity, 2),
        "cash": np.round(equity - net_value, 2),
        "margin_used": np.round(margin_used, 2),
        "margin_available": np.round(equity - margin_used, 2),
        "unrealized_pnl": np.round(unrealized, 2),
    }


# --------------------------------------------------------------------------- backtests

BACKTEST_GRIDS: dict[str, dict[str, list]] = {
    "sma_cross": {"fast": [5, 10, 20], "slow": [30, 50, 100], "allow_short": [True, False]},
    "rsi_reversion": {"period": [7, 14, 21], "lower": [25.0, 30.0], "upper": [70.0, 75.0]},
    "donchian_breakout": {"window": [10, 20, 55], "allow_short": [True, False]},
    "bollinger_reversion": {"window": [10, 20, 30], "k": [1.5, 2.0, 2.5]},
}
BACKTEST_ERRORS = (
    "WorkerLostError: worker exited prematurely (signal 9, SIGKILL) during the run",
    "SoftTimeLimitExceeded: the run exceeded its 600 s time limit",
    "OperationalError: lost connection to the database while loading bars for {symbol}",
    "InvalidBars: no bars for {symbol} 1d between {start} and {end}",
)


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def config_key(kind: str, params: Mapping[str, Any]) -> str:
    """The canonical name of a configuration: kind, then ``name=value`` sorted by name
    (``sma_cross allow_short=true fast=10 slow=30``; floats as ``%g``: 2.0 -> 2, 2.5 -> 2.5)."""
    return " ".join([kind, *(f"{name}={_format_value(params[name])}" for name in sorted(params))])


def _json_clean(value: Any) -> Any:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_clean(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


@dataclass(frozen=True)
class RunPlan:
    kind: str
    params: dict[str, Any]
    symbol: int
    start: int  # bar index
    end: int  # bar index, inclusive
    created_us: int
    completed_us: int
    failed: str | None


def plan_backtests(rng: np.random.Generator, market: Market, scale: Scale, now: dt.datetime,
                   names: np.ndarray) -> list[RunPlan]:
    configs = [(kind, params) for kind, grid in BACKTEST_GRIDS.items() for params in bt.parameter_grid(kind, grid)[0]]
    symbols = [SYMBOL_INDEX[name] for name in scale.backtest_symbols or SYMBOL_INDEX]
    pairs = [(c, s) for c in range(len(configs)) for s in symbols]
    n = scale.backtest_runs
    order = np.concatenate([rng.permutation(len(pairs)) for _ in range(-(-n // len(pairs)))])[:n]
    now_us = int(now.replace(tzinfo=dt.UTC).timestamp()) * US
    completed = now_us - np.round(rng.uniform(0, 120 * 86400, n) * US).astype(np.int64)
    completed.sort()
    duration = np.round((1.0 + rng.pareto(1.2, n)) * 4.0 * US).astype(np.int64)  # seconds to minutes
    length = rng.choice(np.array(scale.backtest_windows), n)
    back = rng.integers(0, 6, n)
    failed = rng.random(n) < 0.02
    error = rng.integers(0, len(BACKTEST_ERRORS), n)
    day_us = market.days.to_numpy().astype("datetime64[us]").astype(np.int64)
    plans = []
    for i, pair in enumerate(order.tolist()):
        c, symbol = pairs[pair]
        kind, params = configs[c]
        # the window ends before the run completed: the last bar day before completion, minus a few
        last_bar = int(np.searchsorted(day_us, completed[i] - 86400 * US, side="right")) - 1
        end = max(last_bar - int(back[i]), int(length[i]) + 5)
        start = end - int(length[i]) + 1
        message = None
        if failed[i]:
            message = BACKTEST_ERRORS[error[i]].format(symbol=names[symbol], start=market.days[start].date(),
                                                       end=market.days[end].date())
        plans.append(RunPlan(kind, params, symbol, start, end, int(completed[i] - duration[i]), int(completed[i]),
                             message))
    return plans


def _regime(vol: float | None, settings: Settings) -> str | None:
    if vol is None:
        return None
    if vol < settings.VOL_REGIME_LOW_PCT:
        return "low"
    return "medium" if vol < settings.VOL_REGIME_HIGH_PCT else "high"


# --------------------------------------------------------------------------- paper trading

PAPER_ACCOUNTS = (("Paper Alpha Lab", 100_000.0), ("Paper Signal Providers", 250_000.0))
PAPER_SOURCES = (
    # source, edge (hit rate), symbols
    ("SPX Momentum", 0.58, ("SPY", "QQQ")),
    ("Crypto Trend", 0.53, ("BTCUSD", "ETHUSD")),
    ("TradingView: trend_alerts", 0.52, ("AAPL", "MSFT", "NVDA", "TSLA")),
    ("Discord: flow_scanner", 0.45, ("TSLA", "NVDA", "IWM")),
    ("Newsletter: Macro Weekly", 0.55, ("SPY", "XOM", "JPM")),
    ("cerebro_v2", 0.60, ("SPY", "QQQ", "AAPL", "MSFT")),
)


def simulate_paper(rng: np.random.Generator, market: Market, scale: Scale, last_signal_day: int) -> dict[str, Any]:
    n_closed, n_open = scale.paper_closed, scale.paper_open
    n = n_closed + n_open
    source = rng.integers(0, len(PAPER_SOURCES), n)
    account = rng.integers(0, len(PAPER_ACCOUNTS), n)
    symbol = np.array([SYMBOL_INDEX[rng.choice(PAPER_SOURCES[s][2])] for s in source.tolist()])
    is_open = np.arange(n) >= n_closed
    first = last_signal_day - 120
    entry_day = np.where(is_open, last_signal_day - rng.integers(0, 10, n), rng.integers(first, last_signal_day + 1, n))
    exit_day = np.minimum(entry_day + rng.geometric(0.35, n) - 1, last_signal_day)
    entry_off = rng.uniform(0, 3 * 3600, n)
    exit_off = np.where(exit_day == entry_day, rng.uniform(3.25 * 3600, SESSION_SECONDS, n),
                        rng.uniform(0, SESSION_SECONDS, n))
    entry_px = _in_range(rng, market, symbol, entry_day)
    exit_px = _in_range(rng, market, symbol, exit_day)
    edge = np.array([PAPER_SOURCES[s][1] for s in source.tolist()])
    move = np.sign(exit_px - entry_px)
    move[move == 0] = 1
    direction = np.where(rng.random(n) < edge, move, -move)
    direction = np.where(is_open, rng.choice([-1, 1], n, p=[0.3, 0.7]), direction)
    cash = np.array([a[1] for a in PAPER_ACCOUNTS])[account]
    # 3-12 % of the account per trade when ~10 trades are open at a time; smaller when more are
    concurrent = (exit_day - entry_day + 0.5)[~is_open].sum() / 120.0 / len(PAPER_ACCOUNTS)
    qty = _units(cash * rng.uniform(0.03, 0.12, n) * min(1.0, 10.0 / max(concurrent, 1e-9)) / entry_px, symbol)
    pnl = np.round(direction * qty * (exit_px - entry_px), 2)
    opened = market.session_open_us[entry_day] + np.round(entry_off * US).astype(np.int64)
    closed = market.session_open_us[exit_day] + np.round(exit_off * US).astype(np.int64)
    # cash: starting cash + realized PnL, less what the open longs cost, plus what the open shorts raised
    flows = np.where(is_open, -direction * qty * entry_px, pnl)
    starting = np.array([a[1] for a in PAPER_ACCOUNTS])
    account_cash = np.round(starting + np.bincount(account, weights=flows, minlength=starting.size), 2)
    return {
        "source": source, "account": account, "symbol": symbol, "is_open": is_open, "direction": direction,
        "qty": qty, "entry_px": entry_px, "exit_px": exit_px, "pnl": pnl, "opened": opened, "closed": closed,
        "account_cash": account_cash,
    }


PAPER_MISSED_REASONS = {
    "REJECTED": ("max open positions reached", "insufficient buying power", "risk limit: symbol exposure"),
    "SKIPPED": ("duplicate signal", "filtered: low confidence", "outside trading hours"),
    "EXPIRED": ("not filled within 60 s",),
}


def simulate_paper_signals(rng: np.random.Generator, market: Market, paper: dict[str, Any], last_signal_day: int,
                           now_us: int) -> dict[str, np.ndarray]:
    """The paper engine's signals: an executed ENTRY a few seconds before each trade opened and an
    executed EXIT for each closed trade; missed entries (rejected, skipped, expired: about one in
    five, a third of them in the last five sessions, so there are shadow positions to show); a
    few entries queued and exits active in the last minutes before ``now``."""
    n = paper["source"].size
    closed = np.flatnonzero(~paper["is_open"])
    open_ = np.flatnonzero(paper["is_open"])
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("source", "account", "symbol", "direction", "action", "qty",
                                                         "price", "created", "status", "reason", "trade",
                                                         "executed")}

    def add(idx_source, account, symbol, direction, action, qty, price, created, status, reason, trade, executed):
        for key, value in zip(cols, (idx_source, account, symbol, direction, action, qty, price, created, status,
                                     reason, trade, executed)):
            cols[key].append(np.asarray(value))

    def obj(value, size):
        return np.full(size, value, dtype=object)

    def sized(account, price, symbol):  # 3-8 % of the account
        cash = np.array([a[1] for a in PAPER_ACCOUNTS])[account]
        return _units(cash * rng.uniform(0.03, 0.08, account.size) / price, symbol)

    every = np.arange(n)
    add(paper["source"], paper["account"], paper["symbol"], paper["direction"], obj("ENTRY", n), paper["qty"],
        paper["entry_px"], paper["opened"] - np.round(rng.uniform(1, 30, n) * US).astype(np.int64),
        obj("EXECUTED", n), obj(None, n), every, paper["opened"])
    c = closed.size
    add(paper["source"][closed], paper["account"][closed], paper["symbol"][closed], paper["direction"][closed],
        obj("EXIT", c), paper["qty"][closed], paper["exit_px"][closed],
        paper["closed"][closed] - np.round(rng.uniform(1, 30, c) * US).astype(np.int64), obj("EXECUTED", c),
        obj(None, c), closed, paper["closed"][closed])

    # missed entries, drawn like the trades of the same sources
    k = max(30, n // 5)
    pick = rng.integers(0, n, k)
    source, account = paper["source"][pick], paper["account"][pick]
    symbol = np.array([SYMBOL_INDEX[rng.choice(PAPER_SOURCES[s][2])] for s in source.tolist()])
    recent = rng.random(k) < 1 / 3
    day = np.where(recent, last_signal_day - rng.integers(0, 5, k), last_signal_day - rng.integers(0, 121, k))
    price = _in_range(rng, market, symbol, day)
    created = market.session_open_us[day] + np.round(rng.uniform(0, SESSION_SECONDS, k) * US).astype(np.int64)
    status = rng.choice(np.array(["REJECTED", "SKIPPED", "EXPIRED"], dtype=object), k, p=[0.45, 0.45, 0.10])
    reason = np.array([rng.choice(PAPER_MISSED_REASONS[st]) for st in status.tolist()], dtype=object)
    add(source, account, symbol, rng.choice([-1, 1], k, p=[0.3, 0.7]), obj("ENTRY", k), sized(account, price, symbol),
        price, created, status, reason, np.full(k, -1), np.full(k, -1))

    # the live queue: entries waiting to execute, exits waiting to close about a third of the open trades
    q = max(3, open_.size // 5)
    pick = rng.integers(0, n, q)
    source = paper["source"][pick]
    symbol = np.array([SYMBOL_INDEX[rng.choice(PAPER_SOURCES[s][2])] for s in source.tolist()])
    price = np.round(market.close[symbol, last_signal_day], 4)
    add(source, paper["account"][pick], symbol, rng.choice([-1, 1], q, p=[0.3, 0.7]), obj("ENTRY", q),
        sized(paper["account"][pick], price, symbol), price,
        now_us - np.round(rng.uniform(5, 900, q) * US).astype(np.int64), obj("QUEUED", q), obj(None, q),
        np.full(q, -1), np.full(q, -1))
    exits = open_[rng.random(open_.size) < 1 / 3]
    e = exits.size
    add(paper["source"][exits], paper["account"][exits], paper["symbol"][exits], paper["direction"][exits],
        obj("EXIT", e), paper["qty"][exits], np.round(market.close[paper["symbol"][exits], last_signal_day], 4),
        now_us - np.round(rng.uniform(5, 600, e) * US).astype(np.int64), obj("QUEUED", e), obj(None, e), exits,
        np.full(e, -1))
    out = {key: np.concatenate(parts) for key, parts in cols.items()}
    order = np.argsort(out["created"], kind="stable")
    return {key: value[order] for key, value in out.items()}


# --------------------------------------------------------------------------- writing


class _Writer:
    """Bulk inserts through the DB-API cursor of the SQLAlchemy connection (same transaction)."""

    def __init__(self, conn: Connection, chunk: int, bar) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.chunk = chunk
        self.bar = bar
        self.counts: dict[str, int] = {}
        self.raw = conn.connection.dbapi_connection
        self.psycopg2 = self.dialect == "postgresql" and conn.dialect.driver == "psycopg2"

    # value conversions: arrays in, DB-ready Python lists out
    def times(self, us: np.ndarray) -> np.ndarray:
        """Epoch microseconds (-1: NULL) as naive UTC datetimes in the dialect's storage form."""
        us = np.asarray(us, dtype=np.int64)
        null = us < 0
        stamps = np.where(null, 0, us).astype("datetime64[us]")
        if self.dialect == "sqlite":  # SQLAlchemy's own storage format, so string comparisons work
            values = np.strings.replace(np.datetime_as_string(stamps, unit="us"), "T", " ")
        else:
            values = np.array(stamps.tolist(), dtype=object)
        if null.any():
            values = values.astype(object)
            values[null] = None
        return values

    def dates(self, days: Iterable[dt.date]) -> list:
        return [d.isoformat() for d in days] if self.dialect == "sqlite" else list(days)

    def json(self, values: Iterable[Any]) -> list:
        if self.dialect in ("sqlite", "postgresql"):
            return [None if v is None else json.dumps(v, separators=(",", ":"), allow_nan=False) for v in values]
        return list(values)

    def bools(self, values: Iterable[bool]) -> list:
        return [int(bool(v)) for v in values] if self.dialect == "sqlite" else [bool(v) for v in values]

    def insert(self, table: Table, columns: Mapping[str, Sequence | np.ndarray]) -> int:
        """Insert the rows given as columns (arrays or lists), ``chunk`` rows per executemany.
        Arrays become Python values one chunk at a time, to keep the memory flat."""
        names = list(columns)
        cols = [c if isinstance(c, (np.ndarray, list)) else list(c) for c in columns.values()]
        n = len(cols[0]) if cols else 0
        if any(len(c) != n for c in cols):
            raise ValueError(f"{table.name}: columns of different lengths")
        if self.bar is not None:
            self.bar.set_description(f"seeding {table.name}")
        quoted = ", ".join(f'"{name}"' for name in names)
        for lo in range(0, n, self.chunk):
            part = (c[lo:lo + self.chunk] for c in cols)
            rows = list(zip(*(c.tolist() if isinstance(c, np.ndarray) else c for c in part)))
            if self.dialect == "sqlite":
                cursor = self.raw.cursor()
                marks = ", ".join("?" * len(names))
                cursor.executemany(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', rows)
                cursor.close()
            elif self.psycopg2:
                from psycopg2.extras import execute_values

                with self.raw.cursor() as cursor:
                    execute_values(cursor, f'INSERT INTO "{table.name}" ({quoted}) VALUES %s', rows, page_size=2000)
            else:
                self.conn.execute(insert(table), [dict(zip(names, row)) for row in rows])
            if self.bar is not None:
                self.bar.update(len(rows))
        self.counts[table.name] = self.counts.get(table.name, 0) + n
        return n


SEEDED_TABLES: tuple[Table, ...] = tuple(
    model.__table__
    for model in (m.Execution, m.Signal, m.Position, m.ClosedTrade, m.AccountSnapshot, m.Strategy, m.PaperSignal,
                  m.PaperTrade, m.PaperAccount, m.BacktestEquityCurve, m.BacktestTrade, m.BacktestRun, m.BacktestSweep,
                  m.Bar, m.Account)
)  # children first: the order rows are deleted in


def _kept_users():
    return select(m.User.id).where(m.User.role == m.Role.ADMIN)


def _has_data(conn: Connection) -> list[str]:
    """Tables (other than admin users and their tokens) that hold rows."""
    busy = []
    for table in SEEDED_TABLES:
        if conn.execute(select(table.c.id if "id" in table.c else table.c.run_id).limit(1)).first():
            busy.append(table.name)
    if conn.execute(select(m.User.id).where(m.User.role != m.Role.ADMIN).limit(1)).first():
        busy.append("users")
    return busy


def _delete_seeded(conn: Connection) -> None:
    for table in SEEDED_TABLES:
        conn.execute(delete(table))
    conn.execute(delete(m.ApiToken.__table__).where(m.ApiToken.user_id.not_in(_kept_users())))
    conn.execute(delete(m.User.__table__).where(m.User.id.not_in(_kept_users())))


def _next_id(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _reset_sequences(conn: Connection) -> None:
    """Explicit ids leave PostgreSQL's serial sequences behind: move them past the max id."""
    if conn.dialect.name != "postgresql":
        return
    for table in (*SEEDED_TABLES, m.User.__table__, m.ApiToken.__table__):
        if "id" not in table.c:
            continue
        conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM \"{table.name}\"), 1), "
            f"(SELECT COUNT(*) > 0 FROM \"{table.name}\"))"
        ))


# --------------------------------------------------------------------------- seed


def _business_days(today: dt.date) -> pd.DatetimeIndex:
    return pd.bdate_range(end=pd.Timestamp(today), periods=BAR_DAYS)


def seed(url: str, scale: str = "demo", seed: int = 42, reset: bool = False, progress: bool = True,
         as_of: dt.datetime | None = None) -> dict[str, int]:
    """Fill the database at ``url`` with demo data; returns the rows written per table.

    ``scale``: "demo" (a few thousand signals, ~400 backtests; seconds) or "large" (>= 1,000,000
    signals and executions, >= 10,000 backtests; minutes). ``seed``: the random seed; the same
    seed and ``as_of`` day give identical rows. ``as_of``: "now" as a naive UTC datetime (default:
    the current time); bars end on its date. ``reset``: delete the seeded tables' rows first
    (users with role admin and their tokens stay); without it, a database with data raises
    ``DatabaseNotEmpty`` and nothing is written. The schema must exist (``data_access.migrate``).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid scales: {', '.join(SCALES)}")
    spec = SCALES[scale]
    now = (as_of or dt.datetime.now(dt.UTC)).replace(tzinfo=None, microsecond=0)
    settings = Settings.from_env()
    engine = make_engine(url)
    try:
        missing = {t.name for t in m.Base.metadata.sorted_tables} - set(inspect(engine).get_table_names())
        if missing:
            raise SchemaMissing(f"tables {', '.join(sorted(missing))} do not exist: run the migrations first "
                                "(data_access.migrate.upgrade(url) or `alembic upgrade head`)")
        with engine.connect() as conn:
            busy = _has_data(conn)
        if busy and not reset:
            raise DatabaseNotEmpty(f"the database already has data (in {', '.join(busy)}); "
                                   "seed with reset=True to replace it (admin users are kept)")
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA cache_size=-200000")  # 200 MB page cache for the bulk load
            if reset:
                _delete_seeded(conn)
            elif _has_data(conn):
                raise DatabaseNotEmpty("the database got data while seeding was being prepared")
            written = _seed(conn, spec, seed, now, settings, progress)
        refresh_planner_statistics(engine)
        return written
    finally:
        engine.dispose()


def refresh_planner_statistics(engine) -> None:
    """After a bulk load on PostgreSQL: VACUUM (ANALYZE), before autovacuum gets to it. Without
    statistics the planner guessed 930 of a strategy's 218,662 signals and sorted them all for a
    page of its history (170 ms; 10 ms after, with index-only counts from the visibility map).
    SQLite's planner works without statistics, and its queries here are tuned for that."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")


def _seed(conn: Connection, spec: Scale, seed_value: int, now: dt.datetime, settings: Settings,
          progress: bool) -> dict[str, int]:
    from tqdm.auto import tqdm

    bar = tqdm(total=None, unit="rows", unit_scale=True, disable=not progress, desc="generating data", leave=True)
    try:
        return _generate_and_write(conn, spec, seed_value, now, settings, bar)
    finally:
        bar.close()


def _generate_and_write(conn: Connection, spec: Scale, seed_value: int, now: dt.datetime, settings: Settings,
                        bar) -> dict[str, int]:
    streams = np.random.SeedSequence(seed_value).spawn(6)
    rng_market, rng_book, rng_users, rng_backtests, rng_paper, _spare = (np.random.default_rng(s) for s in streams)

    days = _business_days(now.date())
    market = simulate_market(rng_market, days)
    # signals happen on business days strictly before today (today's session may not be over)
    last_signal_day = int(np.searchsorted(days.to_numpy(), np.datetime64(now.date()), side="left")) - 1
    book = simulate_book(rng_book, market, spec, last_signal_day)
    snapshots = account_snapshots(market, book)
    paper = simulate_paper(rng_paper, market, spec, last_signal_day)
    now_us = int(np.datetime64(now.replace(tzinfo=None), "us").astype(np.int64))
    paper_signals = simulate_paper_signals(_spare, market, paper, last_signal_day, now_us)
    names = symbol_names(settings)
    plans = plan_backtests(rng_backtests, market, spec, now, names)

    n_strategies, n_accounts = len(STRATEGIES), len(ACCOUNTS)
    planned = (market.n * len(SYMBOLS) + book.sig_strategy.size + book.exe_signal.size + book.lot_strategy.size
               + n_accounts * (market.n + 1) + len(plans) + paper["source"].size + len(PAPER_ACCOUNTS)
               + paper_signals["source"].size
               + 2 * len(DEVELOPERS) + n_strategies)
    bar.total = planned
    bar.set_description("seeding")
    w = _Writer(conn, spec.chunk, bar)
    day_us = days.to_numpy().astype("datetime64[us]").astype(np.int64)
    first_day = days[0].date()

    # -------- market data
    k, n = len(SYMBOLS), market.n
    w.insert(m.Bar.__table__, {
        "id": np.arange(n * k) + _next_id(conn, m.Bar.__table__),
        "symbol": np.repeat(names, n),
        "timeframe": ["1d"] * (n * k),
        "time": w.times(np.tile(day_us, k)),
        "open": market.open.ravel(), "high": market.high.ravel(), "low": market.low.ravel(),
        "close": market.close.ravel(), "volume": market.volume.ravel(),
    })

    # -------- people, accounts, strategies
    user0 = _next_id(conn, m.User.__table__)
    created = [dt.datetime.combine(first_day, dt.time(12, 0)) - dt.timedelta(days=30)]
    w.insert(m.User.__table__, {
        "id": [user0 + i for i in range(len(DEVELOPERS))],
        "username": [d[0] for d in DEVELOPERS],
        "display_name": [d[1] for d in DEVELOPERS],
        # "!" + random hex: matches no password hash scheme; a password is set later via the CLI
        "password_hash": ["!" + rng_users.bytes(32).hex() for _ in DEVELOPERS],
        "role": [m.Role.DEVELOPER.value] * len(DEVELOPERS),
        "account_scope": [None] * len(DEVELOPERS),
        "is_active": w.bools([True] * len(DEVELOPERS)),
        "created_at": w.times(np.array([int(created[0].replace(tzinfo=dt.UTC).timestamp()) * US] * len(DEVELOPERS))),
    })
    developer_id = {d[0]: user0 + i for i, d in enumerate(DEVELOPERS)}
    # one API token per developer (their signal sender's); only a hash of a random secret is
    # stored and the secret is thrown away, so none of them can be used: real ones come from the CLI
    n_dev = len(DEVELOPERS)
    token_created = market.session_open_us[rng_users.integers(0, 60, n_dev)]
    last_used = market.session_open_us[last_signal_day] + rng_users.integers(0, int(SESSION_SECONDS), n_dev) * US
    revoked = np.arange(n_dev) == n_dev - 1
    w.insert(m.ApiToken.__table__, {
        "id": np.arange(n_dev) + _next_id(conn, m.ApiToken.__table__),
        "user_id": [developer_id[d[0]] for d in DEVELOPERS],
        "name": [f"{d[0]} signal sender" for d in DEVELOPERS],
        "token_sha256": [hashlib.sha256(rng_users.bytes(32)).hexdigest() for _ in DEVELOPERS],
        "created_at": w.times(token_created),
        "last_used_at": w.times(np.where(revoked, -1, last_used)),
        "revoked": w.bools(revoked),
    })
    account0 = _next_id(conn, m.Account.__table__)
    account_created = int(dt.datetime.combine(first_day, dt.time(0, 0), dt.UTC).timestamp()) * US - 7 * 86400 * US
    w.insert(m.Account.__table__, {
        "id": [account0 + i for i in range(n_accounts)],
        "name": [a[0] for a in ACCOUNTS], "broker": [a[1] for a in ACCOUNTS],
        "net_contributions": [a[2] for a in ACCOUNTS], "currency": ["USD"] * n_accounts,
        "created_at": w.times(np.full(n_accounts, account_created)),
    })
    strategy0 = _next_id(conn, m.Strategy.__table__)
    strategy_ids = np.arange(n_strategies) + strategy0
    strategy_created = [market.session_open_us[int(round(p.start * last_signal_day)) + 15] for p in STRATEGIES]
    w.insert(m.Strategy.__table__, {
        "id": strategy_ids,
        "name": [p.name for p in STRATEGIES],
        "developer_id": [developer_id[p.developer] for p in STRATEGIES],
        "account_id": [account0 + p.account for p in STRATEGIES],
        "allocation": [p.allocation for p in STRATEGIES],
        "status": [p.status for p in STRATEGIES],
        "created_at": w.times(np.array(strategy_created)),
    })
    strategy_account = np.array([account0 + p.account for p in STRATEGIES])

    # -------- account snapshots
    w.insert(m.AccountSnapshot.__table__, {
        "id": np.arange(n_accounts * n) + _next_id(conn, m.AccountSnapshot.__table__),
        "account_id": np.repeat(np.arange(n_accounts) + account0, n),
        "date": w.dates([d.date() for d in days] * n_accounts),
        **{name: values.ravel() for name, values in snapshots.items()},
    })

    # -------- signals, executions
    signal0 = _next_id(conn, m.Signal.__table__)
    n_sig = book.sig_strategy.size
    ids = np.arange(n_sig) + signal0
    epoch = book.sig_received // US
    w.insert(m.Signal.__table__, {
        "id": ids,
        "signal_id": [f"sig_{e}_{i:04d}" for e, i in zip(epoch.tolist(), ids.tolist())],
        "strategy_id": strategy_ids[book.sig_strategy],
        "symbol": names[book.sig_symbol],
        "side": np.array(["BUY", "SELL"], dtype=object)[book.sig_side],
        "quantity": book.sig_qty,
        "received_at": w.times(book.sig_received),
        "status": np.array(STATUS_CODES, dtype=object)[book.sig_status],
        "reject_reason": np.array([*REJECT_REASONS, None], dtype=object)[book.sig_reason],  # -1 -> None
        "filled_at": w.times(book.sig_filled),
    })
    execution_ids = np.arange(book.exe_signal.size) + _next_id(conn, m.Execution.__table__)
    w.insert(m.Execution.__table__, {
        "id": execution_ids,
        "execution_id": [f"exe_{i}" for i in execution_ids.tolist()],
        "signal_id": ids[book.exe_signal],
        "filled_at": w.times(book.exe_time),
        "price": book.exe_price, "quantity": book.exe_qty, "commission": book.exe_commission,
    })

    # -------- closed trades and open positions
    closed = book.lot_exit_signal >= 0
    c_idx = np.flatnonzero(closed)
    commission = np.round(book.lot_entry_commission + book.lot_exit_commission, 4)
    pnl = book.lot_dir * book.lot_qty * (book.lot_exit_price - book.lot_entry_price) - commission
    closed_order = c_idx[np.argsort(book.sig_filled[book.lot_exit_signal[c_idx]], kind="stable")]
    w.insert(m.ClosedTrade.__table__, {
        "id": np.arange(closed_order.size) + _next_id(conn, m.ClosedTrade.__table__),
        "strategy_id": strategy_ids[book.lot_strategy[closed_order]],
        "account_id": strategy_account[book.lot_strategy[closed_order]],
        "symbol": names[book.lot_symbol[closed_order]],
        "side": np.where(book.lot_dir[closed_order] > 0, "long", "short").astype(object),
        "quantity": book.lot_qty[closed_order],
        "entry_price": np.round(book.lot_entry_price[closed_order], 4),
        "exit_price": np.round(book.lot_exit_price[closed_order], 4),
        "opened_at": w.times(book.sig_filled[book.lot_entry_signal[closed_order]]),
        "closed_at": w.times(book.sig_filled[book.lot_exit_signal[closed_order]]),
        "commission": commission[closed_order],
        "realized_pnl": np.round(pnl[closed_order], 2),
    })
    o_idx = np.flatnonzero(~closed)
    w.insert(m.Position.__table__, {
        "id": np.arange(o_idx.size) + _next_id(conn, m.Position.__table__),
        "strategy_id": strategy_ids[book.lot_strategy[o_idx]],
        "account_id": strategy_account[book.lot_strategy[o_idx]],
        "symbol": names[book.lot_symbol[o_idx]],
        "quantity": book.lot_dir[o_idx] * book.lot_qty[o_idx],
        "entry_price": np.round(book.lot_entry_price[o_idx], 4),
        "opened_at": w.times(book.sig_filled[book.lot_entry_signal[o_idx]]),
    })

    # -------- paper trading
    paper0 = _next_id(conn, m.PaperAccount.__table__)
    w.insert(m.PaperAccount.__table__, {
        "id": [paper0 + i for i in range(len(PAPER_ACCOUNTS))],
        "name": [a[0] for a in PAPER_ACCOUNTS],
        "starting_cash": [a[1] for a in PAPER_ACCOUNTS],
        "cash": paper["account_cash"],
        "created_at": w.times(np.full(len(PAPER_ACCOUNTS), market.session_open_us[last_signal_day - 125])),
    })
    p_order = np.argsort(paper["opened"], kind="stable")
    is_open = paper["is_open"][p_order]
    paper_trade_ids = np.arange(p_order.size) + _next_id(conn, m.PaperTrade.__table__)
    w.insert(m.PaperTrade.__table__, {
        "id": paper_trade_ids,
        "external_id": [f"pt_{i}" for i in paper_trade_ids.tolist()],
        "paper_account_id": paper["account"][p_order] + paper0,
        "source": np.array([s[0] for s in PAPER_SOURCES], dtype=object)[paper["source"][p_order]],
        "symbol": names[paper["symbol"][p_order]],
        "side": np.where(paper["direction"][p_order] > 0, "long", "short").astype(object),
        "quantity": paper["qty"][p_order],
        "entry_price": paper["entry_px"][p_order],
        "opened_at": w.times(paper["opened"][p_order]),
        "status": np.where(is_open, "OPEN", "CLOSED").astype(object),
        "exit_price": np.where(is_open, None, paper["exit_px"][p_order].astype(object)),
        "closed_at": w.times(np.where(is_open, -1, paper["closed"][p_order])),
        "realized_pnl": np.where(is_open, None, paper["pnl"][p_order].astype(object)),
    })
    trade_id = np.empty(p_order.size, dtype=np.int64)  # a simulated trade's row id
    trade_id[p_order] = np.arange(p_order.size) + _next_id(conn, m.PaperTrade.__table__) - p_order.size
    ps = paper_signals
    linked = ps["trade"] >= 0
    paper_signal_ids = np.arange(ps["source"].size) + _next_id(conn, m.PaperSignal.__table__)
    w.insert(m.PaperSignal.__table__, {
        "id": paper_signal_ids,
        "external_id": [f"ps_{i}" for i in paper_signal_ids.tolist()],
        "paper_account_id": ps["account"] + paper0,
        "source": np.array([s[0] for s in PAPER_SOURCES], dtype=object)[ps["source"]],
        "symbol": names[ps["symbol"]],
        "side": np.where(ps["direction"] > 0, "long", "short").astype(object),
        "action": ps["action"],
        "quantity": ps["qty"],
        "price": ps["price"],
        "created_at": w.times(ps["created"]),
        "status": ps["status"],
        "reason": ps["reason"],
        "paper_trade_id": np.where(linked, trade_id[np.where(linked, ps["trade"], 0)], None).astype(object),
        "executed_at": w.times(ps["executed"]),
    })

    # -------- backtests: run them, in batches
    _write_backtests(conn, w, market, plans, settings, spec, names)
    _reset_sequences(conn)
    _write_demo_sweep(conn, w, market, settings, names, now)  # through the ORM: after the sequences are set
    return dict(sorted(w.counts.items()))


DEMO_SWEEP = {"strategy": "sma_cross", "fast": (5, 10, 20), "slow": (50, 100), "symbols": ("SPY", "QQQ"), "bars": 504}


def _write_demo_sweep(conn: Connection, w: _Writer, market: Market, settings: Settings, names: np.ndarray,
                      now: dt.datetime) -> None:
    """One finished parameter sweep (sma_cross fast x slow on SPY and QQQ over the last two years),
    stored as the API stores one - members with their in/out-of-sample Sharpe, and the
    recommendation - so the strategy page's sweep card has something to show."""
    from sqlalchemy.orm import Session

    from analytics.optimization import in_and_out_of_sample, recommend
    from data_access.backtest_store import store_run

    completed = now - dt.timedelta(days=10)
    session = Session(bind=conn)
    sweep = m.BacktestSweep(task_id="demo-sweep", strategy_kind=DEMO_SWEEP["strategy"], status=m.RunStatus.COMPLETED,
                            total=len(DEMO_SWEEP["fast"]) * len(DEMO_SWEEP["slow"]) * len(DEMO_SWEEP["symbols"]),
                            spec={"strategy": DEMO_SWEEP["strategy"], "symbols": list(DEMO_SWEEP["symbols"]),
                                  "parameter_sets": [], "timeframe": "1d", "start": None, "end": None, "cash": 100_000.0,
                                  "commission_bps": 0.0, "slippage_bps": 0.0},
                            created_at=completed - dt.timedelta(minutes=3), completed_at=completed)
    session.add(sweep)
    session.flush()
    members = []
    for symbol in DEMO_SWEEP["symbols"]:
        index = SYMBOL_INDEX[symbol]
        bars = market.bars(index)[-DEMO_SWEEP["bars"]:]
        for fast in DEMO_SWEEP["fast"]:
            for slow in DEMO_SWEEP["slow"]:
                params = {"fast": fast, "slow": slow, "allow_short": False}
                result = bt.run(bars, DEMO_SWEEP["strategy"], params, cash=100_000.0)
                split = in_and_out_of_sample(result.equity, [str(t)[:19] for t in result.bars.time])
                split.pop("split_bar")
                store_run(session, result, symbol=str(names[index]), sweep_id=sweep.id, extra_metrics=split,
                          created_at=completed - dt.timedelta(minutes=2), completed_at=completed, settings=settings)
                for table, n in (("backtest_runs", 1), ("backtest_equity_curves", 1),
                                 ("backtest_trades", len(result.trades))):
                    w.counts[table] = w.counts.get(table, 0) + n
                members.append({"configuration": config_key(DEMO_SWEEP["strategy"], result.params),
                                "parameters": result.params, "symbol": str(names[index]), **split})
    picked = recommend(members)
    if picked is not None:
        picked.update(in_sample_window=members[0]["in_sample_window"],
                      out_of_sample_window=members[0]["out_of_sample_window"])
    sweep.recommendation = picked
    session.flush()
    w.counts["backtest_sweeps"] = w.counts.get("backtest_sweeps", 0) + 1


def _write_backtests(conn: Connection, w: _Writer, market: Market, plans: list[RunPlan], settings: Settings,
                     spec: Scale, names: np.ndarray) -> None:
    full = [market.bars(k) for k in range(len(SYMBOLS))]
    stamps = np.datetime_as_string(market.days.to_numpy().astype("datetime64[s]"), unit="s")
    times_iso = [f"{t}Z" for t in stamps.tolist()]
    day_us = market.days.to_numpy().astype("datetime64[us]").astype(np.int64)
    run_id = _next_id(conn, m.BacktestRun.__table__)
    trade_id = _next_id(conn, m.BacktestTrade.__table__)
    batch = max(200, spec.chunk // 50)
    bar = w.bar
    for lo in range(0, len(plans), batch):
        runs: dict[str, list] = {name: [] for name in (
            "id", "strategy_kind", "params", "config_key", "symbol", "timeframe", "start", "end", "cash", "status",
            "error", "created_at", "completed_at", "total_return_pct", "sharpe_ratio", "max_drawdown_pct",
            "win_rate_pct", "number_of_trades", "underlying_volatility_pct", "volatility_regime", "metrics")}
        trades: dict[str, list] = {name: [] for name in (
            "id", "run_id", "side", "size", "entry_time", "entry_price", "exit_time", "exit_price", "pnl",
            "commission", "closed_at_end")}
        curves: dict[str, list] = {"run_id": [], "times": [], "equity": []}
        start_us, end_us, created_us, completed_us, entry_us, exit_us = [], [], [], [], [], []
        for plan in plans[lo:lo + batch]:
            closes = market.close[plan.symbol, plan.start:plan.end + 1]
            vol = volatility_pct(closes[1:] / closes[:-1] - 1.0)
            headline: dict[str, Any] = {}
            metrics = None
            status = "FAILED" if plan.failed else "COMPLETED"
            if not plan.failed:
                result = bt.run(full[plan.symbol][plan.start:plan.end + 1], plan.kind, plan.params, cash=100_000.0)
                metrics = _json_clean(result.metrics)
                headline = metrics
                for t in result.trades:
                    trades["id"].append(trade_id)
                    trades["run_id"].append(run_id)
                    trades["side"].append(t.side)
                    trades["size"].append(int(t.size))
                    entry_us.append(int(day_us[plan.start + t.entry_bar]))
                    exit_us.append(int(day_us[plan.start + t.exit_bar]))
                    trades["entry_price"].append(float(t.entry_price))
                    trades["exit_price"].append(float(t.exit_price))
                    trades["pnl"].append(round(float(t.pnl), 4))
                    trades["commission"].append(float(t.commission))
                    trades["closed_at_end"].append(bool(t.closed_at_end))
                    trade_id += 1
                curves["run_id"].append(run_id)
                curves["times"].append(times_iso[plan.start:plan.end + 1])
                curves["equity"].append(np.round(result.equity, 2).tolist())
            runs["id"].append(run_id)
            runs["strategy_kind"].append(plan.kind)
            runs["params"].append(_json_clean(plan.params))
            runs["config_key"].append(config_key(plan.kind, plan.params))
            runs["symbol"].append(names[plan.symbol])
            runs["timeframe"].append("1d")
            start_us.append(int(day_us[plan.start]))
            end_us.append(int(day_us[plan.end]))
            runs["cash"].append(100_000.0)
            runs["status"].append(status)
            runs["error"].append(plan.failed)
            created_us.append(plan.created_us)
            completed_us.append(plan.completed_us)
            for name in ("total_return_pct", "sharpe_ratio", "max_drawdown_pct", "win_rate_pct"):
                runs[name].append(headline.get(name))
            runs["number_of_trades"].append(headline.get("number_of_trades"))
            runs["underlying_volatility_pct"].append(vol)
            runs["volatility_regime"].append(_regime(vol, settings))
            runs["metrics"].append(metrics)
            run_id += 1
        runs.update(start=w.times(np.array(start_us)), end=w.times(np.array(end_us)),
                    created_at=w.times(np.array(created_us)), completed_at=w.times(np.array(completed_us)),
                    params=w.json(runs["params"]), metrics=w.json(runs["metrics"]))
        trades.update(entry_time=w.times(np.array(entry_us, dtype=np.int64)),
                      exit_time=w.times(np.array(exit_us, dtype=np.int64)),
                      closed_at_end=w.bools(trades["closed_at_end"]))
        curves.update(times=w.json(curves["times"]), equity=w.json(curves["equity"]))
        saved, w.bar = w.bar, None  # the bar counts runs, not their trades and curves
        w.insert(m.BacktestRun.__table__, runs)
        w.insert(m.BacktestTrade.__table__, trades)
        w.insert(m.BacktestEquityCurve.__table__, curves)
        w.bar = saved
        if bar is not None:
            bar.set_description("seeding backtests")
            bar.update(len(runs["id"]))
