"""The demo seed: complete, deterministic, realistic and safe to run twice."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import func, insert, select, text

import data_access.models as m
from analytics import metrics
from app.config import Settings
from data_access import migrate
from data_access import seed as seeding
from data_access.db import Base, make_engine

AS_OF = dt.datetime(2026, 11, 23, 15, 30)  # a Monday, mid-session (naive UTC)
SETTINGS = Settings()


def _seeded(url: str, seed: int = 42, **kwargs) -> dict[str, int]:
    migrate.upgrade(url)
    return seeding.seed(url, scale="demo", seed=seed, progress=False, as_of=AS_OF, **kwargs)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[str, dict[str, int]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('seed') / 'demo.db'}"
    return url, _seeded(url)


@pytest.fixture(scope="module")
def engine(demo):
    engine = make_engine(demo[0])
    yield engine
    engine.dispose()


def rows(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def table_digests(url: str) -> dict[str, str]:
    """A hash of every row of every table (in id order), floats rounded to 6 significant digits."""

    def norm(value):
        if isinstance(value, float):
            return float(f"{value:.6g}")
        if isinstance(value, str) and value[:1] in "[{":
            try:
                return norm(json.loads(value))
            except ValueError:
                return value
        if isinstance(value, list):
            return [norm(v) for v in value]
        if isinstance(value, dict):
            return {k: norm(v) for k, v in sorted(value.items())}
        if isinstance(value, dt.datetime):
            return value.isoformat(sep=" ")
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    engine = make_engine(url)
    out = {}
    try:
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                if table.name == "table_versions":  # a change counter (random epoch), not data
                    continue
                digest = hashlib.sha256()
                for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                    digest.update(repr([norm(v) for v in row]).encode())
                out[table.name] = digest.hexdigest()
    finally:
        engine.dispose()
    return out


def checksums(url: str) -> dict:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            def one(sql):
                return conn.execute(text(sql)).scalar()

            return {
                "signal_quantity": round(one("SELECT SUM(quantity) FROM signals"), 4),
                "by_status": dict(conn.execute(text("SELECT status, COUNT(*) FROM signals GROUP BY status")).all()),
                "realized_pnl": round(one("SELECT SUM(realized_pnl) FROM closed_trades"), 2),
                "execution_value": round(one("SELECT SUM(price * quantity) FROM executions"), 2),
                "closes": round(one("SELECT SUM(close) FROM bars"), 2),
                "equity": round(one("SELECT SUM(equity) FROM account_snapshots"), 2),
                "backtest_sharpe": round(one("SELECT SUM(sharpe_ratio) FROM backtest_runs"), 6),
                "backtest_return": round(one("SELECT SUM(total_return_pct) FROM backtest_runs"), 6),
                "backtest_trades": one("SELECT COUNT(*) FROM backtest_trades"),
                "paper_pnl": round(one("SELECT SUM(realized_pnl) FROM paper_trades"), 2),
            }
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- completeness


def test_demo_seed_writes_rows_to_every_table(demo, engine):
    _, counts = demo
    for table in Base.metadata.sorted_tables:
        if table.name in ("daily_summaries", "table_versions", "imports", "import_chunks", "import_presets"):
            continue  # the end-of-day task's; the migration's counter; the import page's
        assert counts.get(table.name, 0) > 0, table.name
        assert scalar(engine, f'SELECT COUNT(*) FROM "{table.name}"') == counts[table.name]
    assert 2_000 <= counts["signals"] <= 10_000
    assert 300 <= counts["backtest_runs"] <= 500


def test_bars_cover_about_three_years_of_business_days_for_ten_symbols_with_the_benchmark(engine):
    per_symbol = dict(rows(engine, "SELECT symbol, COUNT(*) FROM bars GROUP BY symbol"))
    assert SETTINGS.BENCHMARK_SYMBOL in per_symbol
    assert 8 <= len(per_symbol) <= 12
    assert set(per_symbol.values()) == {3 * 252}
    last = scalar(engine, "SELECT MAX(time) FROM bars")
    assert str(last).startswith(AS_OF.date().isoformat())
    weekend = scalar(engine, "SELECT COUNT(*) FROM bars WHERE strftime('%w', time) IN ('0', '6')")
    assert weekend == 0


def test_every_bar_has_valid_ohlc(engine):
    bad = scalar(engine, """
        SELECT COUNT(*) FROM bars
        WHERE high < MAX(open, close) OR low > MIN(open, close) OR low <= 0 OR volume < 0""")
    assert bad == 0


def test_prices_cluster_volatility_and_gap_from_the_previous_close(engine):
    closes = np.array([r[0] for r in rows(engine, "SELECT close FROM bars WHERE symbol = 'SPY' ORDER BY time")])
    opens = np.array([r[0] for r in rows(engine, "SELECT open FROM bars WHERE symbol = 'SPY' ORDER BY time")])
    r = closes[1:] / closes[:-1] - 1
    # volatility clustering: absolute returns are autocorrelated, calm and turbulent stretches alternate
    a = np.abs(r) - np.abs(r).mean()
    assert np.mean([(a[k:] * a[:-k]).mean() / (a * a).mean() for k in range(1, 11)]) > 0.04
    monthly_vol = np.array([r[i:i + 21].std() for i in range(0, r.size - 21, 21)])
    assert monthly_vol.max() > 2.0 * monthly_vol.min()
    # fat tails: excess kurtosis
    assert ((r - r.mean()) ** 4).mean() / r.var() ** 2 > 3.5
    assert 8 < metrics.volatility_pct(r) < 35
    assert (opens[1:] != closes[:-1]).mean() > 0.9


# --------------------------------------------------------------------------- the fund


def test_strategies_differ_and_are_owned_by_developers_with_unusable_passwords(engine):
    strategies = rows(engine, """
        SELECT s.name, s.allocation, s.status, u.role, u.password_hash, s.account_id
        FROM strategies s JOIN users u ON u.id = s.developer_id""")
    assert 6 <= len(strategies) <= 8
    assert sum(s.allocation for s in strategies) <= 1.0
    statuses = [s.status for s in strategies]
    assert statuses.count("PAUSED") == 1 and statuses.count("ACTIVE") >= len(strategies) - 2
    assert all(s.role == "developer" and s.password_hash.startswith("!") and s.account_id for s in strategies)
    brokers = {r[0] for r in rows(engine, "SELECT broker FROM accounts")}
    assert brokers == {"IBKR", "Alpaca", "Tradier", "Binance"}

    sharpe, fill_rate, median_lag = {}, {}, {}
    for (name,) in rows(engine, "SELECT name FROM strategies"):
        daily = rows(engine, """
            SELECT date(c.closed_at), SUM(c.realized_pnl), MAX(s.allocation) FROM closed_trades c
            JOIN strategies s ON s.id = c.strategy_id WHERE s.name = :name GROUP BY 1 ORDER BY 1""", name=name)
        equity = daily[0][2] * 5e6 + np.cumsum([d[1] for d in daily])
        sharpe[name] = metrics.sharpe_ratio(metrics.returns(equity))
        counts = dict(rows(engine, """
            SELECT g.status, COUNT(*) FROM signals g JOIN strategies s ON s.id = g.strategy_id
            WHERE s.name = :name GROUP BY 1""", name=name))
        fill_rate[name] = counts["FILLED"] / sum(counts.values())
        lags = [r[0] for r in rows(engine, """
            SELECT (julianday(filled_at) - julianday(received_at)) * 86400 FROM signals g
            JOIN strategies s ON s.id = g.strategy_id WHERE s.name = :name AND g.status = 'FILLED'""", name=name)]
        median_lag[name] = float(np.median(lags))
    assert max(sharpe.values()) > 1.0 and min(sharpe.values()) < 0
    assert max(fill_rate.values()) - min(fill_rate.values()) > 0.08
    assert max(median_lag.values()) > 4 * min(median_lag.values())


def test_snapshots_are_coherent_with_the_trades(engine):
    assert scalar(engine, "SELECT COUNT(*) FROM account_snapshots WHERE margin_used >= margin_available") == 0
    assert scalar(engine, "SELECT COUNT(*) FROM account_snapshots WHERE strftime('%w', date) IN ('0', '6')") == 0
    latest = rows(engine, """
        SELECT a.net_contributions, s.equity, s.unrealized_pnl FROM account_snapshots s
        JOIN accounts a ON a.id = s.account_id WHERE s.date = (SELECT MAX(date) FROM account_snapshots)""")
    assert len(latest) == 4
    total_pnl = sum(r.equity - r.net_contributions for r in latest)
    realized = scalar(engine, "SELECT SUM(realized_pnl) FROM closed_trades")
    unrealized = sum(r.unrealized_pnl for r in latest)
    # the entry commission of the lots still open: what the closed trades have not carried
    open_commissions = (scalar(engine, "SELECT SUM(commission) FROM executions")
                        - scalar(engine, "SELECT SUM(commission) FROM closed_trades"))
    assert total_pnl == pytest.approx(realized + unrealized - open_commissions, abs=5.0)
    # unrealized PnL of today's snapshot is that of the open positions at today's close
    marked = scalar(engine, """
        SELECT SUM(p.quantity * (b.close - p.entry_price)) FROM positions p
        JOIN bars b ON b.symbol = p.symbol AND b.time = (SELECT MAX(time) FROM bars)""")
    assert unrealized == pytest.approx(marked, abs=1.0)


def test_a_few_open_positions_per_active_strategy(engine):
    per_strategy = dict(rows(engine, """
        SELECT s.name, COUNT(p.id) FROM strategies s LEFT JOIN positions p ON p.strategy_id = s.id
        WHERE s.status = 'ACTIVE' GROUP BY s.name"""))
    assert all(1 <= n <= 4 for n in per_strategy.values())
    assert scalar(engine, "SELECT COUNT(*) FROM positions WHERE quantity < 0") >= 1


# --------------------------------------------------------------------------- signals and fills


def test_every_filled_signal_has_an_execution_and_fills_after_it_was_received(engine):
    assert scalar(engine, """
        SELECT COUNT(*) FROM signals g WHERE g.status = 'FILLED'
        AND NOT EXISTS (SELECT 1 FROM executions e WHERE e.signal_id = g.id)""") == 0
    assert scalar(engine, """SELECT COUNT(*) FROM signals
        WHERE status = 'FILLED' AND (filled_at IS NULL OR filled_at < received_at)""") == 0
    assert scalar(engine, "SELECT COUNT(*) FROM signals WHERE status != 'FILLED' AND filled_at IS NOT NULL") == 0
    assert scalar(engine, """SELECT COUNT(*) FROM executions e
        JOIN signals g ON g.id = e.signal_id WHERE g.status != 'FILLED'""") == 0
    # executions add up to the signal, the first one is the signal's filled_at, prices inside the day's bar
    assert scalar(engine, """
        SELECT COUNT(*) FROM signals g JOIN (
            SELECT signal_id, SUM(quantity) q, MIN(filled_at) t FROM executions GROUP BY signal_id
        ) e ON e.signal_id = g.id
        WHERE ABS(e.q - g.quantity) > 1e-6 OR e.t != g.filled_at""") == 0
    assert scalar(engine, """
        SELECT COUNT(*) FROM executions e JOIN signals g ON g.id = e.signal_id
        JOIN bars b ON b.symbol = g.symbol AND date(b.time) = date(e.filled_at)
        WHERE e.price < b.low OR e.price > b.high""") == 0
    partially_filled = scalar(engine, "SELECT COUNT(*) - COUNT(DISTINCT signal_id) FROM executions")
    assert partially_filled > 0


def test_rejected_signals_have_a_reason_and_others_none(engine):
    assert scalar(engine, "SELECT COUNT(*) FROM signals WHERE status = 'REJECTED' AND reject_reason IS NULL") == 0
    assert scalar(engine, "SELECT COUNT(*) FROM signals WHERE status != 'REJECTED' AND reject_reason IS NOT NULL") == 0
    reasons = {r[0] for r in rows(engine, "SELECT DISTINCT reject_reason FROM signals WHERE reject_reason IS NOT NULL")}
    assert reasons == set(seeding.REJECT_REASONS)
    statuses = dict(rows(engine, "SELECT status, COUNT(*) FROM signals GROUP BY status"))
    assert set(statuses) == {"FILLED", "REJECTED", "CANCELLED", "PENDING"}
    assert statuses["FILLED"] > statuses["REJECTED"] > statuses["CANCELLED"] > statuses["PENDING"]


def test_signals_arrive_in_market_hours_with_sender_ids(engine):
    new_york = ZoneInfo("America/New_York")
    received = [r[0] for r in rows(engine, "SELECT received_at FROM signals")]
    for value in received[:: max(len(received) // 500, 1)]:
        stamp = dt.datetime.fromisoformat(str(value)).replace(tzinfo=dt.UTC).astimezone(new_york)
        assert stamp.weekday() < 5
        assert dt.time(9, 30) <= stamp.time() <= dt.time(16, 0)
    assert max(str(v) for v in received) < AS_OF.isoformat(sep=" ")
    ids = [r[0] for r in rows(engine, "SELECT signal_id FROM signals")]
    assert len(set(ids)) == len(ids) and all(i.startswith("sig_") for i in ids)


def test_fill_lags_have_a_lognormal_body_and_a_long_tail(engine):
    lags = np.array([r[0] for r in rows(engine, """
        SELECT (julianday(filled_at) - julianday(received_at)) * 86400 FROM signals WHERE status = 'FILLED'""")])
    p50, p99 = np.percentile(lags, [50, 99])
    assert 0.3 < p50 < 10
    assert lags.max() > 120 and p99 > 5 * p50


def test_closed_trades_realize_the_pnl_of_their_fills(engine):
    trades = rows(engine, """SELECT side, quantity, entry_price, exit_price, commission, realized_pnl,
                                    opened_at, closed_at FROM closed_trades""")
    for t in trades:
        direction = 1 if t.side == "long" else -1
        expected = direction * t.quantity * (t.exit_price - t.entry_price) - t.commission
        assert t.realized_pnl == pytest.approx(expected, abs=0.01)
        assert str(t.closed_at) > str(t.opened_at)
    assert {t.side for t in trades} == {"long", "short"}
    # every round trip is two filled signals: net filled quantity per strategy/symbol = open position
    net = dict(((r[0], r[1]), r[2]) for r in rows(engine, """
        SELECT strategy_id, symbol, SUM(CASE side WHEN 'BUY' THEN quantity ELSE -quantity END)
        FROM signals WHERE status = 'FILLED' GROUP BY 1, 2"""))
    positions = {(r[0], r[1]): r[2] for r in rows(engine, "SELECT strategy_id, symbol, quantity FROM positions")}
    for key, quantity in net.items():
        assert quantity == pytest.approx(positions.get(key, 0.0), abs=1e-6), key


def test_positions_and_closed_trades_are_the_fifo_derivation_of_the_executions(engine):
    from data_access.ingest.derive import rederive

    trades_sql = ("SELECT strategy_id, account_id, symbol, side, ROUND(quantity, 6), entry_price, exit_price, "
                  "opened_at, closed_at, ROUND(realized_pnl, 6) FROM closed_trades ORDER BY 1, 3, 9, 8, 5")
    positions_sql = "SELECT strategy_id, account_id, symbol, ROUND(quantity, 6), opened_at FROM positions ORDER BY 1, 3"
    with engine.connect() as conn:
        seeded = conn.execute(text(trades_sql)).all(), conn.execute(text(positions_sql)).all()
        pairs = conn.execute(text("SELECT DISTINCT g.strategy_id, g.symbol FROM executions e "
                                  "JOIN signals g ON g.id = e.signal_id")).all()
        rederive(conn, [tuple(p) for p in pairs])
        again = conn.execute(text(trades_sql)).all(), conn.execute(text(positions_sql)).all()
        conn.rollback()
    assert again == seeded


# --------------------------------------------------------------------------- backtests and paper trading


def test_backtest_runs_are_real_runs_with_trades_curves_and_clean_metrics(engine):
    runs = rows(engine, """
        SELECT r.id, r.strategy_kind, r.params, r.config_key, r.symbol, r.status, r.error, r.completed_at, r.created_at,
               r.number_of_trades, r.underlying_volatility_pct, r.volatility_regime, r.metrics, r.sharpe_ratio,
               c.times, c.equity, (SELECT COUNT(*) FROM backtest_trades t WHERE t.run_id = r.id) AS trades
        FROM backtest_runs r LEFT JOIN backtest_equity_curves c ON c.run_id = r.id""")
    failed = [r for r in runs if r.status == "FAILED"]
    completed = [r for r in runs if r.status == "COMPLETED"]
    assert 1 <= len(failed) <= len(runs) * 0.05 and all(r.error and r.metrics is None for r in failed)
    assert len(completed) + len(failed) == len(runs)
    assert {r.strategy_kind for r in completed} == set(seeding.BACKTEST_GRIDS)
    regimes = {r.volatility_regime for r in completed}
    assert regimes == {"low", "medium", "high"}
    for r in completed:
        assert r.config_key == seeding.config_key(r.strategy_kind, json.loads(r.params))
        stored = json.loads(r.metrics, parse_constant=lambda c: pytest.fail(f"{c} in metrics"))
        assert stored["number_of_trades"] == r.number_of_trades == r.trades
        assert stored["sharpe_ratio"] == r.sharpe_ratio
        times, equity = json.loads(r.times), json.loads(r.equity)
        assert len(times) == len(equity) == stored["bars"] and times[0].endswith("Z")
        assert all(isinstance(v, float) for v in equity)
        vol = r.underlying_volatility_pct
        expected = "low" if vol < 20 else "medium" if vol < 40 else "high"
        assert r.volatility_regime == expected
        assert str(r.created_at) < str(r.completed_at)
    ages = [(AS_OF - dt.datetime.fromisoformat(str(r.completed_at))).total_seconds() / 86400 for r in completed]
    assert 0 <= min(ages) and max(ages) <= 121
    in_range = [sum(a <= days for a in ages) for days in (7, 30, 90)]
    assert 0 < in_range[0] < in_range[1] < in_range[2] < len(ages)


def test_config_key_is_canonical():
    assert seeding.config_key("sma_cross", {"slow": 30, "fast": 10, "allow_short": True}) == (
        "sma_cross allow_short=true fast=10 slow=30")
    assert seeding.config_key("bollinger_reversion", {"window": 20, "k": 2.0}) == "bollinger_reversion k=2 window=20"


def test_backtest_rows_reproduce_with_the_engine(engine):
    from analytics import backtest as bt

    run = rows(engine, """
        SELECT id, strategy_kind, params, symbol, start, "end", total_return_pct, number_of_trades FROM backtest_runs
        WHERE status = 'COMPLETED' AND number_of_trades > 2 ORDER BY id LIMIT 1""")[0]
    bars = rows(engine, """SELECT time, open, high, low, close, volume FROM bars
                           WHERE symbol = :s AND time BETWEEN :a AND :b ORDER BY time""",
                s=run.symbol, a=run.start, b=run.end)
    columns = list(zip(*bars))
    result = bt.run(bt.make_bars(time=np.array(columns[0], dtype="datetime64[us]"), open=columns[1], high=columns[2],
                                 low=columns[3], close=columns[4], volume=columns[5]),
                    run.strategy_kind, json.loads(run.params), cash=100_000.0)
    assert result.metrics["total_return_pct"] == pytest.approx(run.total_return_pct)
    assert len(result.trades) == run.number_of_trades


def test_paper_trading_has_open_and_closed_trades_from_several_sources(engine):
    assert scalar(engine, "SELECT COUNT(*) FROM paper_accounts") == 2
    by_status = dict(rows(engine, "SELECT status, COUNT(*) FROM paper_trades GROUP BY status"))
    assert by_status["OPEN"] > 0 and by_status["CLOSED"] > by_status["OPEN"]
    assert scalar(engine, "SELECT COUNT(DISTINCT source) FROM paper_trades") >= 4
    assert scalar(engine, """SELECT COUNT(*) FROM paper_trades WHERE
        (status = 'OPEN' AND (closed_at IS NOT NULL OR realized_pnl IS NOT NULL)) OR
        (status = 'CLOSED' AND (closed_at IS NULL OR realized_pnl IS NULL OR closed_at < opened_at))""") == 0


# --------------------------------------------------------------------------- determinism


def test_the_same_seed_gives_identical_rows(demo, tmp_path):
    url, _ = demo
    again = f"sqlite:///{tmp_path / 'again.db'}"
    _seeded(again, seed=42)
    assert checksums(again) == checksums(url)
    assert table_digests(again) == table_digests(url)


def test_a_different_seed_gives_different_data(demo, tmp_path):
    url, _ = demo
    other = f"sqlite:///{tmp_path / 'other.db'}"
    _seeded(other, seed=7)
    mine, theirs = checksums(url), checksums(other)
    assert {k for k in mine if mine[k] != theirs[k]} >= {"signal_quantity", "realized_pnl", "closes", "backtest_sharpe"}


# --------------------------------------------------------------------------- safety


def _add_admin(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(m.User), [{"id": 1, "username": "admin", "display_name": "Admin",
                                       "password_hash": "pbkdf2:x", "role": "admin", "is_active": True}])
        conn.execute(insert(m.ApiToken), [{"user_id": 1, "name": "ops", "token_sha256": "a" * 64, "revoked": False}])
    engine.dispose()


def test_seeding_a_database_with_data_raises_and_changes_nothing_and_reset_reseeds(tmp_path):
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    migrate.upgrade(url)
    _add_admin(url)  # an admin alone does not count as data
    first = _seeded(url)
    before = table_digests(url)

    with pytest.raises(seeding.DatabaseNotEmpty, match="reset"):
        seeding.seed(url, progress=False, as_of=AS_OF)
    assert table_digests(url) == before

    again = seeding.seed(url, seed=3, reset=True, progress=False, as_of=AS_OF)
    assert again.keys() == first.keys()
    after = table_digests(url)
    assert after["signals"] != before["signals"]
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(m.User.username).where(m.User.role == "admin")).scalars().all() == ["admin"]
        assert conn.execute(select(func.count()).select_from(m.ApiToken).where(m.ApiToken.user_id == 1)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(m.User)).scalar() == 1 + len(seeding.DEVELOPERS)
        assert conn.execute(select(func.count()).select_from(m.Strategy)).scalar() == len(seeding.STRATEGIES)
    engine.dispose()


def test_a_failure_while_seeding_leaves_no_rows_behind(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'broken.db'}"
    migrate.upgrade(url)

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("data_access.demo.seeding._write_backtests", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        seeding.seed(url, progress=False, as_of=AS_OF)
    assert migrate.is_empty(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(m.Signal)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(m.Bar)).scalar() == 0
    engine.dispose()


def test_an_unknown_scale_raises_value_error():
    with pytest.raises(ValueError, match="unknown scale 'huge'.*demo, large"):
        seeding.seed("sqlite:///does-not-matter.db", scale="huge")


def test_seeding_without_the_schema_says_to_migrate(tmp_path):
    with pytest.raises(seeding.SchemaMissing, match="migrations"):
        seeding.seed(f"sqlite:///{tmp_path / 'bare.db'}", progress=False)


# --------------------------------------------------------------------------- PostgreSQL


def test_demo_seed_on_postgresql_matches_sqlite(demo, postgres_url):
    counts = _seeded(postgres_url)
    assert counts == demo[1]
    pg, lite = checksums(postgres_url), checksums(demo[0])
    for key, value in lite.items():
        if isinstance(value, float):
            assert math.isclose(pg[key], value, rel_tol=1e-9, abs_tol=0.05), key
        else:
            assert pg[key] == value, key
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        invalid = text("SELECT COUNT(*) FROM bars WHERE high < GREATEST(open, close) OR low > LEAST(open, close)")
        assert conn.execute(invalid).scalar() == 0
        # explicit ids moved the sequences along: the app can insert right away
        conn.execute(insert(m.Strategy), [{"name": "a new one", "allocation": 0.0, "status": "ACTIVE"}])
        conn.rollback()
    engine.dispose()


def test_the_benchmark_setting_names_the_market_symbol(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCHMARK_SYMBOL", "VOO")
    url = f"sqlite:///{tmp_path / 'voo.db'}"
    _seeded(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        symbols = set(conn.execute(text("SELECT DISTINCT symbol FROM bars")).scalars())
        traded = set(conn.execute(text("SELECT DISTINCT symbol FROM signals")).scalars())
    engine.dispose()
    assert "VOO" in symbols and "SPY" not in symbols
    assert "VOO" in traded and "SPY" not in traded


def test_a_seeded_postgresql_database_has_planner_statistics_at_once(postgres_url):
    """Without them PostgreSQL guessed a strategy had a few hundred signals and sorted all of them
    for one page of its history; the seeder analyzes instead of waiting for autovacuum."""
    migrate.upgrade(postgres_url)
    seeding.seed(postgres_url, scale="demo", progress=False)
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            analyzed = dict(conn.execute(text(
                "SELECT relname, greatest(last_analyze, last_autoanalyze) IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname IN ('signals', 'executions', 'bars', 'paper_signals')")).all())
            estimate = conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'signals'")).scalar_one()
            actual = conn.execute(text("SELECT count(*) FROM signals")).scalar_one()
    finally:
        engine.dispose()
    assert analyzed == {"signals": True, "executions": True, "bars": True, "paper_signals": True}
    assert abs(estimate - actual) <= 0.05 * actual
