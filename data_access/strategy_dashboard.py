"""The strategy-performance dashboard: completed backtests aggregated from their daily rollups.

One grouped statement per section (METRICS.md "Backtest aggregation") over ``backtest_symbol_days``
or ``backtest_config_days`` (data_access/aggregates/backtest_days.py: runs summed per completion day,
so the cost follows the days and configurations shown, not the runs), each cached in the long tier
under the "backtests" family (a stored run or sweep bumps it):

- ``summary``: ``backtest_count`` and ``last_updated`` (the latest completion) in the range;
- ``by_volatility`` / ``by_symbol`` / ``configurations``: count, mean return %, mean Sharpe, mean
  max drawdown %, mean win rate %, total trades, grouped by regime / symbol / (kind, configuration);
- ``sharpe_over_time``: mean Sharpe of the runs completed per day; per ISO week for ``all`` (summed
  per day in SQL, the sums folded into weeks, so a week's mean is over its runs, not its days);
- ``heatmap``: for one strategy kind, mean Sharpe per (x, y) pair of two of its parameters, read
  from the runs' JSON parameters in SQL;
- ``ml_optimization``: the recommendation of the latest completed sweep in the range (or null).

The time range selects runs by completion time (7d, 30d, 90d, all), relative to ``as_of``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, select

from analytics.backtest import STRATEGIES
from data_access.cache import cached_section
from data_access.client_dashboard import _day, _iso, _rows
from data_access.document import SectionReader, utc_now_iso
from data_access.models import BacktestConfigDay, BacktestRun, BacktestSweep, BacktestSymbolDay, RunStatus

TIME_RANGES = {"7d": 7, "30d": 30, "90d": 90, "all": None}
DEFAULT_TIME_RANGE = "30d"
REGIME_ORDER = ("low", "medium", "high")
MAX_CONFIGURATIONS = 500
FAMILIES = ("backtests",)


class InvalidTimeRange(ValueError):
    def __init__(self, value: str) -> None:
        super().__init__(f"unknown time_range {value!r}; valid: {', '.join(TIME_RANGES)}")
        self.value = value


class InvalidHeatmapAxes(ValueError):
    pass


def check_time_range(time_range: str) -> str:
    if time_range not in TIME_RANGES:
        raise InvalidTimeRange(time_range)
    return time_range


def _days(time_range: str, as_of: str) -> tuple[dt.date | None, dt.date]:
    """The first and last completion day of the range ending with the as-of day (first None: all)."""
    last = dt.date.fromisoformat(as_of)
    days = TIME_RANGES[time_range]
    return (None if days is None else last - dt.timedelta(days=days - 1)), last


def _in_range(model, time_range: str, as_of: str):
    """A rollup's rows of the range: completed on the days from ``_days``."""
    first, last = _days(time_range, as_of)
    condition = model.day <= last
    return condition if first is None else and_(condition, model.day >= first)


def _stats_columns(model):
    """Count, mean return %, mean Sharpe, mean max drawdown %, mean win rate % and total trades of
    the runs behind a rollup's rows: each mean a sum over a count of the runs that have the metric."""
    def mean(name: str):
        count, total = func.sum(getattr(model, f"{name}_n")), func.sum(getattr(model, f"{name}_sum"))
        return case((count > 0, total / cast(count, Float)))

    return (func.sum(model.runs), mean("return"), mean("sharpe"), mean("drawdown"), mean("win_rate"),
            func.coalesce(func.sum(model.trades), 0))


def _stats(row) -> dict[str, Any]:
    count, ret, sharpe, dd, win, trades = row
    number = lambda v: None if v is None else float(v)  # noqa: E731 - null where no run has the metric
    return {"count": int(count or 0), "avg_return_pct": number(ret), "avg_sharpe": number(sharpe),
            "avg_max_drawdown_pct": number(dd), "avg_win_rate_pct": number(win), "total_trades": int(trades or 0)}


# --------------------------------------------------------------------------- sections

BySymbol, ByConfig = BacktestSymbolDay, BacktestConfigDay


@cached_section(FAMILIES, "long")
def summary(time_range: str, as_of: str) -> dict[str, Any]:
    count, last = _rows(select(func.sum(BySymbol.runs), func.max(BySymbol.last_completed_at))
                        .where(_in_range(BySymbol, time_range, as_of)))[0]
    return {"backtest_count": int(count or 0), "last_updated": _iso(last) if last else None}


@cached_section(FAMILIES, "long")
def by_volatility(time_range: str, as_of: str) -> list[dict[str, Any]]:
    rows = _rows(select(BySymbol.volatility_regime, *_stats_columns(BySymbol))
                 .where(_in_range(BySymbol, time_range, as_of)).group_by(BySymbol.volatility_regime))
    out = [{"regime": regime or None, **_stats(rest)} for regime, *rest in rows]
    rank = {r: i for i, r in enumerate(REGIME_ORDER)}
    return sorted(out, key=lambda r: (rank.get(r["regime"], len(rank)), str(r["regime"])))


