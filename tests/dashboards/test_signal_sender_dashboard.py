"""The signal-sender dashboard's data access on a small strategy whose numbers can be checked by
hand, against SQLite and PostgreSQL, with the section cache on a real redis-server."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from data_access.aggregates import rebuild_aggregates
from data_access import signal_sender_dashboard as ssd
from data_access.cache import sections
from data_access.db import Base, configure_database, make_session_factory, session_scope
from data_access.models import (
    Account, Bar, ClosedTrade, Execution, Position, Role, Side, Signal, SignalStatus, Strategy, User,
)
from tests.dashboards.test_client_dashboard import price_lookups, statements_during

AS_OF = dt.date(2024, 3, 29)
NOON = dt.datetime.combine(AS_OF, dt.time(12))
LAGS = [1, 2, 3, 4, 10]  # seconds, the five filled signals
REJECTS = ["risk limit exceeded", "risk limit exceeded", "risk limit exceeded", "market closed", "market closed",
           "invalid symbol"]


def build(url: str, extra_signals: int = 0):
    engine = configure_database(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with session_scope(make_session_factory(engine)) as s:
        dev_a = User(username="dev_a", display_name="Dev A", password_hash="x", role=Role.DEVELOPER)
        dev_b = User(username="dev_b", display_name="Dev B", password_hash="x", role=Role.DEVELOPER)
        s.add_all([dev_a, dev_b, Account(name="Main", broker="IBKR", net_contributions=1_000_000)])
        s.flush()
        alpha = Strategy(name="Alpha", allocation=0.1, developer_id=dev_a.id)
        beta = Strategy(name="Beta", allocation=0.1, developer_id=dev_b.id)
        s.add_all([alpha, beta])
        s.flush()
        n = 0

        def signal(status, side=Side.BUY, symbol="AAPL", minutes=0, lag=None, reason=None, qty=10, strategy=alpha):
            nonlocal n
            n += 1
            received = NOON - dt.timedelta(minutes=minutes)
            sig = Signal(signal_id=f"s{n:05d}", strategy_id=strategy.id, symbol=symbol, side=side, quantity=qty,
                         received_at=received, status=status, reject_reason=reason,
                         filled_at=received + dt.timedelta(seconds=lag) if lag is not None else None)
            s.add(sig)
            return sig

        filled = [signal(SignalStatus.FILLED, minutes=i + 1, lag=lag, symbol="AAPL" if i % 2 else "MSFT",
                         side=Side.BUY if i % 2 else Side.SELL) for i, lag in enumerate(LAGS)]
        for i, reason in enumerate(REJECTS):
            signal(SignalStatus.REJECTED, minutes=10 + i, reason=reason, symbol="TSLA")
        signal(SignalStatus.CANCELLED, minutes=20)
        signal(SignalStatus.PENDING, minutes=0)  # the newest
        signal(SignalStatus.FILLED, minutes=60 * 24 * 60, lag=999)  # 60 days ago: outside 30d
        signal(SignalStatus.REJECTED, strategy=beta, reason="other strategy")
        for i in range(extra_signals):
            signal(SignalStatus.REJECTED, minutes=60 * 24 * 40 + i, reason="bulk")  # outside 30d, in history
        s.flush()
        # the first filled signal (MSFT SELL 10) fills 4 @ 100 and 6 @ 105 -> avg 103
        s.add_all([Execution(execution_id="exe_a", signal_id=filled[0].id, filled_at=NOON, price=100, quantity=4),
                   Execution(execution_id="exe_b", signal_id=filled[0].id, filled_at=NOON, price=105, quantity=6)])
        for sig in filled[1:]:
            s.add(Execution(execution_id=f"exe_{sig.id}", signal_id=sig.id, filled_at=NOON, price=100, quantity=10))
        for days_ago, pnl in [(1, 300.0), (2, -100.0), (2, 0.0), (5, 200.0), (5, -50.0), (45, 999.0)]:
            closed = dt.datetime.combine(AS_OF - dt.timedelta(days=days_ago), dt.time(15))
            s.add(ClosedTrade(strategy_id=alpha.id, symbol="AAPL", side="long", quantity=1, entry_price=100,
                              exit_price=100 + pnl, opened_at=closed - dt.timedelta(hours=1), closed_at=closed,
                              realized_pnl=pnl))
        s.add(Position(strategy_id=alpha.id, symbol="AAPL", quantity=10, entry_price=100, opened_at=NOON))
        s.add(Position(strategy_id=alpha.id, symbol="MSFT", quantity=-5, entry_price=120, opened_at=NOON))
        s.add(Position(strategy_id=beta.id, symbol="AAPL", quantity=1, entry_price=1, opened_at=NOON))
        for days_ago, aapl, msft in [(1, 109, 118), (0, 110, 115), (-1, 999, 999)]:  # the last is after as_of
            t = dt.datetime.combine(AS_OF - dt.timedelta(days=days_ago), dt.time())
            s.add_all([Bar(symbol="AAPL", timeframe="1d", time=t, open=aapl, high=aapl, low=aapl, close=aapl),
                       Bar(symbol="MSFT", timeframe="1d", time=t, open=msft, high=msft, low=msft, close=msft)])
    with engine.begin() as conn:  # trades written by hand: their days summed as rebuild-aggregates does
        rebuild_aggregates(conn)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'signals.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def cache(redis_url):
    sections.configure(cache_type="RedisCache", redis_url=redis_url, ttl={"short": 30, "medium": 300, "long": 3600})
    sections.redis.flushdb()


@pytest.fixture
def strategy(dialect_url, cache):
    engine = build(dialect_url)
    yield engine
    engine.dispose()


def test_counts_fill_rate_and_rejection_reasons(strategy):
    doc = ssd.signal_sender_dashboard("Alpha", "30d", as_of=AS_OF)
    p = doc["performance"]
    assert (p["total_signals_sent"], p["signals_filled"], p["signals_rejected"], p["signals_cancelled"],
            p["signals_pending"]) == (13, 5, 6, 1, 1)
    assert p["fill_rate"] == pytest.approx(5 / 13 * 100)  # rejected signals count as sent
    assert doc["rejection_reasons"] == [{"reason": "risk limit exceeded", "count": 3},
                                        {"reason": "market closed", "count": 2},
                                        {"reason": "invalid symbol", "count": 1}]
    assert doc["strategy_name"] == "Alpha" and doc["developer_name"] == "Dev A"
    assert ssd.signal_sender_dashboard("Alpha", "all", as_of=AS_OF)["performance"]["total_signals_sent"] == 14


def test_lag_percentiles_by_linear_interpolation_and_histogram(strategy):
    """Lags 1, 2, 3, 4, 10 s: the mean exact, numpy's linear-interpolation percentiles and the max
    within the rollup sketch's 1 %."""
    doc = ssd.signal_sender_dashboard("Alpha", "30d", as_of=AS_OF)
    lag = doc["lag_metrics"]
    assert lag["avg_signal_to_fill_seconds"] == pytest.approx(4.0)
    assert lag["median_signal_to_fill_seconds"] == pytest.approx(3.0, rel=0.01)
    assert lag["p95_signal_to_fill_seconds"] == pytest.approx(4 + 0.8 * 6, rel=0.01)  # rank 3.8 between 4 and 10
    assert lag["p99_signal_to_fill_seconds"] == pytest.approx(4 + 0.96 * 6, rel=0.01)
    assert lag["max_signal_to_fill_seconds"] == pytest.approx(10.0, rel=0.01)
    hist = doc["latency_histogram"]
    # bins from 0 to p99 (9.76 s); the 10 s fill beyond it is the overflow
    assert len(hist["counts"]) == ssd.HISTOGRAM_BINS and len(hist["bin_edges"]) == ssd.HISTOGRAM_BINS + 1
    assert hist["bin_edges"][0] == 0 and hist["bin_edges"][-1] == pytest.approx(4 + 0.96 * 6, rel=0.01)
    assert sum(hist["counts"]) == 4 and hist["overflow"] == 1


