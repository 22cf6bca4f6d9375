"""`run`: one strategy over a set of bars, simulated order by order (`book`), with its metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analytics.backtest.bars import Bars, as_bars
from analytics.backtest.book import equity_of, ledger_of, orders_of, settle
from analytics.backtest.results import BacktestResult, Ledger, Settings
from analytics.backtest.strategies import STRATEGIES, validate_params
from analytics.metrics import performance_summary, trade_summaries


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
    ledger, equity = simulate(bars, targets[np.newaxis], config)
    return BacktestResult(kind, checked, config, bars, ledger, equity[0], run_metrics(bars, ledger, equity, config)[0])


def simulate(bars: Bars, targets: np.ndarray, config: Settings) -> tuple[Ledger, np.ndarray]:
    """The trades and the equity curves (rows x bars) of each row of ``targets`` (rows x bars)."""
    orders = orders_of(targets, bars.open, config)
    held, cash = settle(orders, config)
    ledger = ledger_of(orders, held, float(bars.close[-1]), config)
    return ledger, equity_of(orders, held, cash, ledger, bars.close, config)


def run_metrics(bars: Bars, ledger: Ledger, equity: np.ndarray, config: Settings) -> list[dict[str, Any]]:
    """Each row's metrics: its equity curve's, its trades' and its costs and exposure."""
    rows = equity.shape[0]
    curves = performance_summary(equity, config.risk_free, config.periods_per_year)
    trades = trade_summaries(ledger.pnl, ledger.row, rows)
    in_market = np.bincount(ledger.row, ledger.exit_bar - ledger.entry_bar + ledger.closed_at_end, rows)
    commission = np.bincount(ledger.row, ledger.commission, rows)
    return [
        {
            **curves[r],
            **trades[r],
            "initial_cash": config.cash,
            "final_equity": float(equity[r, -1]),
            "total_commission": float(commission[r]),
            "exposure_pct": float(in_market[r]) / len(bars) * 100.0,
            "bars": len(bars),
        }
        for r in range(rows)
    ]
