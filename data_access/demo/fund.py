"""The demo fund: accounts, developers, strategy profiles and broker commissions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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

