"""The backtest engine against backtesting.py and vectorbt, measured in one run (a benchmark, not a test).

    pip install -e ".[bench]"      # backtesting.py and vectorbt: the `bench` extra, not the app's
    python bench/engine_peers.py [--repeat N]

Prints one row per piece of work (tradeboard | backtesting.py | vectorbt, best of N), each with its
target, ok/MISSED and the ratio that decides it:

- one run over GOOG's 2,148 daily bars (shipped with backtesting.py), SMA(10, 20) long/short: our
  `run` (indicators, orders, equity, every metric) against backtesting.py's `Backtest.run` and
  vectorbt's MA + `Portfolio.from_signals` + `stats()`. Target: at least 10x faster than either.
- a sweep of 200 configurations (fast 5..24 x slow 30..120) over the same bars: our `sweep` against
  backtesting.py's `Backtest.run` per configuration (in this process, as ours; its `optimize` would
  fork a pool) and vectorbt's 200 columns with total return, Sharpe, max drawdown and win rate.
  Target: at least 2x faster than vectorbt.
- one run over 1,000,000 one-minute bars of a random walk, SMA(10, 30): our whole `run` against
  vectorbt's `Portfolio.from_signals` alone on the same orders (its indicators and metrics not
  counted). Target: faster. backtesting.py is left out (minutes per run).

Each figure is the best of N (of 2N for the long run), the engines taking turns so that a busy
moment of the machine falls on all of them (backtesting.py's sweep: the best of N / 2). Our runs start from validated `Bars` with an empty indicator memo; vectorbt's are timed
after numba has compiled its functions. Below the table: both engines' cold start (a new process's
first long run for ours, whose order loop numba then loads from its cache), and whether our trades
on GOOG SMA(10, 20) are backtesting.py's, all but the last (we close it at the last close, per
METRICS.md; backtesting.py at the last bar's open). Exits 0 either way: a benchmark reports, the
tests decide.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bars

from analytics import backtest as bt  # noqa: E402

FAST, SLOW = 10, 20
GRID = {"fast": list(range(5, 25)), "slow": list(range(30, 130, 10))}  # 20 x 10 = 200 configurations
LONG_RUN = {"fast": 10, "slow": 30}
CASH = 10_000.0


def best_of(repeat: int, *works: Callable[[], object]) -> list[float]:
    """Each work's best time of ``repeat``, the works taking turns so that a busy moment of the
    machine falls on all of them."""
    times = [[] for _ in works]
    for _ in range(repeat):
        for work, kept in zip(works, times):
            start = time.perf_counter()
            work()
            kept.append(time.perf_counter() - start)
    return [min(kept) for kept in times]


def random_walk(n: int, seed: int = 7) -> bt.Bars:
    """One-minute bars of a driftless random walk (0.1 % a bar), opens gapped from the last close."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    opens = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.0002, n))
    wick = np.abs(rng.normal(0, 0.0005, n))
    return bt.make_bars(time=pd.date_range("2020-01-01", periods=n, freq="min"), open=opens,
                        high=np.maximum(opens, close) * (1 + wick), low=np.minimum(opens, close) * (1 - wick),
                        close=close, volume=rng.integers(100, 10_000, n))


def fresh(bars: bt.Bars) -> bt.Bars:
    """The same bars without their indicator memo, so each timing computes its indicators."""
    return bars[:]


# --------------------------------------------------------------------------- backtesting.py


def backtesting_strategy() -> type:
    from backtesting import Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCross(Strategy):
        n1, n2 = FAST, SLOW

        def init(self) -> None:
            self.sma1 = self.I(SMA, self.data.Close, self.n1)
            self.sma2 = self.I(SMA, self.data.Close, self.n2)

        def next(self) -> None:
            if crossover(self.sma1, self.sma2):
                self.position.close()
                self.buy()
            elif crossover(self.sma2, self.sma1):
                self.position.close()
                self.sell()

    return SmaCross


