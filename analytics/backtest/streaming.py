"""`stream`: one event per bar for live playback, the book simulated bar by bar (its trades are
exactly `run`'s)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from analytics.backtest.bars import Bars, as_bars
from analytics.backtest.results import SIDE_NAMES, Settings
from analytics.backtest.strategies import FLAT, STRATEGIES, validate_params


def stream(
    bars: Bars | pd.DataFrame,
    kind: str,
    params: Mapping[str, Any] | None = None,
    **settings: Any,
) -> Iterator[dict[str, Any]]:
    """One event per bar, in order, for live playback.

    Each event: ``bar`` (index), ``time`` (ISO UTC), ``open/high/low/close/volume``, ``signals``
    (the fills on this bar: ``{"type": "entry"|"exit", "side", "price", "size"}``, exits also
    ``pnl`` and ``closed_at_end``) and ``stats``: ``trades`` (closed), ``wins``, ``losses``,
    ``pnl`` (equity - initial cash), ``equity``, ``drawdown_pct`` (below the peak close equity,
    positive), ``progress_pct``. The trades are exactly ``run``'s.
    """
    bars = as_bars(bars)
    checked = validate_params(kind, params)
    config = Settings(**settings)
    targets = STRATEGIES[kind].target_positions(bars, checked)
    return _simulate_by_bar(bars, targets, config)


def _simulate_by_bar(bars: Bars, targets: np.ndarray, config: Settings) -> Iterator[dict[str, Any]]:
    n = len(bars)
    times = [f"{t}Z" for t in np.datetime_as_string(bars.time, unit="s").tolist()]
    o, h, low, c, v = (getattr(bars, name).tolist() for name in ("open", "high", "low", "close", "volume"))
    cash, units = config.cash, 0
    entry_price = entry_fee = 0.0
    wanted = FLAT
    closed = wins = losses = 0
    peak = config.cash

    def exit_signal(price: float, at_end: bool) -> dict[str, Any]:
        nonlocal cash, units, closed, wins, losses
        side = 1 if units > 0 else -1
        exit_price = config.fill_price(price, -side)
        fee = config.commission(units * exit_price)
        pnl = units * (exit_price - entry_price) - entry_fee - fee
        cash += units * exit_price - fee
        signal = {"type": "exit", "side": SIDE_NAMES[side], "price": exit_price, "size": abs(units),
                  "pnl": pnl, "closed_at_end": at_end}
        units = 0
        closed += 1
        wins += pnl > 0
        losses += pnl < 0
        return signal

    for t in range(n):
        signals = []
        if t > 0 and targets[t - 1] != wanted:
            wanted = int(targets[t - 1])
            if units:
                signals.append(exit_signal(o[t], False))
            if wanted:
                price = config.fill_price(o[t], wanted)
                size = config.size(cash, price)
                if size:
                    entry_price, entry_fee = price, config.commission(size * price)
                    units = wanted * size
                    cash -= units * price + entry_fee
                    signals.append({"type": "entry", "side": SIDE_NAMES[wanted], "price": price, "size": size})
        if t == n - 1 and units:
            signals.append(exit_signal(c[t], True))
        equity = cash + units * c[t]
        peak = max(peak, equity)
        yield {
            "bar": t,
            "time": times[t],
            "open": o[t],
            "high": h[t],
            "low": low[t],
            "close": c[t],
            "volume": v[t],
            "signals": signals,
            "stats": {
                "trades": closed,
                "wins": wins,
                "losses": losses,
                "pnl": equity - config.cash,
                "equity": equity,
                "drawdown_pct": (1.0 - equity / peak) * 100.0 if peak > 0 else 0.0,
                "progress_pct": (t + 1) / n * 100.0,
            },
        }
