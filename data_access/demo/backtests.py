"""Demo backtests: every strategy kind over parameter grids x symbols x windows, really run by
``analytics.backtest`` on the demo bars, plus one finished parameter sweep."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection

import data_access.models as m
from analytics import backtest as bt
from analytics.metrics import volatility_pct
from app.config import Settings
from data_access.backtest_store import _json_clean, _regime, config_key, store_run
from data_access.demo.market import SYMBOL_INDEX, SYMBOLS, Market
from data_access.demo.scales import US, Scale
from data_access.demo.writer import _next_id, _Writer

BACKTEST_GRIDS: dict[str, dict[str, list]] = {
    "sma_cross": {"fast": [5, 10, 20], "slow": [30, 50, 100], "allow_short": [True, False]},
    "rsi_reversion": {"period": [7, 14, 21], "lower": [25.0, 30.0], "upper": [70.0, 75.0]},
    "donchian_breakout": {"window": [10, 20, 55], "allow_short": [True, False]},
    "bollinger_reversion": {"window": [10, 20, 30], "k": [1.5, 2.0, 2.5]},
}
BACKTEST_ERRORS = (
    "WorkerLostError: worker exited prematurely (signal 9, SIGKILL) during the run",
    "SoftTimeLimitExceeded: the run exceeded its 600 s time limit",
    "OperationalError: lost connection to the database while loading bars for {symbol}",
    "InvalidBars: no bars for {symbol} 1d between {start} and {end}",
)



@dataclass(frozen=True)
class RunPlan:
    kind: str
    params: dict[str, Any]
    symbol: int
    start: int  # bar index
    end: int  # bar index, inclusive
    created_us: int
    completed_us: int
    failed: str | None


def plan_backtests(rng: np.random.Generator, market: Market, scale: Scale, now: dt.datetime,
                   names: np.ndarray) -> list[RunPlan]:
    configs = [(kind, params) for kind, grid in BACKTEST_GRIDS.items() for params in bt.parameter_grid(kind, grid)[0]]
    symbols = [SYMBOL_INDEX[name] for name in scale.backtest_symbols or SYMBOL_INDEX]
    pairs = [(c, s) for c in range(len(configs)) for s in symbols]
    n = scale.backtest_runs
    order = np.concatenate([rng.permutation(len(pairs)) for _ in range(-(-n // len(pairs)))])[:n]
    now_us = int(now.replace(tzinfo=dt.UTC).timestamp()) * US
    completed = now_us - np.round(rng.uniform(0, 120 * 86400, n) * US).astype(np.int64)
    completed.sort()
    duration = np.round((1.0 + rng.pareto(1.2, n)) * 4.0 * US).astype(np.int64)  # seconds to minutes
    length = rng.choice(np.array(scale.backtest_windows), n)
    back = rng.integers(0, 6, n)
    failed = rng.random(n) < 0.02
    error = rng.integers(0, len(BACKTEST_ERRORS), n)
    day_us = market.days.to_numpy().astype("datetime64[us]").astype(np.int64)
    plans = []
    for i, pair in enumerate(order.tolist()):
        c, symbol = pairs[pair]
        kind, params = configs[c]
        # the window ends before the run completed: the last bar day before completion, minus a few
        last_bar = int(np.searchsorted(day_us, completed[i] - 86400 * US, side="right")) - 1
        end = max(last_bar - int(back[i]), int(length[i]) + 5)
        start = end - int(length[i]) + 1
        message = None
        if failed[i]:
            message = BACKTEST_ERRORS[error[i]].format(symbol=names[symbol], start=market.days[start].date(),
                                                       end=market.days[end].date())
        plans.append(RunPlan(kind, params, symbol, start, end, int(completed[i] - duration[i]), int(completed[i]),
                             message))
    return plans



DEMO_SWEEP = {"strategy": "sma_cross", "fast": (5, 10, 20), "slow": (50, 100), "symbols": ("SPY", "QQQ"), "bars": 504}


def _write_demo_sweep(conn: Connection, w: _Writer, market: Market, settings: Settings, names: np.ndarray,
                      now: dt.datetime) -> None:
    """One finished parameter sweep (sma_cross fast x slow on SPY and QQQ over the last two years),
    stored as the API stores one - members with their in/out-of-sample Sharpe, and the
    recommendation - so the strategy page's sweep card has something to show."""
    from sqlalchemy.orm import Session

    from analytics.optimization import in_and_out_of_sample, recommend

    completed = now - dt.timedelta(days=10)
    session = Session(bind=conn)
    sweep = m.BacktestSweep(task_id="demo-sweep", strategy_kind=DEMO_SWEEP["strategy"], status=m.RunStatus.COMPLETED,
                            total=len(DEMO_SWEEP["fast"]) * len(DEMO_SWEEP["slow"]) * len(DEMO_SWEEP["symbols"]),
                            spec={"strategy": DEMO_SWEEP["strategy"], "symbols": list(DEMO_SWEEP["symbols"]),
                                  "parameter_sets": [], "timeframe": "1d", "start": None, "end": None, "cash": 100_000.0,
                                  "commission_bps": 0.0, "slippage_bps": 0.0},
                            created_at=completed - dt.timedelta(minutes=3), completed_at=completed)
    session.add(sweep)
    session.flush()
    members = []
    for symbol in DEMO_SWEEP["symbols"]:
        index = SYMBOL_INDEX[symbol]
        bars = market.bars(index)[-DEMO_SWEEP["bars"]:]
        for fast in DEMO_SWEEP["fast"]:
            for slow in DEMO_SWEEP["slow"]:
                params = {"fast": fast, "slow": slow, "allow_short": False}
                result = bt.run(bars, DEMO_SWEEP["strategy"], params, cash=100_000.0)
                split = in_and_out_of_sample(result.equity, [str(t)[:19] for t in result.bars.time])
                split.pop("split_bar")
                store_run(session, result, symbol=str(names[index]), sweep_id=sweep.id, extra_metrics=split,
                          created_at=completed - dt.timedelta(minutes=2), completed_at=completed, settings=settings)
                for table, n in (("backtest_runs", 1), ("backtest_equity_curves", 1),
                                 ("backtest_trades", len(result.trades))):
                    w.counts[table] = w.counts.get(table, 0) + n
                members.append({"configuration": config_key(DEMO_SWEEP["strategy"], result.params),
                                "parameters": result.params, "symbol": str(names[index]), **split})
    picked = recommend(members)
    if picked is not None:
        picked.update(in_sample_window=members[0]["in_sample_window"],
                      out_of_sample_window=members[0]["out_of_sample_window"])
    sweep.recommendation = picked
    session.flush()
    w.counts["backtest_sweeps"] = w.counts.get("backtest_sweeps", 0) + 1


