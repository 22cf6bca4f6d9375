"""What a backtest is run with (`Settings`: cash, sizing, costs) and what it returns (`Trade`,
`Ledger`, `BacktestResult`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from analytics.backtest.bars import Bars
from analytics.backtest.errors import BacktestError
from analytics.backtest.strategies import LONG, SHORT
from analytics.metrics import PERIODS_PER_YEAR

SIDE_NAMES = {LONG: "long", SHORT: "short"}


@dataclass(frozen=True, slots=True)
class Trade:
    side: str
    size: int
    entry_bar: int
    entry_time: pd.Timestamp
    entry_price: float
    exit_bar: int
    exit_time: pd.Timestamp
    exit_price: float
    pnl: float
    commission: float
    closed_at_end: bool

    @property
    def pnl_pct(self) -> float:
        """PnL as a percentage of the entry notional."""
        return self.pnl / (self.size * self.entry_price) * 100.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "size": self.size,
            "entry_bar": self.entry_bar,
            "entry_time": _iso(self.entry_time),
            "entry_price": self.entry_price,
            "exit_bar": self.exit_bar,
            "exit_time": _iso(self.exit_time),
            "exit_price": self.exit_price,
            "pnl": self.pnl,
            "pnl_pct": self.pnl_pct,
            "commission": self.commission,
            "closed_at_end": self.closed_at_end,
        }


def _iso(t: Any) -> str:
    return pd.Timestamp(t).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Settings:
    cash: float = 100_000.0
    fraction: float = 1.0
    commission_bps: float = 0.0
    slippage_bps: float = 0.0
    periods_per_year: float = PERIODS_PER_YEAR
    risk_free: float = 0.0

    def __post_init__(self) -> None:
        checks = (
            (math.isfinite(self.cash) and self.cash > 0, f"cash must be positive, got {self.cash}"),
            (0 < self.fraction <= 10, f"fraction must be in (0, 10], got {self.fraction}"),
            (0 <= self.commission_bps < 10_000, f"commission_bps must be in [0, 10000), got {self.commission_bps}"),
            (0 <= self.slippage_bps < 10_000, f"slippage_bps must be in [0, 10000), got {self.slippage_bps}"),
            (self.periods_per_year > 0, f"periods_per_year must be positive, got {self.periods_per_year}"),
            (self.risk_free > -1, f"risk_free must be > -1, got {self.risk_free}"),
        )
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise BacktestError("; ".join(problems))

    def fill_price(self, price: float, direction: int) -> float:
        """The price a buy (+1) or sell (-1) gets after slippage."""
        return float(price) * (1.0 + direction * self.slippage_bps / 10_000.0)

    def commission(self, notional: float) -> float:
        return abs(float(notional)) * self.commission_bps / 10_000.0

    def size(self, equity: float, fill_price: float) -> int:
        return max(math.floor(equity * self.fraction / fill_price), 0)


@dataclass(frozen=True, eq=False)
class Ledger:
    """Closed trades as columns, in order, row by row (``row``: the run, of the several simulated
    together, each belongs to); `trades` makes them `Trade` objects."""

    row: np.ndarray
    side: np.ndarray  # +1 long, -1 short
    size: np.ndarray
    entry_bar: np.ndarray
    entry_price: np.ndarray
    exit_bar: np.ndarray
    exit_price: np.ndarray
    pnl: np.ndarray
    commission: np.ndarray
    closed_at_end: np.ndarray

    def __len__(self) -> int:
        return int(self.row.size)

    def trades(self, times: np.ndarray) -> list[Trade]:
        """`Trade` objects, their times from ``times`` (the bars' ``datetime64`` times)."""
        names = [SIDE_NAMES[side] for side in self.side.tolist()]
        entry_times = pd.DatetimeIndex(times[self.entry_bar]).tolist()
        exit_times = pd.DatetimeIndex(times[self.exit_bar]).tolist()
        return list(map(Trade, names, self.size.tolist(), self.entry_bar.tolist(), entry_times,
                        self.entry_price.tolist(), self.exit_bar.tolist(), exit_times, self.exit_price.tolist(),
                        self.pnl.tolist(), self.commission.tolist(), self.closed_at_end.tolist()))


@dataclass
class BacktestResult:
    kind: str
    params: dict[str, Any]
    settings: Settings
    bars: Bars
    ledger: Ledger
    equity: np.ndarray
    metrics: dict[str, Any]

    @cached_property
    def trades(self) -> list[Trade]:
        """The closed trades as `Trade` objects, made on first use (the ledger holds them as columns)."""
        return self.ledger.trades(self.bars.time)

    @property
    def equity_curve(self) -> pd.Series:
        return pd.Series(self.equity, index=pd.DatetimeIndex(self.bars.time, name="time"), name="equity")

    def trades_frame(self) -> pd.DataFrame:
        return pd.DataFrame([t.to_dict() for t in self.trades], columns=list(_TRADE_COLUMNS))

    def to_dict(self, include_equity: bool = True) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "params": self.params,
            "settings": vars(self.settings).copy(),
            "start": _iso(self.bars.time[0]),
            "end": _iso(self.bars.time[-1]),
            "metrics": self.metrics,
            "trades": [t.to_dict() for t in self.trades],
        }
        if include_equity:
            times = np.datetime_as_string(self.bars.time, unit="s")
            out["equity_curve"] = [{"time": f"{t}Z", "equity": e} for t, e in zip(times.tolist(), self.equity.tolist())]
        return out


_TRADE_COLUMNS = Trade.__slots__ + ("pnl_pct",)