def same_trades_as_backtesting_py(goog: pd.DataFrame, strategy: type) -> str:
    from backtesting import Backtest

    theirs = Backtest(goog, strategy, cash=CASH, finalize_trades=True).run()._trades
    ours = bt.run(bt.Bars.from_frame(goog), "sma_cross", {"fast": FAST, "slow": SLOW}, cash=CASH).trades
    columns = zip(theirs.Size.abs(), theirs.EntryBar, theirs.EntryPrice, theirs.ExitBar, theirs.ExitPrice)
    pairs = list(zip(columns, ((t.size, t.entry_bar, t.entry_price, t.exit_bar, t.exit_price) for t in ours)))
    equal = sum(a == b for a, b in pairs[:-1])
    last = "closed at the last close" if ours[-1].closed_at_end else "not marked"
    verdict = "ok" if equal == len(pairs) - 1 == len(ours) - 1 else "DIFFERENT"
    return (f"trades on GOOG SMA({FAST}, {SLOW}): {equal} of {len(ours) - 1} identical to backtesting.py's before the "
            f"last one ({last}); {len(ours)} trades against its {len(theirs)}   {verdict}")


# --------------------------------------------------------------------------- vectorbt


def vectorbt_run(vbt, close: pd.Series, opens: pd.Series, fast: list[int] | int, slow: list[int] | int):
    """vectorbt's own SMA cross, long and short, filled at the next bar's open."""
    fast_ma = vbt.MA.run(close, window=fast, short_name="fast")
    slow_ma = vbt.MA.run(close, window=slow, short_name="slow")
    up = fast_ma.ma_crossed_above(slow_ma).vbt.fshift(1, fill_value=False)
    down = fast_ma.ma_crossed_below(slow_ma).vbt.fshift(1, fill_value=False)
    return vbt.Portfolio.from_signals(close, entries=up, exits=False, short_entries=down, short_exits=False,
                                      price=opens, init_cash=CASH, size_granularity=1, freq="1D")


def vectorbt_sweep(vbt, close: pd.Series, opens: pd.Series) -> list[pd.Series]:
    combos = [(f, s) for f in GRID["fast"] for s in GRID["slow"] if f < s]
    pf = vectorbt_run(vbt, close, opens, [f for f, _ in combos], [s for _, s in combos])
    return [pf.total_return(), pf.sharpe_ratio(), pf.max_drawdown(), pf.trades.win_rate()]


def orders_of(bars: bt.Bars, targets: np.ndarray) -> dict[str, np.ndarray]:
    """Our orders as vectorbt's signals on the bar that fills them: long, short or flat from there."""
    held = np.r_[bt.FLAT, targets[:-1]]  # the position wanted while bar t trades (decided at t-1)
    changed = np.r_[False, held[1:] != held[:-1]]
    before = np.r_[bt.FLAT, held[:-1]]
    return {"entries": changed & (held == bt.LONG), "short_entries": changed & (held == bt.SHORT),
            "exits": changed & (held == bt.FLAT) & (before == bt.LONG),
            "short_exits": changed & (held == bt.FLAT) & (before == bt.SHORT)}


def vectorbt_from_signals(vbt, bars: bt.Bars, signals: dict[str, np.ndarray]):
    index = pd.DatetimeIndex(bars.time)
    return vbt.Portfolio.from_signals(pd.Series(bars.close, index=index), **signals, price=pd.Series(bars.open, index=index),
                                      init_cash=CASH, size_granularity=1, freq="1min")


