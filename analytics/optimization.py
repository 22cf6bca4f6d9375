"""Choosing a configuration from a sweep without fooling yourself: pick in-sample, judge out-of-sample.

Each sweep member is one full backtest over the whole window. Because the engine is causal (the
decision at bar t uses bars up to t only), its equity over the first ``split`` of the bars is
exactly what a backtest stopped at the split would have produced, so:

- in-sample Sharpe = Sharpe of the equity's returns over the first ``split`` of the bars;
- out-of-sample Sharpe = Sharpe of the returns from the split to the end (the strategy keeps the
  indicator history it had at the split, as it would live).

``recommend`` picks the configuration with the best mean in-sample Sharpe across its symbols and
reports its out-of-sample Sharpe beside it, with where it ranks out-of-sample, so a user sees
overfitting instead of trusting the best in-sample number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from analytics import metrics

IN_SAMPLE_SHARE = 0.7


def split_index(n_bars: int, split: float = IN_SAMPLE_SHARE) -> int:
    """The first out-of-sample bar: ``round(n * split)``, keeping at least 2 bars on each side."""
    if n_bars < 4:
        raise ValueError(f"an in/out-of-sample split needs at least 4 bars, got {n_bars}")
    if not 0.0 < split < 1.0:
        raise ValueError(f"split must be between 0 and 1, got {split}")
    return min(max(int(round(n_bars * split)), 2), n_bars - 2)


def in_and_out_of_sample(equity: Any, times: Any = None, split: float = IN_SAMPLE_SHARE, *, risk_free: float = 0.0,
                         periods_per_year: float = metrics.PERIODS_PER_YEAR) -> dict[str, Any]:
    """Sharpe of the equity before and after the split (the split bar's equity starts the second)."""
    equity = np.asarray(equity, dtype=float)
    k = split_index(equity.size, split)
    inside = metrics.sharpe_ratio(metrics.returns(equity[:k]), risk_free, periods_per_year)
    outside = metrics.sharpe_ratio(metrics.returns(equity[k - 1:]), risk_free, periods_per_year)
    out = {"in_sample_sharpe": inside, "out_of_sample_sharpe": outside, "split": split, "split_bar": k}
    if times is not None:
        times = list(times)
        out.update(in_sample_window=[str(times[0]), str(times[k - 1])], out_of_sample_window=[str(times[k]), str(times[-1])])
    return out


def _mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def recommend(members: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The configuration with the best mean in-sample Sharpe, with its out-of-sample Sharpe.

    ``members``: ``{configuration, parameters, symbol, in_sample_sharpe, out_of_sample_sharpe}``
    per completed sweep member. None with fewer than two configurations that have an in-sample
    Sharpe (there is nothing to choose between).
    """
    by_config: dict[str, dict[str, Any]] = {}
    for m in members:
        entry = by_config.setdefault(m["configuration"], {"parameters": m.get("parameters"), "symbols": [],
                                                          "in": [], "out": []})
        entry["symbols"].append(m["symbol"])
        entry["in"].append(m.get("in_sample_sharpe"))
        entry["out"].append(m.get("out_of_sample_sharpe"))
    scored = {key: (_mean(e["in"]), _mean(e["out"])) for key, e in by_config.items()}
    ranked_in = sorted((key for key, (i, _o) in scored.items() if i is not None), key=lambda k: (-scored[k][0], k))
    if len(ranked_in) < 2:
        return None
    pick = ranked_in[0]
    ranked_out = sorted((key for key, (_i, o) in scored.items() if o is not None), key=lambda k: (-scored[k][1], k))
    in_sharpe, out_sharpe = scored[pick]
    return {
        "configuration": pick,
        "parameters": by_config[pick]["parameters"],
        "symbols": sorted(set(by_config[pick]["symbols"])),
        "in_sample_sharpe": in_sharpe,
        "out_of_sample_sharpe": out_sharpe,
        "sharpe_decay": None if out_sharpe is None else in_sharpe - out_sharpe,
        "out_of_sample_rank": ranked_out.index(pick) + 1 if pick in ranked_out else None,
        "best_out_of_sample_configuration": ranked_out[0] if ranked_out else None,
        "best_out_of_sample_sharpe": scored[ranked_out[0]][1] if ranked_out else None,
        "candidates": len(scored),
        "in_sample_share": IN_SAMPLE_SHARE,
    }
