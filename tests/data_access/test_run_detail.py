"""One backtest run in detail (data_access.run_detail.run_chart) on seeded demo data in SQLite:
the bars cover the run's window, the trades are the stored ones, drawdown stays in [0, 100], and
the whole value is plain JSON-ready lists, cached in the section cache."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from data_access import migrate
from data_access import seed as seeding
from data_access.cache import sections
from data_access.db import configure_database, make_session_factory, session_scope
from data_access.models import BacktestEquityCurve, BacktestRun, BacktestTrade
from data_access.run_detail import RunNotFound, drawdown_series, padding, run_chart

AS_OF = dt.datetime(2026, 11, 23, 15, 30)
TTL = {"short": 30, "medium": 300, "long": 3600}


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('run-detail') / 'demo.db'}"
    migrate.upgrade(url)
    seeding.seed(url, scale="demo", progress=False, as_of=AS_OF)
    return url


@pytest.fixture
def engine(demo_url):
    engine = configure_database(demo_url)
    sections.configure(cache_type="NullCache", redis_url=None, ttl=TTL)
    yield engine
    engine.dispose()


def _runs_with_trades(engine, n=5):
    with session_scope(make_session_factory(engine)) as s:
        return [r for (r,) in s.execute(select(BacktestRun.id).where(BacktestRun.number_of_trades > 2)
                                        .order_by(BacktestRun.id).limit(n))]


def _dt(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso.removesuffix("Z"))


def test_the_bars_cover_the_runs_window_with_a_little_padding(engine):
    for run_id in _runs_with_trades(engine):
        chart = run_chart(run_id)
        run, bars = chart["run"], chart["bars"]
        start, end = _dt(run["start"]), _dt(run["end"])
        times = [_dt(t) for t in bars["time"]]
        assert times == sorted(times) and len(set(times)) == len(times)
        pad = padding(start, end, run["timeframe"])
        assert start - pad <= times[0] < start and end < times[-1] <= end + pad, run_id  # padded both sides
        inside = [t for t in times if start <= t <= end]
        equity_times = [_dt(t) for t in chart["equity"]["time"]]
        assert set(equity_times) <= set(inside), "every equity point has its bar"
        assert {len(bars[k]) for k in ("open", "high", "low", "close", "volume")} == {len(times)}
        for o, h, lo, c in zip(bars["open"], bars["high"], bars["low"], bars["close"], strict=True):
            assert lo <= min(o, c) <= max(o, c) <= h


def test_the_trades_are_the_stored_ones(engine):
    run_id = _runs_with_trades(engine, 1)[0]
    with session_scope(make_session_factory(engine)) as s:
        stored = s.execute(select(BacktestTrade).where(BacktestTrade.run_id == run_id)
                           .order_by(BacktestTrade.entry_time)).scalars().all()
        expected = [(t.side, t.size, t.entry_time, t.entry_price, t.exit_time, t.exit_price, t.pnl) for t in stored]
    chart = run_chart(run_id)
    got = [(t["side"], t["size"], _dt(t["entry_time"]), t["entry_price"], _dt(t["exit_time"]), t["exit_price"], t["pnl"])
           for t in chart["trades"]]
    assert got == expected and len(got) == chart["run"]["number_of_trades"]
    bar_times = set(chart["bars"]["time"])
    for trade in chart["trades"]:  # markers land on bars of the chart
        assert trade["entry_time"] in bar_times and trade["exit_time"] in bar_times


def test_equity_and_drawdown_follow_the_stored_curve(engine):
    run_id = _runs_with_trades(engine, 1)[0]
    chart = run_chart(run_id)
    with session_scope(make_session_factory(engine)) as s:
        curve = s.get(BacktestEquityCurve, run_id)
        assert chart["equity"] == {"time": curve.times, "equity": curve.equity}
    dd = chart["drawdown"]["drawdown_pct"]
    assert chart["drawdown"]["time"] == chart["equity"]["time"] and len(dd) == len(curve.equity)
    assert all(0.0 <= v <= 100.0 for v in dd) and dd[0] == 0.0
    assert max(dd) == pytest.approx(chart["run"]["max_drawdown_pct"], rel=1e-6)


def test_drawdown_is_percent_below_the_peak_capped_at_a_total_loss():
    assert drawdown_series([100.0, 120.0, 90.0, 130.0]) == [0.0, 0.0, 25.0, 0.0]
    assert drawdown_series([100.0, 50.0, -20.0]) == [0.0, 50.0, 100.0]
    assert drawdown_series([]) == []


def test_the_value_is_plain_json_lists(engine):
    chart = run_chart(_runs_with_trades(engine, 1)[0])

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or type(value) in (str, int, float, bool)

    assert plain(chart)
    assert json.loads(json.dumps(chart, allow_nan=False)) == chart
    for series in (chart["bars"], chart["equity"], chart["drawdown"]):
        assert all(isinstance(v, list) for v in series.values())


def test_an_unknown_run_raises_run_not_found(engine):
    with pytest.raises(RunNotFound):
        run_chart(10_000_000)


def test_it_is_cached_and_a_new_bars_generation_misses(engine, redis_url):
    sections.configure(cache_type="RedisCache", redis_url=redis_url, ttl=TTL)
    sections.redis.flushdb()
    run_id = _runs_with_trades(engine, 1)[0]
    cold = run_chart.fetch(run_id)
    warm = run_chart.fetch(run_id)
    assert cold.cached is False and warm.cached is True and warm.value == cold.value
    sections.bump("bars")
    assert run_chart.fetch(run_id).cached is False
