"""Analytics timings against their targets (a benchmark, not a test).

    python bench/analytics.py [--repeat N]

Prints one line per measurement: what, best-of-N time, target, and whether it is met. Exits 0
either way: a benchmark reports, the tests decide.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from analytics import backtest as bt  # noqa: E402
from analytics.metrics import performance_summary, trade_summary  # noqa: E402


def random_bars(n: int, seed: int = 7) -> bt.Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.012, n)))
    opens = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.002, n))
    wick = np.abs(rng.normal(0, 0.004, n))
    return bt.make_bars(
        time=pd.date_range("1990-01-01", periods=n, freq="min" if n > 100_000 else "D"),
        open=opens,
        high=np.maximum(opens, close) * (1 + wick),
        low=np.minimum(opens, close) * (1 - wick),
        close=close,
        volume=rng.integers(1_000, 100_000, n),
    )


def fresh(bars: bt.Bars) -> bt.Bars:
    """The same bars without their indicator memo, so each timing computes its indicators."""
    return bars[:]


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def report(what: str, seconds: float, target: float) -> None:
    verdict = "ok" if seconds < target else "MISSED"
    print(f"{what:<62} {seconds * 1e3:9.2f} ms   target < {target * 1e3:7.0f} ms   {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"analytics benchmark · {os.cpu_count()} cores · numpy {np.__version__} · pandas {pd.__version__}")

    rng = np.random.default_rng(1)
    curves = 1e6 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, (100, 2520)), axis=1))
    pnl = rng.normal(50, 500, 500)

    def all_metrics() -> None:
        performance_summary(curves)
        trade_summary(pnl)

    report("full metric set, 100 equity curves x 2,520 days", best_of(args.repeat, all_metrics), 0.050)

    daily = random_bars(2_500)
    for kind in bt.STRATEGIES:
        report(f"run {kind}, 2,500 daily bars", best_of(args.repeat, lambda: bt.run(fresh(daily), kind)), 0.005)

    million = random_bars(1_000_000)
    report("run sma_cross, 1,000,000 bars", best_of(3, lambda: bt.run(fresh(million), "sma_cross", {"fast": 10, "slow": 30})), 1.0)
    report("run donchian_breakout, 1,000,000 bars", best_of(3, lambda: bt.run(fresh(million), "donchian_breakout")), 1.0)

    grid = {"fast": list(range(5, 25)), "slow": list(range(30, 130, 10))}  # 20 x 10 = 200 sets

    report("sweep sma_cross, 200 parameter sets x 2,500 bars", best_of(3, lambda: bt.sweep(fresh(daily), "sma_cross", grid)), 1.0)
    events = best_of(1, lambda: sum(1 for _ in bt.stream(random_bars(100_000), "sma_cross")))
    print(f"{'stream sma_cross, 100,000 bars (for reference)':<62} {events * 1e3:9.2f} ms")


if __name__ == "__main__":
    main()
