"""`tradeboard import-bars` and `tradeboard backtest` through click's CliRunner, against real
SQLite/PostgreSQL databases and a real Redis (the cache invalidation)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from analytics import backtest as bt
from app.cli import main
from data_access.backtest_store import load_run
from data_access.bars_import import load_bars, read_bars
from data_access.db import Base, make_engine
from data_access.models import BacktestEquityCurve, BacktestRun, BacktestTrade, Bar

N_BARS = 500


def write_bars_csv(path, n: int = N_BARS, seed: int = 11, start: str = "2023-01-02") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.002, n))
    frame = pd.DataFrame({
        "Date": pd.bdate_range(start, periods=n).strftime("%Y-%m-%d"),
        "Open": open_.round(4),
        "High": (np.maximum(open_, close) * 1.006).round(4),
        "Low": (np.minimum(open_, close) * 0.994).round(4),
        "Close": close.round(4),
        "Volume": rng.integers(10_000, 90_000, n),
    })
    frame.to_csv(path, index=False)
    return frame


def make_env(url: str, redis_url: str) -> dict[str, str]:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return {"DATABASE_URL": url, "REDIS_URL": redis_url}


@pytest.fixture
def env(sqlite_url, redis_url):
    return make_env(sqlite_url, redis_url)


@pytest.fixture(params=["sqlite", "postgres"])
def any_env(request, redis_url):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    return make_env(url, redis_url)


@pytest.fixture
def bars_csv(tmp_path):
    path = tmp_path / "spy.csv"
    write_bars_csv(path)
    return path


def cli(env, *args):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def scalar(url: str, query):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(query).scalar_one()
    finally:
        engine.dispose()


def count(url: str, model) -> int:
    return scalar(url, select(func.count()).select_from(model))


# --------------------------------------------------------------------------- import-bars


def test_import_bars_reports_what_it_did_and_reimporting_is_idempotent(any_env, tmp_path, bars_csv):
    url = any_env["DATABASE_URL"]
    first = cli(any_env, "import-bars", bars_csv, "--symbol", "spy")
    assert first.exit_code == 0, first.output
    assert f"imported {N_BARS} 1d bars for SPY" in first.output and f"{N_BARS} inserted, 0 updated" in first.output
    assert "first 2023-01-02T00:00:00" in first.output and " s)" in first.output
    assert count(url, Bar) == N_BARS

    again = cli(any_env, "import-bars", bars_csv, "--symbol", "SPY")
    assert again.exit_code == 0 and f"0 inserted, 0 updated, {N_BARS} unchanged" in again.output
    assert count(url, Bar) == N_BARS

    changed = pd.read_csv(bars_csv)
    changed.loc[0, ["High", "Close"]] = [500.0, 400.0]
    changed.to_csv(tmp_path / "changed.csv", index=False)
    third = cli(any_env, "import-bars", tmp_path / "changed.csv", "--symbol", "SPY")
    assert third.exit_code == 0 and f"0 inserted, 1 updated, {N_BARS - 1} unchanged" in third.output
    assert count(url, Bar) == N_BARS
    stored = load_bars(url, "SPY", "1d")
    assert (stored["high"].iloc[0], stored["close"].iloc[0]) == (500.0, 400.0)


def test_import_bars_from_parquet_with_a_tz_aware_index(any_env, tmp_path):
    frame = pd.DataFrame({"open": [10.0, 11.0], "high": [12.0, 12.5], "low": [9.5, 10.5], "close": [11.0, 12.0]},
                         index=pd.DatetimeIndex(["2024-06-03 09:30", "2024-06-03 10:30"], name="timestamp")
                         .tz_localize("America/New_York"))
    frame.to_parquet(tmp_path / "bars.parquet")
    result = cli(any_env, "import-bars", tmp_path / "bars.parquet", "--symbol", "aapl", "--timeframe", "1h")
    assert result.exit_code == 0, result.output
    stored = load_bars(any_env["DATABASE_URL"], "AAPL", "1h")
    assert stored["time"].tolist() == [pd.Timestamp("2024-06-03 13:30"), pd.Timestamp("2024-06-03 14:30")]


def test_bad_rows_are_listed_by_line_and_nothing_is_imported(any_env, tmp_path, bars_csv):
    url = any_env["DATABASE_URL"]
    assert cli(any_env, "import-bars", bars_csv, "--symbol", "SPY").exit_code == 0
    before = load_bars(url, "SPY")
    bad = pd.read_csv(bars_csv)
    bad[["Open", "High", "Low", "Close"]] *= 1.5  # every row would change...
    bad.loc[9, "Low"] = bad.loc[9, "High"] + 1  # ...but line 11 is bad
    bad["Close"] = bad["Close"].astype(object)
    bad.loc[40, "Close"] = "n/a"
    extra = bad.iloc[[-1]].assign(Date="2030-01-01")
    pd.concat([bad, extra, bad.iloc[[5]]]).to_csv(tmp_path / "bad.csv", index=False)  # line 503 repeats line 7

    result = cli(any_env, "import-bars", tmp_path / "bad.csv", "--symbol", "SPY")
    assert result.exit_code == 1
    assert f"3 bad row(s) of {N_BARS + 2}; nothing was imported" in result.output
    assert "line 11: low" in result.output and "is above min(open, close)" in result.output
    assert "line 42: close 'n/a' is not a number" in result.output
    assert "line 503: duplicate time 2023-01-09T00:00:00 (first on line 7)" in result.output
    assert count(url, Bar) == N_BARS
    pd.testing.assert_frame_equal(load_bars(url, "SPY"), before)


@pytest.mark.parametrize("args, message", [
    (["--timeframe", "2d"], "valid timeframes: 1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w"),
    (["--symbol", " "], "the symbol is empty"),
])
def test_import_bars_rejects_bad_arguments_with_the_valid_choices(env, bars_csv, args, message):
    base = {"--symbol": "SPY", "--timeframe": "1d"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = cli(env, "import-bars", bars_csv, *[x for kv in base.items() for x in kv])
    assert result.exit_code == 1 and message in result.output
    assert count(env["DATABASE_URL"], Bar) == 0


def test_import_bars_migrates_a_fresh_database(tmp_path, redis_url, bars_csv):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh' / 'db.sqlite'}", "REDIS_URL": redis_url}
    result = cli(env, "import-bars", bars_csv, "--symbol", "SPY")
    assert result.exit_code == 0, result.output
    assert count(env["DATABASE_URL"], Bar) == N_BARS


def test_import_bars_invalidates_cached_sections_that_read_bars(env, redis_client, bars_csv, tmp_path):
    from app.config import Settings
    from data_access.cache import sections

    sections.configure_from(Settings(REDIS_URL=env["REDIS_URL"]))
    url = env["DATABASE_URL"]

    def bar_count():
        return sections.fetch("test_bar_count", ("bars",), "long", (), lambda: count(url, Bar))

    def signal_count():
        return sections.fetch("test_other_family", ("signals",), "long", (), lambda: count(url, Bar))

    assert (bar_count().value, signal_count().value) == (0, 0)
    assert bar_count().cached and signal_count().cached
    result = cli(env, "import-bars", bars_csv, "--symbol", "SPY")
    assert result.exit_code == 0, result.output
    after = bar_count()
    assert (after.cached, after.value) == (False, N_BARS)  # the bars family was bumped
    assert signal_count().cached and signal_count().value == 0  # other families were not


# --------------------------------------------------------------------------- backtest


def test_backtest_json_matches_the_engine_and_is_stored(any_env, bars_csv):
    url = any_env["DATABASE_URL"]
    assert cli(any_env, "import-bars", bars_csv, "--symbol", "SPY").exit_code == 0
    result = cli(any_env, "backtest", "--symbol", "spy", "--strategy", "sma_cross", "--param", "fast=8",
                 "--param", "slow=30", "--param", "allow_short=false", "--cash", "25000", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)  # exactly one JSON object, no NaN

    expected = bt.run(read_bars(bars_csv), "sma_cross", {"fast": 8, "slow": 30, "allow_short": False}, cash=25_000)
    assert len(expected.trades) >= 5
    assert (doc["strategy"], doc["symbol"], doc["timeframe"], doc["cash"]) == ("sma_cross", "SPY", "1d", 25_000.0)
    assert doc["parameters"] == {"fast": 8, "slow": 30, "allow_short": False}
    assert (doc["start"], doc["end"]) == (expected.to_dict()["start"], expected.to_dict()["end"])
    keys = ("entry_time", "entry_price", "exit_time", "exit_price", "side", "size")
    assert [{k: t[k] for k in keys} for t in doc["trades"]] == [{k: t[k] for k in keys}
                                                                 for t in expected.to_dict()["trades"]]
    assert [t["pnl"] for t in doc["trades"]] == pytest.approx([t.pnl for t in expected.trades])
    assert set(doc["metrics"]) == set(expected.metrics)
    for name, value in expected.metrics.items():
        assert doc["metrics"][name] == (pytest.approx(value) if value is not None else None), name

    assert count(url, BacktestRun) == 1
    assert count(url, BacktestTrade) == len(expected.trades)
    assert count(url, BacktestEquityCurve) == 1
    engine = make_engine(url)
    with engine.connect() as conn:
        row = conn.execute(select(BacktestRun.id, BacktestRun.status, BacktestRun.number_of_trades,
                                  BacktestRun.sharpe_ratio, BacktestRun.metrics, BacktestRun.volatility_regime)).one()
    engine.dispose()
    assert row.id == doc["id"] and row.status.value == "COMPLETED" and row.number_of_trades == len(expected.trades)
    assert row.sharpe_ratio == pytest.approx(expected.metrics["sharpe_ratio"])
    assert row.metrics["final_equity"] == pytest.approx(expected.metrics["final_equity"])
    assert row.volatility_regime in ("low", "medium", "high")
    stored = load_run(doc["id"], url)
    assert stored["trades"] == doc["trades"] and len(stored["equity_curve"]["equity"]) == N_BARS


def test_backtest_window_and_human_summary(env, bars_csv):
    assert cli(env, "import-bars", bars_csv, "--symbol", "SPY").exit_code == 0
    result = cli(env, "backtest", "--symbol", "SPY", "--strategy", "rsi_reversion", "--start", "2023-03-01",
                 "--end", "2023-12-29")
    assert result.exit_code == 0, result.output
    assert "backtest 1: rsi_reversion" in result.output
    assert "on SPY 1d, 2023-03-01T00:00:00Z .. 2023-12-29T00:00:00Z" in result.output
    assert "total return" in result.output and "sharpe" in result.output and "trades" in result.output
    doc = load_run(1, env["DATABASE_URL"])
    frame = read_bars(bars_csv)
    window = frame[(frame["time"] >= "2023-03-01") & (frame["time"] <= "2023-12-29")]
    assert doc["metrics"]["bars"] == len(window)


def test_backtest_bumps_the_backtests_family(env, redis_client, bars_csv):
    from app.config import Settings
    from data_access.cache import sections

    assert cli(env, "import-bars", bars_csv, "--symbol", "SPY").exit_code == 0
    sections.configure_from(Settings(REDIS_URL=env["REDIS_URL"]))
    url = env["DATABASE_URL"]

    def run_count():
        return sections.fetch("test_run_count", ("backtests",), "long", (), lambda: count(url, BacktestRun))

    assert run_count().value == 0 and run_count().cached
    assert cli(env, "backtest", "--symbol", "SPY", "--strategy", "sma_cross").exit_code == 0
    after = run_count()
    assert (after.cached, after.value) == (False, 1)


@pytest.mark.parametrize("args, messages", [
    (["--strategy", "sma"],
     ["unknown strategy kind 'sma'", "valid kinds: sma_cross, rsi_reversion, donchian_breakout, bollinger_reversion"]),
    (["--strategy", "sma_cross", "--param", "fast=abc"],
     ["fast", "Valid parameters: fast (int, 2..200), slow (int, 3..400), allow_short (bool, true/false)"]),
    (["--strategy", "sma_cross", "--param", "speed=3"], ["unknown parameter(s) speed", "Valid parameters: fast"]),
    (["--strategy", "sma_cross", "--param", "fast=40", "--param", "slow=20"], ["Valid parameters: fast (int"]),
    (["--strategy", "sma_cross", "--param", "fast"], ["'fast' is not NAME=VALUE"]),
    (["--strategy", "sma_cross", "--symbol", "QQQ"], ["no 1d bars for QQQ", "symbols with bars: SPY (1d, 500 bars)"]),
    (["--strategy", "sma_cross", "--timeframe", "1h"], ["no 1h bars for SPY", "symbols with bars: SPY (1d, 500 bars)"]),
    (["--strategy", "sma_cross", "--timeframe", "3h"], ["valid timeframes: 1m, 5m"]),
    (["--strategy", "sma_cross", "--start", "2030-01-01"], ["no 1d bars for SPY between 2030-01-01 and the end"]),
    (["--strategy", "sma_cross", "--cash", "-5"], ["cash must be positive"]),
])
def test_invalid_backtests_fail_naming_the_valid_choices_and_store_nothing(env, bars_csv, args, messages):
    assert cli(env, "import-bars", bars_csv, "--symbol", "SPY").exit_code == 0
    options = ["--symbol", "SPY", *args] if "--symbol" not in args else args
    result = cli(env, "backtest", *options, "--json")
    assert result.exit_code != 0
    for message in messages:
        assert message in result.output
    assert count(env["DATABASE_URL"], BacktestRun) == 0 and count(env["DATABASE_URL"], BacktestTrade) == 0


def test_backtest_with_no_bars_at_all_says_to_import_some(env):
    result = cli(env, "backtest", "--symbol", "SPY", "--strategy", "sma_cross")
    assert result.exit_code == 1 and "no bars are stored yet" in result.output and "import-bars" in result.output
