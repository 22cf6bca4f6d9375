"""The strategy-performance aggregation on a handful of runs checked by hand, on SQLite and
PostgreSQL, with the section cache on a real redis-server; and its API."""

from __future__ import annotations

import datetime as dt

import pytest

from data_access import strategy_dashboard as sd
from data_access.aggregates.backtest_days import add_backtest_runs, rebuild_backtest_days
from data_access.cache import sections
from data_access.db import Base, configure_database, make_session_factory, session_scope
from data_access.models import BacktestRun, BacktestSweep, RunStatus
from data_access.seed import config_key
from tests.conftest import built_book
from tests.dashboards.test_client_dashboard import statements_during

AS_OF = dt.date(2024, 6, 30)  # a Sunday
SMA_10_30 = {"fast": 10, "slow": 30, "allow_short": False}
SMA_20_50 = {"fast": 20, "slow": 50, "allow_short": False}
RSI = {"period": 14, "lower": 30.0, "upper": 70.0, "allow_short": False}
# (kind, params, symbol, regime, days before as_of, return %, sharpe, max dd %, win rate %, trades)
RUNS = [
    ("sma_cross", SMA_10_30, "SPY", "low", 1, 10.0, 1.0, 5.0, 60.0, 10),
    ("sma_cross", SMA_10_30, "QQQ", "high", 2, -5.0, -0.5, 15.0, 40.0, 20),
    ("sma_cross", SMA_20_50, "SPY", "low", 10, 20.0, 2.0, 4.0, 70.0, 5),
    ("rsi_reversion", RSI, "SPY", "medium", 40, 2.0, None, 8.0, None, 0),
    ("sma_cross", SMA_10_30, "SPY", "low", 100, 0.0, 0.0, 1.0, 50.0, 2),
]


def run(kind, params, symbol, regime, days_ago, ret, sharpe, dd, win, trades, status=RunStatus.COMPLETED):
    completed = dt.datetime.combine(AS_OF - dt.timedelta(days=days_ago), dt.time(12))
    return BacktestRun(strategy_kind=kind, params=params, config_key=config_key(kind, params), symbol=symbol,
                       start=completed - dt.timedelta(days=365), end=completed, status=status,
                       completed_at=completed, total_return_pct=ret, sharpe_ratio=sharpe, max_drawdown_pct=dd,
                       win_rate_pct=win, number_of_trades=trades, volatility_regime=regime)