@cached_section(FAMILIES, "long")
def by_symbol(time_range: str, as_of: str) -> list[dict[str, Any]]:
    rows = _rows(select(BySymbol.symbol, *_stats_columns(BySymbol)).where(_in_range(BySymbol, time_range, as_of))
                 .group_by(BySymbol.symbol).order_by(BySymbol.symbol))
    return [{"symbol": symbol, **_stats(rest)} for symbol, *rest in rows]


@cached_section(FAMILIES, "long")
def configurations(time_range: str, as_of: str, limit: int = MAX_CONFIGURATIONS) -> list[dict[str, Any]]:
    """Per configuration (kind + parameters), best mean Sharpe first; with one representative run
    (the latest with trades) to drill into and its parameters."""
    stats = _stats_columns(ByConfig)
    in_range = _in_range(ByConfig, time_range, as_of)
    rows = _rows(select(ByConfig.strategy_kind, ByConfig.config_key, *stats, func.max(ByConfig.sharpe_max),
                        func.coalesce(func.max(ByConfig.latest_traded_id), func.max(ByConfig.latest_id)))
                 .where(in_range).group_by(ByConfig.strategy_kind, ByConfig.config_key)
                 .order_by(stats[2].desc().nulls_last(), ByConfig.config_key).limit(limit))
    symbols: dict[tuple[str, str], set[str]] = {}
    for kind, key, joined in _rows(select(ByConfig.strategy_kind, ByConfig.config_key, ByConfig.symbols)
                                   .where(in_range)):
        symbols.setdefault((kind, key), set()).update(joined.split(","))
    params = dict(_rows(select(BacktestRun.id, BacktestRun.params).where(BacktestRun.id.in_([r[-1] for r in rows]))))
    out = []
    for row in rows:
        kind, key, stats_row, (best, latest) = row[0], row[1], row[2:8], row[8:10]
        out.append({"strategy_kind": kind, "configuration": key, "parameters": params.get(latest), **_stats(stats_row),
                    "best_sharpe": None if best is None else float(best), "symbols": len(symbols.get((kind, key), ())),
                    "latest_run_id": latest})
    return out


@cached_section(FAMILIES, "long")
def sharpe_over_time(time_range: str, as_of: str) -> list[dict[str, Any]]:
    rows = _rows(select(BySymbol.day, func.sum(BySymbol.sharpe_sum), func.sum(BySymbol.sharpe_n),
                        func.sum(BySymbol.runs))
                 .where(_in_range(BySymbol, time_range, as_of)).group_by(BySymbol.day).order_by(BySymbol.day))
    buckets: dict[dt.date, list[float]] = {}
    for d, total, with_sharpe, runs in rows:
        d = _day(d)
        start = d - dt.timedelta(days=d.weekday()) if time_range == "all" else d
        bucket = buckets.setdefault(start, [0.0, 0, 0])
        bucket[0] += float(total or 0.0)
        bucket[1] += int(with_sharpe)
        bucket[2] += int(runs)
    return [{"date": start.isoformat(), "period": "week" if time_range == "all" else "day",
             "avg_sharpe": total / n if n else None, "count": runs}
            for start, (total, n, runs) in sorted(buckets.items())]


def heatmap_axes(kind: str | None, x: str | None, y: str | None, available: list[str]) -> tuple[str, str, str] | None:
    """(kind, x, y): the named ones, else the kind with runs first in the registry and its first two
    numeric parameters. InvalidHeatmapAxes names the valid choices."""
    if kind is None:
        kind = next((k for k in STRATEGIES if k in available), None)
        if kind is None:
            return None
    if kind not in STRATEGIES:
        raise InvalidHeatmapAxes(f"unknown strategy kind {kind!r}; valid: {', '.join(STRATEGIES)}")
    numeric = [p.name for p in STRATEGIES[kind].params if p.type in ("int", "float")]
    x = x or numeric[0]
    y = y or (numeric[1] if len(numeric) > 1 else numeric[0])
    for axis in (x, y):
        if axis not in numeric:
            raise InvalidHeatmapAxes(f"{kind} has no numeric parameter {axis!r}; valid: {', '.join(numeric)}")
    if x == y and len(numeric) > 1:
        raise InvalidHeatmapAxes(f"the heatmap's axes must differ (both {x!r}); valid: {', '.join(numeric)}")
    return kind, x, y


@cached_section(FAMILIES, "long")
def strategy_kinds(time_range: str, as_of: str) -> list[str]:
    return [k for (k,) in _rows(select(ByConfig.strategy_kind).where(_in_range(ByConfig, time_range, as_of))
                                .group_by(ByConfig.strategy_kind).order_by(ByConfig.strategy_kind))]