def test_trade_stats_profit_factor_and_cumulative_pnl(strategy):
    doc = ssd.signal_sender_dashboard("Alpha", "30d", as_of=AS_OF)
    p = doc["performance"]
    assert p["realized_pnl"] == pytest.approx(350.0)  # 300 - 100 + 0 + 200 - 50; the 999 is 45 days old
    assert p["win_rate"] == pytest.approx(40.0)  # 2 of 5, breakeven is not a win
    assert p["avg_win"] == pytest.approx(250.0) and p["avg_loss"] == pytest.approx(-75.0)
    assert p["profit_factor"] == pytest.approx(500 / 150)
    # positions are marked live (the bars provider: the latest stored close, here the bar after as_of,
    # since as_of bounds the history, not today's prices)
    assert p["unrealized_pnl"] == pytest.approx((999 - 100) * 10 + (999 - 120) * -5)  # 8,990 - 4,395
    assert p["total_pnl"] == pytest.approx(350 + 4_595)
    assert p["sharpe_ratio"] is not None
    assert doc["cumulative_pnl"] == [{"date": "2024-03-24", "pnl": 150.0}, {"date": "2024-03-27", "pnl": 50.0},
                                     {"date": "2024-03-28", "pnl": 350.0}]
    assert {x["symbol"]: x["current_price"] for x in doc["current_positions"]} == {"AAPL": 999, "MSFT": 999}
    assert {x["price_source"] for x in doc["current_positions"]} == {"bars"}
    assert not any(x["price_stale"] for x in doc["current_positions"])