def _write_backtests(conn: Connection, w: _Writer, market: Market, plans: list[RunPlan], settings: Settings,
                     spec: Scale, names: np.ndarray) -> None:
    full = [market.bars(k) for k in range(len(SYMBOLS))]
    stamps = np.datetime_as_string(market.days.to_numpy().astype("datetime64[s]"), unit="s")
    times_iso = [f"{t}Z" for t in stamps.tolist()]
    day_us = market.days.to_numpy().astype("datetime64[us]").astype(np.int64)
    run_id = _next_id(conn, m.BacktestRun.__table__)
    trade_id = _next_id(conn, m.BacktestTrade.__table__)
    batch = max(200, spec.chunk // 50)
    bar = w.bar
    for lo in range(0, len(plans), batch):
        runs: dict[str, list] = {name: [] for name in (
            "id", "strategy_kind", "params", "config_key", "symbol", "timeframe", "start", "end", "cash", "status",
            "error", "created_at", "completed_at", "total_return_pct", "sharpe_ratio", "max_drawdown_pct",
            "win_rate_pct", "number_of_trades", "underlying_volatility_pct", "volatility_regime", "metrics")}
        trades: dict[str, list] = {name: [] for name in (
            "id", "run_id", "side", "size", "entry_time", "entry_price", "exit_time", "exit_price", "pnl",
            "commission", "closed_at_end")}
        curves: dict[str, list] = {"run_id": [], "times": [], "equity": []}
        start_us, end_us, created_us, completed_us, entry_us, exit_us = [], [], [], [], [], []
        for plan in plans[lo:lo + batch]:
            closes = market.close[plan.symbol, plan.start:plan.end + 1]
            vol = volatility_pct(closes[1:] / closes[:-1] - 1.0)
            headline: dict[str, Any] = {}
            metrics = None
            status = "FAILED" if plan.failed else "COMPLETED"
            if not plan.failed:
                result = bt.run(full[plan.symbol][plan.start:plan.end + 1], plan.kind, plan.params, cash=100_000.0)
                metrics = _json_clean(result.metrics)
                headline = metrics
                for t in result.trades:
                    trades["id"].append(trade_id)
                    trades["run_id"].append(run_id)
                    trades["side"].append(t.side)
                    trades["size"].append(int(t.size))
                    entry_us.append(int(day_us[plan.start + t.entry_bar]))
                    exit_us.append(int(day_us[plan.start + t.exit_bar]))
                    trades["entry_price"].append(float(t.entry_price))
                    trades["exit_price"].append(float(t.exit_price))
                    trades["pnl"].append(round(float(t.pnl), 4))
                    trades["commission"].append(float(t.commission))
                    trades["closed_at_end"].append(bool(t.closed_at_end))
                    trade_id += 1
                curves["run_id"].append(run_id)
                curves["times"].append(times_iso[plan.start:plan.end + 1])
                curves["equity"].append(np.round(result.equity, 2).tolist())
            runs["id"].append(run_id)
            runs["strategy_kind"].append(plan.kind)
            runs["params"].append(_json_clean(plan.params))
            runs["config_key"].append(config_key(plan.kind, plan.params))
            runs["symbol"].append(names[plan.symbol])
            runs["timeframe"].append("1d")
            start_us.append(int(day_us[plan.start]))
            end_us.append(int(day_us[plan.end]))
            runs["cash"].append(100_000.0)
            runs["status"].append(status)
            runs["error"].append(plan.failed)
            created_us.append(plan.created_us)
            completed_us.append(plan.completed_us)
            for name in ("total_return_pct", "sharpe_ratio", "max_drawdown_pct", "win_rate_pct"):
                runs[name].append(headline.get(name))
            runs["number_of_trades"].append(headline.get("number_of_trades"))
            runs["underlying_volatility_pct"].append(vol)
            runs["volatility_regime"].append(_regime(vol, settings))
            runs["metrics"].append(metrics)
            run_id += 1
        runs.update(start=w.times(np.array(start_us)), end=w.times(np.array(end_us)),
                    created_at=w.times(np.array(created_us)), completed_at=w.times(np.array(completed_us)),
                    params=w.json(runs["params"]), metrics=w.json(runs["metrics"]))
        trades.update(entry_time=w.times(np.array(entry_us, dtype=np.int64)),
                      exit_time=w.times(np.array(exit_us, dtype=np.int64)),
                      closed_at_end=w.bools(trades["closed_at_end"]))
        curves.update(times=w.json(curves["times"]), equity=w.json(curves["equity"]))
        saved, w.bar = w.bar, None  # the bar counts runs, not their trades and curves
        w.insert(m.BacktestRun.__table__, runs)
        w.insert(m.BacktestTrade.__table__, trades)
        w.insert(m.BacktestEquityCurve.__table__, curves)
        w.bar = saved
        if bar is not None:
            bar.set_description("seeding backtests")
            bar.update(len(runs["id"]))
