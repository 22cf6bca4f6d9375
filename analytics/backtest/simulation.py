"""`run`: one strategy over a set of bars, simulated trade by trade (from one change of target to the
next), with its metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analytics.backtest.bars import Bars, as_bars
from analytics.backtest.results import SIDE_NAMES, BacktestResult, Settings, Trade
from analytics.backtest.strategies import FLAT, STRATEGIES, validate_params
from analytics.metrics import performance_summary, trade_summary


def run(
    bars: Bars | pd.DataFrame,
    kind: str,
    params: Mapping[str, Any] | None = None,
    **settings: Any,
) -> BacktestResult:
    """Backtest one strategy over ``bars``. ``settings``: cash, fraction, commission_bps,
    slippage_bps, periods_per_year, risk_free (see ``Settings``)."""
    bars = as_bars(bars)
    checked = validate_params(kind, params)
    config = Settings(**settings)
    targets = STRATEGIES[kind].target_positions(bars, checked)
    trades, equity = simulate_by_trade(bars, targets, config)
    return BacktestResult(kind, checked, config, bars, trades, equity, run_metrics(bars, trades, equity, config))


def _order_bars(targets: np.ndarray) -> np.ndarray:
    """Bars whose open fills an order: the bar after each change of target (none after the last)."""
    changed = np.flatnonzero(np.diff(targets, prepend=FLAT) != 0)
    return changed[changed < targets.size - 1] + 1


def simulate_by_trade(bars: Bars, targets: np.ndarray, config: Settings) -> tuple[list[Trade], np.ndarray]:
    n = len(bars)
    fills = _order_bars(targets)
    cash_after = np.empty(fills.size + 1)
    units_after = np.zeros(fills.size + 1)
    cash_after[0] = cash = config.cash
    units = 0
    entry: tuple[int, float, float] | None = None  # (bar, price, commission)
    trades: list[Trade] = []
    opens, times = bars.open, bars.time

    def close_position(bar: int, price: float, at_end: bool) -> float:
        side = 1 if units > 0 else -1
        exit_price = config.fill_price(price, -side)
        exit_fee = config.commission(units * exit_price)
        entry_bar, entry_price, entry_fee = entry
        pnl = units * (exit_price - entry_price) - entry_fee - exit_fee
        trades.append(
            Trade(SIDE_NAMES[side], abs(units), entry_bar, pd.Timestamp(times[entry_bar]), entry_price,
                  bar, pd.Timestamp(times[bar]), exit_price, pnl, entry_fee + exit_fee, at_end)
        )
        return units * exit_price - exit_fee

    for k, bar in enumerate(fills.tolist()):
        if units:
            cash += close_position(bar, opens[bar], False)
            units, entry = 0, None
        direction = int(targets[bar - 1])
        if direction:
            price = config.fill_price(opens[bar], direction)
            size = config.size(cash, price)
            if size:
                fee = config.commission(size * price)
                units = direction * size
                cash -= units * price + fee
                entry = (bar, price, fee)
        cash_after[k + 1], units_after[k + 1] = cash, units

    segment = np.searchsorted(fills, np.arange(n), side="right")
    equity = cash_after[segment] + units_after[segment] * bars.close
    if units:
        cash += close_position(n - 1, bars.close[-1], True)
        equity[-1] = cash
    return trades, equity


def run_metrics(bars: Bars, trades: list[Trade], equity: np.ndarray, config: Settings) -> dict[str, Any]:
    pnl = np.fromiter((t.pnl for t in trades), dtype=float, count=len(trades))
    bars_in_market = sum(t.exit_bar - t.entry_bar + (1 if t.closed_at_end else 0) for t in trades)
    return {
        **performance_summary(equity, config.risk_free, config.periods_per_year),
        **trade_summary(pnl),
        "initial_cash": config.cash,
        "final_equity": float(equity[-1]),
        "total_commission": float(sum(t.commission for t in trades)),
        "exposure_pct": bars_in_market / len(bars) * 100.0,
        "bars": len(bars),
    }
