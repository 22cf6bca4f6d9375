"""A bar-based backtest engine following the conventions of ``shared/METRICS.md``.

- A strategy decides on the close of bar t from bars up to t only (its *target position*:
  +1 long, -1 short, 0 flat). A change of target is a market order that fills at the open of
  bar t+1. A decision on the last bar has no next bar and is dropped.
- Orders are sized in whole units: ``floor(equity * fraction / fill price)``, where equity is the
  cash after any position being replaced has been closed. Too little equity for one unit: no
  position until the next change of target.
- Slippage (bps) moves each fill price against the trader; commission (bps) is charged on each
  fill's notional and is part of the trade's PnL.
- Equity is marked at every bar's close. A position still open after the last bar is closed at
  that bar's close (with costs) and marked ``closed_at_end``.

``run`` returns the whole result; ``stream`` yields one event per bar for live playback. They
share the strategy's target positions (vectorised; proven free of look-ahead by the tests) and
simulate the book independently: ``run`` order by order, vectorised around the one sequential step
(`book`), ``stream`` bar by bar.

Where things are: `bars` (the validated input), `strategies` (the registry of strategy kinds and
their parameters), `results` (settings, trades, the result), `book` (orders, fills, trades and equity for
one run or many), `simulation` (`run`), `streaming` (`stream`), `sweeps` (`parameter_grid`, `sweep`),
`errors`.
"""

from analytics.backtest.bars import Bars, as_bars, make_bars
from analytics.backtest.errors import BacktestError, InvalidBars, InvalidParameters, UnknownStrategy
from analytics.backtest.results import SIDE_NAMES, BacktestResult, Ledger, Settings, Trade
from analytics.backtest.simulation import run
from analytics.backtest.strategies import (
    FLAT,
    LONG,
    SHORT,
    STRATEGIES,
    Param,
    StrategyKind,
    strategy_kind,
    strategy_schemas,
    target_positions,
    validate_params,
)
from analytics.backtest.streaming import stream
from analytics.backtest.sweeps import parameter_grid, sweep

__all__ = [
    "FLAT", "LONG", "SHORT", "SIDE_NAMES", "STRATEGIES",
    "BacktestError", "BacktestResult", "Bars", "InvalidBars", "InvalidParameters", "Ledger", "Param", "Settings",
    "StrategyKind", "Trade", "UnknownStrategy",
    "as_bars", "make_bars", "parameter_grid", "run", "strategy_kind", "strategy_schemas", "stream", "sweep",
    "target_positions", "validate_params",
]
