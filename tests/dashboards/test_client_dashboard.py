"""The client dashboard's data access on a small fund whose numbers can be checked by hand,
against SQLite and PostgreSQL, with the section cache on a real redis-server."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, text

from data_access.aggregates import rebuild_aggregates
from data_access import client_dashboard as cd
from data_access.db import Base, configure_database, make_session_factory, session_scope
from data_access.models import (
    Account,
    AccountSnapshot,
    Bar,
    ClosedTrade,
    Position,
    Signal,
    SignalStatus,
    Side,
    Strategy,
    StrategyStatus,
)
from tests.conftest import built_book

AS_OF = dt.date(2024, 3, 29)  # a Friday
DAYS = [AS_OF - dt.timedelta(days=n) for n in range(40, -1, -1)]


def build_fund(url: str):
    engine = configure_database(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with session_scope(make_session_factory(engine)) as s:
        ibkr = Account(name="IBKR Main", broker="IBKR", net_contributions=1_000_000)
        alpaca = Account(name="Alpaca", broker="Alpaca", net_contributions=500_000)
        s.add_all([ibkr, alpaca])
        s.flush()
        for i, day in enumerate(DAYS):
            # IBKR grows 1,000 a day; Alpaca has no snapshot on the last day (carried forward)
            s.add(AccountSnapshot(account_id=ibkr.id, date=day, equity=1_000_000 + 1_000 * i, cash=400_000,
                                  margin_used=100_000, margin_available=400_000, unrealized_pnl=5_000))
            if day != AS_OF:
                s.add(AccountSnapshot(account_id=alpaca.id, date=day, equity=500_000 - 3_000 * (i % 3), cash=200_000,
                                      margin_used=50_000, margin_available=100_000, unrealized_pnl=-1_000))
        good = Strategy(name="Momentum", allocation=0.5, account_id=ibkr.id, status=StrategyStatus.ACTIVE)
        paused = Strategy(name="Carry", allocation=0.2, account_id=alpaca.id, status=StrategyStatus.PAUSED)
        s.add_all([good, paused])
        s.flush()
        for days_ago, pnl in [(2, 300.0), (3, -100.0), (3, 0.0), (50, 999.0)]:  # the last is outside 30d
            closed = dt.datetime.combine(AS_OF - dt.timedelta(days=days_ago), dt.time(15))
            s.add(ClosedTrade(strategy_id=good.id, account_id=ibkr.id, symbol="AAPL", side="long", quantity=10,
                              entry_price=100, exit_price=100 + pnl / 10, opened_at=closed - dt.timedelta(hours=3),
                              closed_at=closed, realized_pnl=pnl))
        s.add(Position(strategy_id=good.id, account_id=ibkr.id, symbol="AAPL", quantity=10, entry_price=100,
                       opened_at=dt.datetime(2024, 3, 1)))
        s.add(Position(strategy_id=paused.id, account_id=alpaca.id, symbol="TSLA", quantity=-5, entry_price=200,
                       opened_at=dt.datetime(2024, 3, 1)))
        for i, day in enumerate(DAYS):
            for symbol, close in (("AAPL", 100 + i), ("TSLA", 200 + i), ("SPY", 400 * (1.001 ** i) * (1 + 0.002 * (-1) ** i))):
                s.add(Bar(symbol=symbol, timeframe="1d", time=dt.datetime.combine(day, dt.time()), open=close,
                          high=close, low=close, close=close, volume=1))
        for n in range(30):
            received = dt.datetime.combine(AS_OF, dt.time(14)) - dt.timedelta(minutes=n)
            s.add(Signal(signal_id=f"sig_{n}", strategy_id=good.id, symbol="AAPL", side=Side.BUY, quantity=10,
                         received_at=received, status=SignalStatus.FILLED if n % 3 else SignalStatus.REJECTED,
                         reject_reason=None if n % 3 else "risk limit exceeded",
                         filled_at=received + dt.timedelta(seconds=5) if n % 3 else None))
    with engine.begin() as conn:  # trades written by hand: their days summed as rebuild-aggregates does
        rebuild_aggregates(conn)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def fund(request, tmp_path, redis_url):
    yield from built_book(request, tmp_path, redis_url, build_fund, "fund.db")


def statements_during(engine, work):
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731  (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        result = work()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return result, seen


def test_overview_adds_up_accounts_and_carries_a_missing_snapshot_forward(fund):
    doc = cd.client_dashboard("30d", as_of=AS_OF)
    o = doc["overview"]
    ibkr_equity = 1_000_000 + 1_000 * 40
    alpaca_equity = 500_000 - 3_000 * (39 % 3)  # its last snapshot is the day before
    assert o["total_aum"] == 1_500_000
    assert o["total_equity"] == pytest.approx(ibkr_equity + alpaca_equity)
    assert o["total_pnl"] == pytest.approx(ibkr_equity + alpaca_equity - 1_500_000)
    assert o["total_pnl_pct"] == pytest.approx((ibkr_equity + alpaca_equity - 1_500_000) / 1_500_000 * 100)
    assert o["margin_utilization"] == pytest.approx(150_000 / 500_000 * 100)
    assert o["number_of_strategies"] == 1  # Carry is paused
    assert o["open_positions"] == 2
    alpaca = next(a for a in doc["accounts"] if a["broker"] == "Alpaca")
    assert alpaca["snapshot_date"] == (AS_OF - dt.timedelta(days=1)).isoformat()


def test_strategy_performance_counts_only_trades_in_the_range_and_marks_positions(fund):
    rows = {r["strategy_name"]: r for r in cd.client_dashboard("30d", as_of=AS_OF)["strategy_performance"]}
    momentum = rows["Momentum"]
    assert momentum["realized_pnl"] == pytest.approx(200.0)  # 300 - 100 + 0; the 999 is 50 days old
    assert momentum["number_of_trades"] == 3
    assert momentum["win_rate"] == pytest.approx(100 / 3)  # breakeven is not a win
    assert momentum["unrealized_pnl"] == pytest.approx((140 - 100) * 10)  # AAPL closes at 140 on the last day
    assert momentum["pnl"] == pytest.approx(200 + 400)
    assert momentum["pnl_pct"] == pytest.approx(600 / (0.5 * 1_500_000) * 100)
    assert momentum["sharpe_ratio"] is not None
    carry = rows["Carry"]
    assert carry["unrealized_pnl"] == pytest.approx((200 - 240) * 5)  # short 5 TSLA from 200, now 240
    assert carry["number_of_trades"] == 0 and carry["win_rate"] is None and carry["sharpe_ratio"] is None


def test_equity_curve_risk_metrics_and_returns_cover_the_range(fund):
    doc = cd.client_dashboard("30d", as_of=AS_OF)
    curve = doc["equity_curve"]
    assert curve[0]["date"] == (AS_OF - dt.timedelta(days=30)).isoformat() and curve[-1]["date"] == AS_OF.isoformat()
    assert len(doc["daily_returns"]) == 30
    first, second = curve[0]["equity"], curve[1]["equity"]
    assert doc["daily_returns"][0]["return_pct"] == pytest.approx((second / first - 1) * 100)
    risk = doc["risk_metrics"]
    assert 0 <= risk["max_drawdown"] <= 100
    assert risk["var_95"] > 0 and risk["cvar_95"] >= risk["var_95"]
    assert risk["portfolio_beta"] is not None
    assert cd.client_dashboard("7d", as_of=AS_OF)["risk_metrics"]["var_95"] is None  # fewer than 20 returns


def test_recent_signals_are_newest_first_with_reasons(fund):
    signals = cd.client_dashboard("30d", as_of=AS_OF)["recent_signals"]
    assert len(signals) == cd.RECENT_SIGNALS
    assert signals[0]["signal_id"] == "sig_0" and signals[0]["status"] == "REJECTED"
    assert signals[0]["reject_reason"] == "risk limit exceeded"
    assert signals[1]["filled_at"] is not None


def price_lookups(statements: list[str]) -> list[str]:
    """The ``bars`` price provider's statement (each symbol's latest daily close). Positions are marked
    at read time, but the stored closes are cached in the "bars" family, so only a cold build runs it."""
    return [s for s in statements if "max(bars.time)" in s.lower()]


def test_a_cold_build_runs_at_most_six_section_statements_and_the_price_lookup_and_a_warm_one_none(fund):
    cold, statements = statements_during(fund, lambda: cd.client_dashboard("90d", as_of=AS_OF))
    assert len(price_lookups(statements)) == 1 and len(statements) <= 6 + 1, statements
    assert cold["metadata"]["cache_misses"] and not cold["metadata"]["cached"]
    warm, statements = statements_during(fund, lambda: cd.client_dashboard("90d", as_of=AS_OF))
    assert statements == []
    assert warm["metadata"]["cached"] is True and warm["metadata"]["cache_misses"] == []
    assert warm["overview"] == cold["overview"]
    assert warm["sections"]["accounts"]["cached"] is True


def test_force_refresh_rebuilds_every_section(fund):
    cd.client_dashboard("30d", as_of=AS_OF)
    forced, statements = statements_during(fund, lambda: cd.client_dashboard("30d", as_of=AS_OF, force=True))
    assert len(statements) == 6 and forced["metadata"]["cache_hits"] == []  # stored closes: cached until bars change


def test_a_failing_section_reports_its_error_and_the_others_still_render(fund):
    with fund.begin() as conn:
        conn.execute(text("DROP TABLE positions"))
    doc = cd.client_dashboard("30d", as_of=AS_OF, force=True)
    assert "positions" in doc["errors"]
    assert doc["positions"] is None and doc["overview"] is None
    assert doc["accounts"] and doc["equity_curve"] and doc["recent_signals"]
    assert doc["strategy_performance"][0]["unrealized_pnl"] == 0


def test_an_unknown_time_range_is_rejected_naming_the_valid_ones():
    with pytest.raises(cd.InvalidTimeRange, match="valid: 7d, 30d, 90d, 1y, all"):
        cd.client_dashboard("2w")


def test_the_document_is_strict_json(fund):
    import json

    json.dumps(cd.client_dashboard("all", as_of=AS_OF), allow_nan=False)
