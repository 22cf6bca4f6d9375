"""Parameter sweeps: every valid combination of a grid, run over the same bars."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analytics.backtest.bars import Bars, as_bars
from analytics.backtest.errors import InvalidParameters
from analytics.backtest.results import Settings
from analytics.backtest.simulation import run_metrics, simulate
from analytics.backtest.strategies import STRATEGIES, strategy_kind, validate_params


def parameter_grid(kind: str, grid: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every combination of ``grid`` (name -> list of values), validated.

    Returns ``(valid parameter sets, reasons for skipped combinations)``: a combination that breaks
    a constraint between parameters (fast >= slow) is skipped and reported; a value out of range
    or an unknown name is an error.
    """
    spec = strategy_kind(kind)
    params_by_name = {p.name: p for p in spec.params}
    unknown = sorted(set(grid) - set(params_by_name))
    if unknown:
        validate_params(kind, dict.fromkeys(unknown))  # raises, naming them and the valid parameters
    axes = {}
    for name, values in grid.items():
        values = list(values) if isinstance(values, (list, tuple, range, np.ndarray)) else [values]
        if not values:
            raise InvalidParameters(f"{kind}: every grid axis needs at least one value ({name} has none)")
        try:
            axes[name] = [params_by_name[name].coerce(v) for v in values]
        except ValueError as exc:
            raise InvalidParameters(f"{kind}: {exc}") from None
    valid, skipped = [], []
    for combo in itertools.product(*axes.values()):
        params = {**spec.defaults(), **dict(zip(axes, combo))}
        conflict = spec.check(params)
        if conflict:
            skipped.append(f"{dict(zip(axes, combo))}: {conflict}")
        else:
            valid.append(params)
    return valid, skipped


SWEEP_CELLS = 4_000_000  # bars x runs simulated together: 32 MB per equity matrix


def sweep(bars: Bars | pd.DataFrame, kind: str, grid: Mapping[str, Any], **settings: Any) -> pd.DataFrame:
    """Run every valid combination of ``grid`` over the same bars; one row per run with its
    parameters and metrics. Indicators are computed once per distinct window; the runs are simulated
    together, as many at a time as fit in about `SWEEP_CELLS` bars."""
    bars = as_bars(bars)
    config = Settings(**settings)
    param_sets, _ = parameter_grid(kind, grid)
    strategy = STRATEGIES[kind]
    per_batch = max(1, SWEEP_CELLS // len(bars))
    rows = []
    for start in range(0, len(param_sets), per_batch):
        batch = param_sets[start:start + per_batch]
        targets = strategy.targets(bars, batch)
        ledger, equity = simulate(bars, targets, config)
        rows += [{**params, **metrics} for params, metrics in zip(batch, run_metrics(bars, ledger, equity, config))]
    return pd.DataFrame(rows)
