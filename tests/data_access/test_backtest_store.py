"""Storing and loading backtest runs: the run row with headline metrics, regime and config key, its
trades and equity curve, on SQLite and PostgreSQL; sessions commit with the caller; unknown ids."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from analytics import backtest as bt
from analytics.metrics import volatility_pct
from app.config import Settings
from data_access.backtest_store import RunNotFound, load_run, store_run, underlying_volatility_pct
from data_access.db import Base, configure_database, make_engine, make_session_factory
from data_access.models import BacktestEquityCurve, BacktestRun, BacktestTrade, RunStatus
from data_access.seed import config_key


def make_bars(n: int = 300, seed: int = 3, freq: str = "D", vol: float = 0.02) -> bt.Bars:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0.0005, vol, n)))
    open_ = np.r_[50.0, close[:-1]]
    return bt.make_bars(time=pd.date_range("2023-01-02", periods=n, freq=freq), open=open_,
                        high=np.maximum(open_, close) * 1.01, low=np.minimum(open_, close) * 0.99, close=close,
                        volume=np.full(n, 1e6))


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def runs(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(BacktestRun)).scalar_one()


def test_stored_run_has_headline_metrics_regime_trades_and_curve(engine):
    bars = make_bars()
    result = bt.run(bars, "sma_cross", {"fast": "5", "slow": 20}, cash=50_000, commission_bps=2)
    assert len(result.trades) > 3
    run_id = store_run(engine, result, symbol="NVDA", timeframe="1d")

    with make_session_factory(engine)() as session:
        run = session.get(BacktestRun, run_id)
        assert run.status is RunStatus.COMPLETED and run.error is None and run.completed_at is not None
        assert (run.strategy_kind, run.symbol, run.timeframe, run.cash) == ("sma_cross", "NVDA", "1d", 50_000.0)
        assert run.params == {"fast": 5, "slow": 20, "allow_short": True}
        assert run.config_key == config_key("sma_cross", result.params) == "sma_cross allow_short=true fast=5 slow=20"
        assert run.start == pd.Timestamp(bars.time[0]).to_pydatetime()
        assert run.end == pd.Timestamp(bars.time[-1]).to_pydatetime()
        for name in ("total_return_pct", "sharpe_ratio", "max_drawdown_pct", "win_rate_pct"):
            assert getattr(run, name) == pytest.approx(result.metrics[name])
        assert run.number_of_trades == len(result.trades)
        assert run.metrics["final_equity"] == pytest.approx(result.metrics["final_equity"])
        # the seeder's formula: annualised vol of the window's close returns, regime from the settings
        expected_vol = volatility_pct(bars.close[1:] / bars.close[:-1] - 1.0)
        assert run.underlying_volatility_pct == pytest.approx(expected_vol)
        assert run.volatility_regime == ("low" if expected_vol < 20 else "medium" if expected_vol < 40 else "high")
        assert session.scalar(select(func.count()).where(BacktestTrade.run_id == run_id)) == len(result.trades)
        curve = session.get(BacktestEquityCurve, run_id)
        assert len(curve.times) == len(curve.equity) == len(bars)
        assert curve.equity == pytest.approx(result.equity.tolist())

    doc = load_run(run_id, engine)
    json.dumps(doc, allow_nan=False)
    assert doc["id"] == run_id and doc["strategy"] == "sma_cross" and doc["parameters"] == result.params
    assert doc["start"] == "2023-01-02T00:00:00Z" and doc["equity_curve"]["times"][0] == "2023-01-02T00:00:00Z"
    expected = [{k: t[k] for k in ("entry_time", "entry_price", "exit_time", "exit_price", "side", "size")}
                for t in result.to_dict()["trades"]]
    assert [{k: t[k] for k in expected[0]} for t in doc["trades"]] == expected
    assert [t["pnl"] for t in doc["trades"]] == pytest.approx([t.pnl for t in result.trades])


def test_undefined_metrics_are_stored_as_null_never_nan(engine):
    bars = make_bars(60)
    result = bt.run(bars, "sma_cross", {"fast": 50, "slow": 55})  # too short to trade
    assert result.trades == []
    run_id = store_run(engine, result, symbol="SPY")
    doc = load_run(run_id, engine)
    assert doc["metrics"]["win_rate_pct"] is None and doc["trades"] == []
    json.dumps(doc, allow_nan=False)


def test_a_session_target_commits_with_the_caller(engine):
    result = bt.run(make_bars(), "rsi_reversion", {})
    factory = make_session_factory(engine)
    with factory() as session:
        store_run(session, result, symbol="SPY")
        session.rollback()
    assert runs(engine) == 0
    with factory() as session:
        run_id = store_run(session, result, symbol="SPY")
        session.commit()
    assert runs(engine) == 1 and load_run(run_id, engine)["strategy"] == "rsi_reversion"


def test_load_run_uses_the_configured_engine_and_unknown_ids_raise(sqlite_url):
    from data_access import db

    engine = configure_database(sqlite_url)
    try:
        Base.metadata.create_all(engine)
        run_id = store_run(None, bt.run(make_bars(), "donchian_breakout", {"window": 10}), symbol="QQQ")
        assert load_run(run_id)["symbol"] == "QQQ"
        assert "equity_curve" not in load_run(run_id, include_equity=False)
        with pytest.raises(RunNotFound, match="no backtest run 999"):
            load_run(999)
        for junk in ("abc", 2 ** 63, "99999999999999999999", -1, 0, "²"):  # no row can have these ids
            with pytest.raises(RunNotFound):
                load_run(junk)
    finally:
        engine.dispose()
        db._database.engine = None


def test_regime_thresholds_come_from_the_settings(sqlite_url):
    engine = make_engine(sqlite_url)
    Base.metadata.create_all(engine)
    result = bt.run(make_bars(vol=0.02), "sma_cross", {})  # ~32 % annualised
    calm = Settings(VOL_REGIME_LOW_PCT=50.0, VOL_REGIME_HIGH_PCT=60.0)
    run_id = store_run(engine, result, symbol="SPY", settings=calm)
    assert load_run(run_id, engine)["volatility_regime"] == "low"
    engine.dispose()


def test_intraday_bars_use_daily_closes_for_the_underlying_volatility():
    hourly = make_bars(24 * 40, freq="h", vol=0.004)
    daily_closes = pd.Series(hourly.close, index=pd.DatetimeIndex(hourly.time)).resample("D").last().to_numpy()
    assert underlying_volatility_pct(hourly, "1h") == pytest.approx(
        volatility_pct(daily_closes[1:] / daily_closes[:-1] - 1.0))