def test_history_is_newest_first_with_weighted_fill_price_and_fill_pnl(strategy):
    history = ssd.signal_sender_dashboard("Alpha", "30d", as_of=AS_OF)["signal_history"]
    assert len(history) == 14 and history[0]["status"] == "PENDING" and history[0]["pnl"] is None
    first_fill = history[1]
    assert first_fill["symbol"] == "MSFT" and first_fill["side"] == "SELL"
    assert first_fill["quantity_filled"] == 10 and first_fill["fill_price"] == pytest.approx(103.0)
    assert first_fill["pnl"] == pytest.approx(-(115 - 103) * 10)  # a sell loses when the price rises
    rejected = next(h for h in history if h["status"] == "REJECTED")
    assert rejected["fill_price"] is None and rejected["quantity_filled"] == 0 and rejected["reject_reason"]



def test_unknown_strategy_raises_naming_it(strategy):
    with pytest.raises(ssd.StrategyNotFound, match="'Nope'"):
        ssd.signal_sender_dashboard("Nope", "30d", as_of=AS_OF)


@pytest.mark.parametrize("extra", [100, 5000])
def test_cold_build_statements_are_bounded_and_warm_runs_none(dialect_url, cache, extra):
    engine = build(dialect_url, extra_signals=extra)
    try:
        cold, statements = statements_during(engine, lambda: ssd.signal_sender_dashboard("Alpha", "all", as_of=AS_OF))
        assert len(price_lookups(statements)) == 1 and len(statements) <= 8 + 1, statements
        assert cold["performance"]["total_signals_sent"] == 14 + extra
        assert len(cold["signal_history"]) == 50
        warm, statements = statements_during(engine, lambda: ssd.signal_sender_dashboard("Alpha", "all", as_of=AS_OF))
        assert statements == []
        assert warm["metadata"]["cached"] is True
        page, statements = statements_during(engine, lambda: ssd.signal_page(1, 50, 100, [{"colId": "sent_at", "sort": "asc"}]))
        assert len(statements) == 2 and page["row_count"] == 14 + extra and len(page["rows"]) == 50
    finally:
        engine.dispose()


def _alpha_id():
    return ssd.strategy_info("Alpha")["strategy_id"]