def build(url: str, extra_runs: int = 0):
    engine = configure_database(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with session_scope(make_session_factory(engine)) as s:
        s.add_all([run(*r) for r in RUNS])
        s.add(run("sma_cross", SMA_10_30, "SPY", "low", 1, 99.0, 9.0, 0.0, 100.0, 1, status=RunStatus.FAILED))
        s.add(run("sma_cross", SMA_10_30, "SPY", "low", -1, 99.0, 9.0, 0.0, 100.0, 1))  # after as_of
        s.add_all([run("sma_cross", SMA_10_30, "IWM", "high", 200, 1.0, 0.1, 1.0, 50.0, 1) for _ in range(extra_runs)])
        s.add(BacktestSweep(strategy_kind="sma_cross", spec={}, status=RunStatus.COMPLETED, total=4,
                            completed_at=dt.datetime.combine(AS_OF - dt.timedelta(days=3), dt.time(9)),
                            recommendation={"configuration": config_key("sma_cross", SMA_20_50),
                                            "in_sample_sharpe": 2.5, "out_of_sample_sharpe": 0.4}))
    with engine.begin() as conn:  # the runs were added by hand: their daily rollups counted here
        rebuild_backtest_days(conn)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def runs(request, tmp_path, redis_url):
    yield from built_book(request, tmp_path, redis_url, build, "runs.db")


def by(rows, key):
    return {r[key]: r for r in rows}


def test_by_volatility_follows_the_time_range(runs):
    week = by(sd.strategy_dashboard("7d", as_of=AS_OF)["byVolatility"], "regime")
    assert {k: v["count"] for k, v in week.items()} == {"low": 1, "high": 1}
    month = sd.strategy_dashboard("30d", as_of=AS_OF)
    low = by(month["byVolatility"], "regime")["low"]
    assert (low["count"], low["avg_return_pct"], low["avg_sharpe"], low["avg_max_drawdown_pct"],
            low["avg_win_rate_pct"], low["total_trades"]) == (2, 15.0, 1.5, 4.5, 65.0, 15)
    assert month["backtest_count"] == 3 and month["last_updated"] == "2024-06-29T12:00:00Z"
    quarter = sd.strategy_dashboard("90d", as_of=AS_OF)
    assert [r["regime"] for r in quarter["byVolatility"]] == ["low", "medium", "high"]
    medium = by(quarter["byVolatility"], "regime")["medium"]
    assert medium["avg_sharpe"] is None and medium["avg_win_rate_pct"] is None and medium["total_trades"] == 0
    assert by(sd.strategy_dashboard("all", as_of=AS_OF)["byVolatility"], "regime")["low"]["avg_sharpe"] == 1.0


def test_by_symbol_and_configurations(runs):
    doc = sd.strategy_dashboard("30d", as_of=AS_OF)
    symbols = by(doc["bySymbol"], "symbol")
    assert symbols["SPY"]["count"] == 2 and symbols["SPY"]["avg_sharpe"] == 1.5 and symbols["QQQ"]["count"] == 1
    configs = doc["configurations"]
    assert [c["configuration"] for c in configs] == [config_key("sma_cross", SMA_20_50), config_key("sma_cross", SMA_10_30)]
    ten_thirty = configs[1]
    assert (ten_thirty["count"], ten_thirty["avg_sharpe"], ten_thirty["best_sharpe"], ten_thirty["symbols"]) == (2, 0.25, 1.0, 2)
    assert ten_thirty["parameters"] == SMA_10_30 and ten_thirty["strategy_kind"] == "sma_cross"


def test_sharpe_over_time_is_daily_then_weekly_for_all(runs):
    daily = sd.strategy_dashboard("30d", as_of=AS_OF)["sharpeOverTime"]
    assert [(p["date"], p["avg_sharpe"], p["period"]) for p in daily] == [
        ("2024-06-20", 2.0, "day"), ("2024-06-28", -0.5, "day"), ("2024-06-29", 1.0, "day")]
    weekly = sd.strategy_dashboard("all", as_of=AS_OF)["sharpeOverTime"]
    assert [(p["date"], p["avg_sharpe"], p["count"]) for p in weekly] == [
        ("2024-03-18", 0.0, 1), ("2024-05-20", None, 1), ("2024-06-17", 2.0, 1), ("2024-06-24", 0.25, 2)]


def test_heatmap_defaults_and_named_axes(runs):
    doc = sd.strategy_dashboard("30d", as_of=AS_OF)
    assert doc["heatmap_axes"]["strategy_kind"] == "sma_cross"
    assert [(c["x"], c["y"], c["avg_sharpe"], c["count"]) for c in doc["heatmap"]] == [(10, 30, 0.25, 2), (20, 50, 2.0, 1)]
    rsi = sd.strategy_dashboard("90d", as_of=AS_OF, heatmap_kind="rsi_reversion", heatmap_x="lower", heatmap_y="upper")
    assert [(c["x"], c["y"], c["avg_sharpe"], c["count"]) for c in rsi["heatmap"]] == [(30, 70, None, 1)]
    with pytest.raises(sd.InvalidHeatmapAxes, match="valid: fast, slow"):
        sd.strategy_dashboard("30d", as_of=AS_OF, heatmap_kind="sma_cross", heatmap_x="period")


def test_ml_optimization_is_the_latest_sweeps_recommendation_in_range(runs):
    assert sd.strategy_dashboard("7d", as_of=AS_OF)["mlOptimization"]["out_of_sample_sharpe"] == 0.4
    assert sd.strategy_dashboard("7d", as_of=AS_OF + dt.timedelta(days=30))["mlOptimization"] is None


def test_cold_build_statements_are_bounded_warm_none_and_new_runs_show_after_a_bump(runs):
    cold, statements = statements_during(runs, lambda: sd.strategy_dashboard("all", as_of=AS_OF))
    assert len(statements) <= 11, statements
    warm, statements = statements_during(runs, lambda: sd.strategy_dashboard("all", as_of=AS_OF))
    assert statements == [] and warm["metadata"]["cached"] is True
    with session_scope(make_session_factory(runs)) as s:
        added = run("sma_cross", SMA_10_30, "TSLA", "high", 0, 1.0, 1.0, 1.0, 1.0, 1)
        s.add(added)
        s.flush()
        add_backtest_runs(s.connection(), [added.id])  # as the backtest store does
    assert sd.strategy_dashboard("all", as_of=AS_OF)["backtest_count"] == 5  # cached
    sections.bump("backtests")
    assert sd.strategy_dashboard("all", as_of=AS_OF)["backtest_count"] == 6


def test_the_statement_count_does_not_grow_with_the_runs(tmp_path, redis_url):
    sections.configure(cache_type="RedisCache", redis_url=redis_url, ttl={"short": 30, "medium": 300, "long": 3600})
    counts = []
    for extra in (0, 500):
        engine = build(f"sqlite:///{tmp_path / f'runs{extra}.db'}", extra_runs=extra)
        sections.redis.flushdb()
        doc, statements = statements_during(engine, lambda: sd.strategy_dashboard("all", as_of=AS_OF))
        assert doc["backtest_count"] == 5 + extra
        counts.append(len(statements))
        engine.dispose()
    assert counts[0] == counts[1], counts


# --------------------------------------------------------------------------- the API


URL = "/api/v1/dashboards/strategy-performance"


def test_api_serves_the_replaced_systems_shape_and_rejects_bad_parameters(client):
    doc = client.get(f"{URL}?time_range=all").get_json()
    assert {"byVolatility", "bySymbol", "configurations", "sharpeOverTime", "heatmap", "mlOptimization",
            "last_updated", "backtest_count", "metadata"} <= set(doc)
    assert doc["backtest_count"] == 0 and doc["mlOptimization"] is None and doc["heatmap"] == []
    response = client.get(f"{URL}?time_range=1y")
    assert response.status_code == 400
    assert response.get_json()["error"]["details"]["valid"] == ["7d", "30d", "90d", "all"]
    response = client.get(f"{URL}?heatmap_kind=nope")
    assert response.status_code == 400 and "sma_cross" in response.get_json()["error"]["message"]
    assert client.get(f"{URL}?force_refresh=yes please").status_code == 400