def first_long_run() -> float:
    """Seconds of a new process's first run over the long random walk (the bars made beforehand)."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (f"import sys, time; sys.path[:0] = [{here!r}, {os.path.dirname(here)!r}]; import engine_peers as e; "
            "walk = e.random_walk(1_000_000); start = time.perf_counter(); "
            "e.bt.run(walk, 'sma_cross', e.LONG_RUN, cash=e.CASH); print(time.perf_counter() - start)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


# --------------------------------------------------------------------------- the table


def row(work: str, ours: float, backtesting_py: float | None, vectorbt: float | None, target: str,
        ratio: float, needed: float) -> None:
    def ms(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds * 1e3:,.1f} ms"

    verdict = "ok" if ratio >= needed else "MISSED"
    print(f"| {work} | {ms(ours)} | {ms(backtesting_py)} | {ms(vectorbt)} | {target} | {ratio:.1f}x | {verdict} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the peers' deprecation and "open trades" warnings
    try:
        from backtesting import Backtest
        from backtesting.test import GOOG
        clock = time.perf_counter()
        import vectorbt as vbt
        vbt_import = time.perf_counter() - clock
    except ImportError as exc:
        print(f"{exc.name} is not installed: pip install -e '.[bench]' (backtesting.py and vectorbt)")
        return
    print(f"engine against its peers · {os.cpu_count()} cores · numpy {np.__version__} · pandas {pd.__version__} · "
          f"backtesting.py {sys.modules['backtesting'].__version__} · vectorbt {vbt.__version__} · best of {args.repeat}")
    strategy = backtesting_strategy()
    goog = bt.Bars.from_frame(GOOG)
    close, opens = GOOG.Close, GOOG.Open

    clock = time.perf_counter()
    vectorbt_run(vbt, close, opens, FAST, SLOW).stats()
    vbt_first = time.perf_counter() - clock
    vectorbt_sweep(vbt, close, opens)

    print("\n| work | tradeboard | backtesting.py | vectorbt | target | ratio | verdict |")
    print("| --- | ---: | ---: | ---: | --- | ---: | --- |")
    ours, theirs, vector = best_of(
        args.repeat,
        lambda: bt.run(fresh(goog), "sma_cross", {"fast": FAST, "slow": SLOW}, cash=CASH),
        lambda: Backtest(GOOG, strategy, cash=CASH, finalize_trades=True).run(),
        lambda: vectorbt_run(vbt, close, opens, FAST, SLOW).stats(),
    )
    row(f"one run, {len(goog):,} GOOG bars (vectorbt with stats)", ours, theirs, vector,
        ">= 10x faster than either", min(theirs, vector) / ours, 10.0)

    configurations = len(bt.parameter_grid("sma_cross", GRID)[0])
    runner = Backtest(GOOG, strategy, cash=CASH, finalize_trades=True)
    combos = [(f, s) for f in GRID["fast"] for s in GRID["slow"]]
    ours, vector = best_of(args.repeat, lambda: bt.sweep(fresh(goog), "sma_cross", GRID, cash=CASH),
                           lambda: vectorbt_sweep(vbt, close, opens))
    (theirs,) = best_of(max(1, args.repeat // 2), lambda: [runner.run(n1=f, n2=s) for f, s in combos])
    row(f"sweep, {configurations} configurations", ours, theirs, vector, ">= 2x faster than vectorbt", vector / ours, 2.0)

    walk = random_walk(1_000_000)
    signals = orders_of(walk, bt.target_positions(walk, "sma_cross", LONG_RUN))
    result = bt.run(fresh(walk), "sma_cross", LONG_RUN, cash=CASH)
    portfolio = vectorbt_from_signals(vbt, walk, signals)
    ours, vector = best_of(2 * args.repeat, lambda: bt.run(fresh(walk), "sma_cross", LONG_RUN, cash=CASH),
                           lambda: vectorbt_from_signals(vbt, walk, signals))
    row(f"one run, {len(walk):,} bars (vectorbt: from_signals only)", ours, None, vector,
        "faster than vectorbt", vector / ours, 1.0)

    print(f"\nthe {len(walk):,}-bar run: {result.metrics['number_of_trades']:,} trades, final equity {result.metrics['final_equity']:,.2f}; "
          f"vectorbt {portfolio.trades.count():,} trades, {portfolio.final_value():,.2f}. Ours computes its SMAs, "
          "orders, equity curve and every metric; vectorbt's from_signals its orders alone.")
    print(same_trades_as_backtesting_py(GOOG, strategy))
    print(f"cold: our first {len(walk):,}-bar run in a new process {first_long_run():.2f} s (numba imported and its "
          f"order loop loaded from numba's cache); vectorbt's import {vbt_import:.1f} s, its first run with stats "
          f"{vbt_first:.1f} s (numba compiling)")


if __name__ == "__main__":
    main()