@cached_section(FAMILIES, "long")
def heatmap(time_range: str, as_of: str, kind: str, x: str, y: str) -> list[dict[str, Any]]:
    """Mean Sharpe per (x, y) of ``kind``'s runs: its configurations' sums in the range, each placed by
    the parameters of its latest run."""
    rows = _rows(select(ByConfig.config_key, func.sum(ByConfig.sharpe_sum), func.sum(ByConfig.sharpe_n),
                        func.sum(ByConfig.runs), func.max(ByConfig.latest_id))
                 .where(_in_range(ByConfig, time_range, as_of), ByConfig.strategy_kind == kind)
                 .group_by(ByConfig.config_key))
    params = dict(_rows(select(BacktestRun.id, BacktestRun.params).where(BacktestRun.id.in_([r[-1] for r in rows]))))
    cells: dict[tuple[float, float], list[float]] = {}
    for _key, total, with_sharpe, runs, latest in rows:
        values = params.get(latest) or {}
        try:
            point = (float(values[x]), float(values[y]))
        except (KeyError, TypeError, ValueError):
            continue
        cell = cells.setdefault(point, [0.0, 0, 0])
        cell[0] += float(total or 0.0)
        cell[1] += int(with_sharpe)
        cell[2] += int(runs)
    return [{"strategy_kind": kind, "x_param": x, "x": xv, "y_param": y, "y": yv,
             "avg_sharpe": total / n if n else None, "count": runs}
            for (xv, yv), (total, n, runs) in sorted(cells.items())]


@cached_section(FAMILIES, "long")
def ml_optimization(time_range: str, as_of: str) -> dict[str, Any] | None:
    """The latest completed sweep's recommendation (in-sample pick, out-of-sample check) in range."""
    end = dt.datetime.combine(dt.date.fromisoformat(as_of) + dt.timedelta(days=1), dt.time())
    condition = and_(BacktestSweep.status == RunStatus.COMPLETED, BacktestSweep.recommendation.is_not(None),
                     BacktestSweep.completed_at < end)
    if TIME_RANGES[time_range] is not None:
        condition = and_(condition, BacktestSweep.completed_at >= end - dt.timedelta(days=TIME_RANGES[time_range]))
    rows = _rows(select(BacktestSweep.id, BacktestSweep.recommendation, BacktestSweep.completed_at).where(condition)
                 .order_by(BacktestSweep.completed_at.desc(), BacktestSweep.id.desc()).limit(1))
    if not rows:
        return None
    sweep_id, recommendation, completed = rows[0]
    return {"sweep_id": sweep_id, "completed_at": _iso(completed), **recommendation}


# --------------------------------------------------------------------------- the document


def strategy_dashboard(time_range: str = DEFAULT_TIME_RANGE, *, as_of: dt.date | None = None, force: bool = False,
                       heatmap_kind: str | None = None, heatmap_x: str | None = None,
                       heatmap_y: str | None = None) -> dict[str, Any]:
    """The strategy-performance document in the replaced system's shape (camelCase section names)
    plus ``heatmap_axes``, ``sections``, ``errors`` and ``metadata``."""
    check_time_range(time_range)
    as_of_day = (as_of or dt.datetime.now(dt.UTC).date()).isoformat()
    with SectionReader(force) as reader:
        got = reader.read_parallel({
            "summary": (summary, time_range, as_of_day),
            "byVolatility": (by_volatility, time_range, as_of_day),
            "bySymbol": (by_symbol, time_range, as_of_day),
            "configurations": (configurations, time_range, as_of_day),
            "sharpeOverTime": (sharpe_over_time, time_range, as_of_day),
            "mlOptimization": (ml_optimization, time_range, as_of_day),
            "kinds": (strategy_kinds, time_range, as_of_day),
        })
        axes = heatmap_axes(heatmap_kind, heatmap_x, heatmap_y, got["kinds"] or [])  # InvalidHeatmapAxes propagates
        cells = reader.read("heatmap", heatmap, time_range, as_of_day, *axes) if axes else []
    summary_value = got["summary"] or {}
    doc = {
        "time_range": time_range,
        "byVolatility": got["byVolatility"],
        "bySymbol": got["bySymbol"],
        "configurations": got["configurations"],
        "sharpeOverTime": got["sharpeOverTime"],
        "heatmap": cells,
        "heatmap_axes": ({"strategy_kind": axes[0], "x_param": axes[1], "y_param": axes[2],
                          "strategy_kinds": got["kinds"] or [],
                          "parameters": [p.name for p in STRATEGIES[axes[0]].params if p.type in ("int", "float")]}
                         if axes else None),
        "mlOptimization": got["mlOptimization"],
        "last_updated": summary_value.get("last_updated"),
        "backtest_count": summary_value.get("backtest_count"),
        "as_of_date": utc_now_iso(),
    }
    reader.freshness.pop("kinds", None)
    return reader.finish(doc)