def test_paging_sorting_and_filtering(strategy):
    sid = _alpha_id()
    first = ssd.signal_page(sid, 0, 5)
    assert first["row_count"] == 14 and [r["status"] for r in first["rows"]][:1] == ["PENDING"]
    everything = ssd.signal_page(sid, 0, 100)["rows"]
    assert [r["signal_id"] for r in ssd.signal_page(sid, 5, 10)["rows"]] == [r["signal_id"] for r in everything[5:10]]
    by_symbol = ssd.signal_page(sid, 0, 100, [{"colId": "symbol", "sort": "desc"}])["rows"]
    assert [r["symbol"] for r in by_symbol] == sorted((r["symbol"] for r in everything), reverse=True)
    oldest = ssd.signal_page(sid, 0, 1, [{"colId": "sent_at", "sort": "asc"}])["rows"][0]
    assert oldest["sent_at"].startswith("2024-01-29")
    tsla = ssd.signal_page(sid, 0, 100, None, {"symbol": {"filterType": "text", "type": "contains", "filter": "tsl"}})
    assert tsla["row_count"] == 6 and {r["symbol"] for r in tsla["rows"]} == {"TSLA"}
    sells = ssd.signal_page(sid, 0, 100, None, {"side": {"filterType": "set", "values": ["SELL"]},
                                                "status": {"filterType": "text", "type": "equals", "filter": "filled"}})
    assert sells["row_count"] == 3
    qty = ssd.signal_page(sid, 0, 100, None, {"quantity": {"filterType": "number", "type": "greaterThan", "filter": 5}})
    assert qty["row_count"] == 14
    either = ssd.signal_page(sid, 0, 100, None, {"symbol": {"filterType": "text", "operator": "OR", "conditions": [
        {"type": "equals", "filter": "MSFT"}, {"type": "startsWith", "filter": "ts"}]}})
    assert either["row_count"] == 3 + 6
    like_escape = ssd.signal_page(sid, 0, 100, None, {"symbol": {"filterType": "text", "type": "contains", "filter": "%"}})
    assert like_escape["row_count"] == 0


@pytest.mark.parametrize("sort, filters, message", [
    ([{"colId": "password_hash", "sort": "asc"}], None, "cannot sort by 'password_hash'"),
    ([{"colId": "symbol", "sort": "sideways"}], None, "asc or desc"),
    (None, {"strategy_id": {"filterType": "number", "type": "equals", "filter": 2}}, "cannot filter 'strategy_id'"),
    (None, {"status": {"filterType": "set", "values": ["LOST"]}}, "status values"),
    (None, {"symbol": {"filterType": "text", "type": "regex", "filter": "."}}, "unknown text filter"),
])
def test_bad_page_requests_are_rejected(strategy, sort, filters, message):
    with pytest.raises(ssd.InvalidPageRequest, match=message):
        ssd.signal_page(_alpha_id(), 0, 10, sort, filters)


def test_bad_page_bounds_are_rejected(strategy):
    for start, end in [(-1, 5), (5, 5), (0, 10_000)]:
        with pytest.raises(ssd.InvalidPageRequest):
            ssd.signal_page(_alpha_id(), start, end)


def test_a_failing_section_reports_its_error(strategy):
    from sqlalchemy import text

    with strategy.begin() as conn:
        conn.execute(text("DROP TABLE positions"))
    doc = ssd.signal_sender_dashboard("Alpha", "30d", as_of=AS_OF, force=True)
    assert "positions" in doc["errors"] and doc["current_positions"] is None
    assert doc["signal_history"] and doc["lag_metrics"] and doc["performance"]["fill_rate"]
    json.dumps(doc, allow_nan=False)


def test_strategies_for_a_developer_are_their_own(strategy):
    assert ssd.strategies_for(None) == ["Alpha", "Beta"]
    assert ssd.strategies_for(ssd.strategy_info("Beta")["developer_id"]) == ["Beta"]
    assert np.isfinite(ssd.signal_sender_dashboard("Beta", "all", as_of=AS_OF)["performance"]["fill_rate"] or 0)
