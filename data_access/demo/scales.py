"""How much demo data a scale writes, and the clock constants every part shares."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

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
    # ten times large's round trips (signals, executions) on the same capital; closed trades only
    # 6.3x: tenth-size lots round to a unit or so, so an exit more often matches one lot exactly.
    # Paper trading as large: its sections read the open book and recent days
    "xlarge": Scale("xlarge", round_trips=5_000_000, trade_ideas=80_000, backtest_runs=100_000,
                    backtest_windows=(126, 189, 252), backtest_symbols=None, paper_closed=20_000, paper_open=60,
                    chunk=50_000),
}

YEARS = 3
BAR_DAYS = 252 * YEARS
SESSION_SECONDS = 6.5 * 3600  # 09:30-16:00 America/New_York
NEW_YORK = ZoneInfo("America/New_York")
US = 1_000_000  # microseconds per second
