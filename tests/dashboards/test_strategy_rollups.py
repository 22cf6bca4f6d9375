"""The strategy dashboard's sections, read from the daily backtest rollups, equal the same sections
aggregated here in SQL straight from the runs: on random runs (kinds, configurations, symbols,
regimes, metrics missing or not, failed runs beside completed ones) stored in random batches, each
added to its rollup rows as the backtest store does, for every range; and a rebuild ends where the
writes did (SQLite; PostgreSQL when configured)."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Float, and_, case, cast, func, insert, select, text

from data_access import migrate
from data_access import strategy_dashboard as sd
from data_access.aggregates.backtest_days import add_backtest_runs, rebuild_backtest_days
from data_access.backtest_store import config_key
from data_access.db import configure_database
from data_access.models import BacktestRun, RunStatus

AS_OF = "2026-03-20"
DAY0 = dt.datetime(2026, 3, 1, 8, 0)
PARAMS = [("sma_cross", {"fast": f, "slow": s}) for f in (5, 10) for s in (30, 60)] + \
    [("rsi_reversion", {"period": p, "lower": 30, "upper": 70}) for p in (7, 14)]


def _raw_range(time_range: str):
    end = dt.datetime.combine(dt.date.fromisoformat(AS_OF) + dt.timedelta(days=1), dt.time())
    condition = and_(BacktestRun.status == RunStatus.COMPLETED, BacktestRun.completed_at < end)
    if sd.TIME_RANGES[time_range] is not None:
        condition = and_(condition, BacktestRun.completed_at >= end - dt.timedelta(days=sd.TIME_RANGES[time_range]))
    return condition


def _raw_stats():
    return (func.count(), func.avg(BacktestRun.total_return_pct), func.avg(BacktestRun.sharpe_ratio),
            func.avg(BacktestRun.max_drawdown_pct), func.avg(BacktestRun.win_rate_pct),
            func.coalesce(func.sum(BacktestRun.number_of_trades), 0))


def _close(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(float(a) - float(b)) <= 1e-9 * max(1, abs(float(b))))


def _same_stats(got: dict, row) -> None:
    count, ret, sharpe, dd, win, trades = row
    assert got["count"] == count and got["total_trades"] == trades
    for key, want in (("avg_return_pct", ret), ("avg_sharpe", sharpe), ("avg_max_drawdown_pct", dd),
                      ("avg_win_rate_pct", win)):
        assert _close(got[key], want), (key, got[key], want)


def _assert_sections_match(engine) -> None:
    with engine.connect() as conn:
        for time_range in sd.TIME_RANGES:
            in_range = _raw_range(time_range)
            count, last = conn.execute(select(func.count(), func.max(BacktestRun.completed_at)).where(in_range)).one()
            summary = sd.summary.__wrapped__(time_range, AS_OF)
            assert summary["backtest_count"] == count
            assert (summary["last_updated"] is None) == (last is None)
            regimes = {r: rest for r, *rest in conn.execute(select(BacktestRun.volatility_regime, *_raw_stats())
                                                            .where(in_range).group_by(BacktestRun.volatility_regime))}
            got = sd.by_volatility.__wrapped__(time_range, AS_OF)
            assert {g["regime"] for g in got} == set(regimes)
            for g in got:
                _same_stats(g, regimes[g["regime"]])
            symbols = {s: rest for s, *rest in conn.execute(select(BacktestRun.symbol, *_raw_stats())
                                                            .where(in_range).group_by(BacktestRun.symbol))}
            got = sd.by_symbol.__wrapped__(time_range, AS_OF)
            assert [g["symbol"] for g in got] == sorted(symbols)
            for g in got:
                _same_stats(g, symbols[g["symbol"]])
            configs = {(k, c): rest for k, c, *rest in conn.execute(
                select(BacktestRun.strategy_kind, BacktestRun.config_key, *_raw_stats(), func.max(BacktestRun.sharpe_ratio),
                       func.count(func.distinct(BacktestRun.symbol)),
                       func.coalesce(func.max(case((BacktestRun.number_of_trades > 0, BacktestRun.id))),
                                     func.max(BacktestRun.id)))
                .where(in_range).group_by(BacktestRun.strategy_kind, BacktestRun.config_key))}
            got = sd.configurations.__wrapped__(time_range, AS_OF)
            assert {(g["strategy_kind"], g["configuration"]) for g in got} == set(configs)
            sharpes = [g["avg_sharpe"] for g in got]
            assert [s for s in sharpes if s is not None] == sorted((s for s in sharpes if s is not None), reverse=True)
            for g in got:
                want = configs[(g["strategy_kind"], g["configuration"])]
                _same_stats(g, want[:6])
                assert _close(g["best_sharpe"], want[6]) and g["symbols"] == want[7] and g["latest_run_id"] == want[8]
            day = func.date(BacktestRun.completed_at)
            per_day = conn.execute(select(day, func.avg(BacktestRun.sharpe_ratio), func.count()).where(in_range)
                                   .group_by(day).order_by(day)).all()
            got = sd.sharpe_over_time.__wrapped__(time_range, AS_OF)
            assert sum(g["count"] for g in got) == count
            if time_range != "all":
                assert [(g["date"], g["count"]) for g in got] == [(str(d)[:10], n) for d, _s, n in per_day]
                assert all(_close(g["avg_sharpe"], s) for g, (_d, s, _n) in zip(got, per_day))
            x_value = cast(BacktestRun.params["fast"].as_float(), Float)
            y_value = cast(BacktestRun.params["slow"].as_float(), Float)
            cells = conn.execute(select(x_value, y_value, func.avg(BacktestRun.sharpe_ratio), func.count())
                                 .where(in_range, BacktestRun.strategy_kind == "sma_cross")
                                 .group_by(x_value, y_value).order_by(x_value, y_value)).all()
            got = sd.heatmap.__wrapped__(time_range, AS_OF, "sma_cross", "fast", "slow")
            assert [(g["x"], g["y"], g["count"]) for g in got] == [(float(x), float(y), n) for x, y, _s, n in cells]
            assert all(_close(g["avg_sharpe"], s) for g, (_x, _y, s, _n) in zip(got, cells))
            assert sd.strategy_kinds.__wrapped__(time_range, AS_OF) == sorted(
                {k for k, _c in configs})


runs = st.lists(st.tuples(st.integers(0, len(PARAMS) - 1), st.sampled_from(["SPY", "QQQ", "IWM"]),
                          st.sampled_from(["low", "medium", "high", None]),
                          # a few days, so that batches often share one (and one day after as_of)
                          st.builds(lambda day, hour: day * 24 + hour, st.sampled_from([0, 3, 14, 16, 19, 25]),
                                    st.integers(0, 23)),
                          st.one_of(st.none(), st.floats(-3, 3)), st.one_of(st.none(), st.integers(0, 40)),
                          st.booleans()), min_size=1, max_size=40)


def _store(engine, batch: list[tuple]) -> None:
    """Insert the runs and add them to their rollups in one transaction, as store_run does for one run."""
    rows = []
    for index, symbol, regime, hour, sharpe, trades, failed in batch:
        kind, params = PARAMS[index]
        completed = DAY0 + dt.timedelta(hours=hour)
        rows.append({"strategy_kind": kind, "params": params, "config_key": config_key(kind, params), "symbol": symbol,
                     "timeframe": "1d", "start": completed - dt.timedelta(days=200), "end": completed, "cash": 1e5,
                     "status": "FAILED" if failed else "COMPLETED", "created_at": completed, "completed_at": completed,
                     "total_return_pct": None if sharpe is None else sharpe * 7, "sharpe_ratio": sharpe,
                     "max_drawdown_pct": None if trades is None else 12.5, "win_rate_pct": None if trades is None else 50.0,
                     "number_of_trades": trades, "volatility_regime": regime})
    with engine.begin() as conn:
        before = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM backtest_runs")).scalar()
        conn.execute(insert(BacktestRun.__table__), rows)
        added = conn.execute(text("SELECT id FROM backtest_runs WHERE id > :before"), {"before": before}).scalars()
        add_backtest_runs(conn, list(added))


def _stored(engine) -> list:
    """Both rollups' rows as text; a configuration-day's symbols as a set (their order is SQL's)."""
    with engine.connect() as conn:
        out = [tuple(map(str, r)) for r in conn.execute(text("SELECT * FROM backtest_symbol_days ORDER BY 1, 2, 3"))]
        for r in conn.execute(text("SELECT * FROM backtest_config_days ORDER BY 1, 2, 3")).mappings():
            out.append(tuple(",".join(sorted(v.split(","))) if k == "symbols" else str(v) for k, v in r.items()))
        return out


def _assert_rebuild_keeps(engine) -> None:
    """rebuild-aggregates ends where the writes did."""
    kept = _stored(engine)
    with engine.begin() as conn:
        rebuild_backtest_days(conn)
    assert _stored(engine) == kept


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A migrated SQLite file, copied for each example."""
    path = tmp_path_factory.mktemp("strategy_template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(book=runs, cuts=st.lists(st.integers(0, 40), max_size=3))
def test_the_strategy_sections_from_rollups_equal_the_runs_aggregated(template, tmp_path_factory, book, cuts):
    path = tmp_path_factory.mktemp("strategy") / "runs.db"
    shutil.copy(template, path)
    engine = configure_database(f"sqlite:///{path}")
    bounds = sorted({0, len(book), *[c for c in cuts if c < len(book)]})
    for lo, hi in zip(bounds, bounds[1:]):
        _store(engine, book[lo:hi])
    _assert_sections_match(engine)
    for lo, hi in zip(bounds, bounds[1:]):  # a second sweep of the same runs: added to the days' rows
        _store(engine, book[lo:hi])
    _assert_sections_match(engine)
    _assert_rebuild_keeps(engine)
    engine.dispose()


def test_on_postgresql_the_rollups_follow_the_runs(postgres_url):
    import random

    migrate.upgrade(postgres_url)
    engine = configure_database(postgres_url)
    rng = random.Random(4)
    book = [(rng.randrange(len(PARAMS)), rng.choice(["SPY", "QQQ"]), rng.choice(["low", "high", None]),
             rng.randrange(30 * 24), rng.choice([None, rng.uniform(-2, 2)]), rng.choice([None, rng.randrange(30)]),
             rng.random() < 0.1) for _ in range(150)]
    for lo in range(0, len(book), 40):
        _store(engine, book[lo:lo + 40])
    _assert_sections_match(engine)
    _assert_rebuild_keeps(engine)
    engine.dispose()
