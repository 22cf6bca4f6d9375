"""The paper-trading dashboard's data access on a small book whose numbers are checked by hand,
against SQLite and PostgreSQL, with the section cache on a real redis-server and the GEX and price
providers on a real local HTTP server."""

from __future__ import annotations

import datetime as dt
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from app.config import Settings
from data_access import paper_trading as pt
from data_access.cache import KEY_PREFIX, sections
from data_access.db import Base, configure_database, make_session_factory, session_scope
from data_access.models import Bar, PaperAccount, PaperSignal, PaperSignalAction, PaperSignalStatus, PaperTrade
from tests.conftest import built_book
from tests.dashboards.test_client_dashboard import statements_during
from tests.providers.http_server import ProviderServer

GEX_HTTP = ("simulated", None, 2.0, 4, 2)


def build_book(url: str, extra_closed: int = 0):
    """Accounts A (100k) and B (50k) trade; C (25k) holds nothing.

    closed: +300 today (src1), -100 yesterday (src1), +200 three days ago (src2)
    open:   AAPL long 10 @ 100 since two days ago (src1), MSFT short 5 @ 120 since today (src2)
    closes: AAPL 104 (two days ago) 105 (yesterday); MSFT 118 (yesterday); TSLA 210 (yesterday)
    signals: executed entries for the 5 trades; missed: TSLA long 10 @ 200 (rejected, src1, a day
    ago), AAPL short 10 @ 110 (skipped, src2, two days ago), SPY long 1 @ 1 (rejected, 10 days
    ago: outside the shadow window); queued: NVDA entry (2 min ago); active exit for the AAPL trade.
    """
    # the clock at build time, not at import: the suite may reach this test minutes after collection,
    # and the health section's "queued for too long" is measured from the signals' ages
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    today = dt.datetime.combine(now.date(), dt.time())
    engine = configure_database(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    day = dt.timedelta(days=1)
    with session_scope(make_session_factory(engine)) as s:
        a, b = PaperAccount(name="A", starting_cash=100_000, cash=0), PaperAccount(name="B", starting_cash=50_000, cash=0)
        s.add_all([a, b, PaperAccount(name="C", starting_cash=25_000, cash=25_000)])
        s.flush()

        def trade(account, source, symbol, side, qty, entry, opened, exit_=None, closed=None, pnl=None):
            t = PaperTrade(paper_account_id=account.id, source=source, symbol=symbol, side=side, quantity=qty,
                           entry_price=entry, opened_at=opened, status="CLOSED" if closed else "OPEN",
                           exit_price=exit_, closed_at=closed, realized_pnl=pnl)
            s.add(t)
            return t

        hour = dt.timedelta(hours=1)
        trades = [
            trade(a, "src1", "AAPL", "long", 10, 100, today + hour, 130, today + 2 * hour, 300.0),
            trade(a, "src1", "AAPL", "long", 10, 100, today - day, 90, today - day + hour, -100.0),
            trade(b, "src2", "MSFT", "short", 10, 120, today - 3 * day, 100, today - 3 * day + hour, 200.0),
            trade(a, "src1", "AAPL", "long", 10, 100, today - 2 * day),
            trade(b, "src2", "MSFT", "short", 5, 120, today + dt.timedelta(minutes=1)),
        ]
        for i in range(extra_closed):
            trades.append(trade(a, "src1", "AAPL", "long", 1, 100, today - 30 * day, 100, today - 30 * day + hour, 0.0))
        s.flush()
        for t in trades:
            s.add(PaperSignal(paper_account_id=t.paper_account_id, source=t.source, symbol=t.symbol, side=t.side,
                              action=PaperSignalAction.ENTRY, quantity=t.quantity, price=t.entry_price,
                              created_at=t.opened_at - dt.timedelta(seconds=5), status=PaperSignalStatus.EXECUTED,
                              paper_trade_id=t.id, executed_at=t.opened_at))

        def missed(source, symbol, side, qty, price, created, status, reason="risk"):
            s.add(PaperSignal(paper_account_id=a.id, source=source, symbol=symbol, side=side,
                              action=PaperSignalAction.ENTRY, quantity=qty, price=price, created_at=created,
                              status=status, reason=reason))

        missed("src1", "TSLA", "long", 10, 200, now - day, PaperSignalStatus.REJECTED, "max open positions")
        missed("src2", "AAPL", "short", 10, 110, now - 2 * day, PaperSignalStatus.SKIPPED, "duplicate signal")
        missed("src1", "SPY", "long", 1, 1, now - 10 * day, PaperSignalStatus.REJECTED)
        missed("src1", "NVDA", "long", 3, 50, now - dt.timedelta(minutes=2), PaperSignalStatus.QUEUED, None)
        s.add(PaperSignal(paper_account_id=a.id, source="src1", symbol="AAPL", side="long",
                          action=PaperSignalAction.EXIT, quantity=10, price=105, created_at=now - dt.timedelta(seconds=30),
                          status=PaperSignalStatus.QUEUED, paper_trade_id=trades[3].id))
        for days_ago, closes in ((2, {"AAPL": 104}), (1, {"AAPL": 105, "MSFT": 118, "TSLA": 210, "SPY": 2, "NVDA": 50})):
            for symbol, close in closes.items():
                s.add(Bar(symbol=symbol, timeframe="1d", time=today - days_ago * day, open=close, high=close,
                          low=close, close=close, volume=1))
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def book(request, tmp_path, redis_url):
    yield from built_book(request, tmp_path, redis_url, build_book, "paper.db")


def test_overview_adds_up_realized_and_live_unrealized_pnl(book):
    o = pt.paper_trading_dashboard(20)["overview"]
    # unrealized at the latest closes: AAPL (105-100)*10 = 50; MSFT short (120-118)*5 = 10
    assert o["unrealized_pnl"] == pytest.approx(60.0)
    assert o["realized_pnl"] == pytest.approx(400.0)
    assert o["total_pnl"] == pytest.approx(460.0)
    assert o["win_rate"] == pytest.approx(200 / 3)
    # today: +300 closed; AAPL unchanged since yesterday's close; MSFT opened today: 120 -> 118 short = +10
    assert o["daily_pnl"] == pytest.approx(310.0)
    assert (o["total_accounts"], o["active_accounts"], o["active_trades"], o["closed_trades"]) == (3, 2, 2, 3)
    assert o["equity"] == pytest.approx(175_460.0)


def test_real_time_lists_are_marked_and_the_shadow_book_shows_the_cost_of_not_trading(book):
    doc = pt.paper_trading_dashboard(20)
    positions = {p["symbol"]: p for p in doc["open_positions"]}
    assert positions["AAPL"]["current_price"] == 105 and positions["AAPL"]["unrealized_pnl"] == pytest.approx(50)
    assert positions["MSFT"]["unrealized_pnl"] == pytest.approx(10) and positions["MSFT"]["price_stale"] is False
    assert doc["open_positions_total"] == {"count": 2, "unrealized_pnl": pytest.approx(60)}
    shadow = {p["symbol"]: p for p in doc["shadow_positions"]}
    assert set(shadow) == {"TSLA", "AAPL"}  # the 10-day-old miss is outside the window
    assert shadow["TSLA"]["unrealized_pnl"] == pytest.approx(100)  # (210-200)*10
    assert shadow["AAPL"]["unrealized_pnl"] == pytest.approx(50)  # short 10 from 110 to 105
    assert doc["shadow_summary"]["unrealized_pnl"] == pytest.approx(150)
    assert doc["shadow_summary"]["by_status"] == {"REJECTED": 1, "SKIPPED": 1}
    [exit_signal] = doc["exit_signals"]
    assert exit_signal["symbol"] == "AAPL" and exit_signal["status"] == "active"
    assert exit_signal["unrealized_pnl"] == pytest.approx(50) and 25 <= exit_signal["age_seconds"] < 600
    [queued] = doc["queued_signals"]
    assert queued["symbol"] == "NVDA" and 110 <= queued["age_seconds"] < 900
    assert doc["health"]["status"] == "healthy", doc["health"]
    assert doc["health"]["database"]["queued"] == 2


def test_history_sections_source_performance_and_curves(book):
    doc = pt.paper_trading_dashboard(20)
    assert [t["realized_pnl"] for t in doc["recent_trades"]] == [300.0, -100.0, 200.0]
    sources = {s["source"]: s for s in doc["source_performance"]}
    # src1: 3 executed + 2 rejected entries, 1 queued (undecided: not in the fill rate)
    assert (sources["src1"]["signals"], sources["src1"]["executed"], sources["src1"]["missed"]) == (6, 3, 2)
    assert sources["src1"]["fill_rate"] == pytest.approx(60.0)
    assert sources["src1"]["pnl"] == pytest.approx(200.0) and sources["src1"]["win_rate"] == pytest.approx(50.0)
    assert sources["src2"]["fill_rate"] == pytest.approx(200 / 3) and sources["src2"]["pnl"] == pytest.approx(200)
    curve = doc["pnl_curve"]["data_points"]
    assert [p["pnl"] for p in curve] == [200.0, 100.0, 400.0]
    returns = doc["daily_returns"]["returns"]
    assert returns[0]["return_pct"] == pytest.approx(200 / 175_000 * 100)
    assert returns[1]["return_pct"] == pytest.approx(-100 / 175_200 * 100)
    m = doc["performance_metrics"]
    assert m["profit_factor"] == pytest.approx(5.0) and m["expectancy"] == pytest.approx(400 / 3)
    assert m["largest_win"] == 300 and m["largest_loss"] == -100
    # AAPL 300 - 100 and MSFT 200 tie: by symbol
    assert [(p["symbol"], p["realized_pnl"], p["trades"]) for p in doc["top_performers"]] == [("AAPL", 200, 2),
                                                                                              ("MSFT", 200, 1)]
    assert doc["trading_stats"]["open_long"] == 1 and doc["trading_stats"]["open_short"] == 1
    assert doc["trading_stats"]["trades_closed_today"] == 1


def test_limit_cuts_every_list_but_not_the_totals(book):
    doc = pt.paper_trading_dashboard(1)
    assert len(doc["open_positions"]) == 1 and doc["open_positions_total"]["count"] == 2
    assert len(doc["recent_trades"]) == 1 and len(doc["shadow_positions"]) == 1
    assert doc["shadow_summary"]["count"] == 2
    for bad in (0, 501, "ten"):
        with pytest.raises(pt.InvalidLimit):
            pt.paper_trading_dashboard(bad)


def test_real_time_sections_are_never_cached_and_the_rest_are_until_paper_data_is_bumped(book):
    cold = pt.paper_trading_dashboard(20)
    warm = pt.paper_trading_dashboard(20)
    assert set(warm["metadata"]["cache_hits"]) == set(cold["metadata"]["cache_misses"])
    for section in ("open_positions", "shadow_positions", "exit_signals", "queued_signals", "health"):
        assert warm["sections"][section]["cached"] is False
        assert section not in warm["metadata"]["cache_hits"]
    assert warm["sections"]["overview"]["cached"] is True
    with session_scope(make_session_factory(book)) as s:
        s.execute(text("UPDATE paper_trades SET realized_pnl = realized_pnl + 1000 WHERE realized_pnl = 300"))
    assert pt.paper_trading_dashboard(20)["overview"]["realized_pnl"] == pytest.approx(400)  # cached: unchanged
    sections.bump("paper")
    assert pt.paper_trading_dashboard(20)["overview"]["realized_pnl"] == pytest.approx(1400)


def test_a_cold_build_runs_a_bounded_number_of_statements_whatever_the_book_size(tmp_path, redis_url):
    sections.configure(cache_type="RedisCache", redis_url=redis_url, ttl={"short": 30, "medium": 300, "long": 3600})
    counts = []
    for extra in (0, 300):
        engine = build_book(f"sqlite:///{tmp_path / f'paper{extra}.db'}", extra_closed=extra)
        sections.redis.flushdb()
        _, statements = statements_during(engine, lambda: pt.paper_trading_dashboard(20))
        # the change counter's primary-key lookup is made once per build, and once more by a section
        # whose refresh ends after the build (timing, not book size): not counted
        counts.append(sum("FROM table_versions" not in s for s in statements))
        engine.dispose()
    assert counts[0] == counts[1] and counts[0] <= 28, counts  # ~2 per section, prices included


def test_a_failing_section_is_reported_and_the_others_are_still_built(book):
    with book.begin() as conn:
        conn.execute(text("DROP TABLE paper_signals"))
    doc = pt.paper_trading_dashboard(20)
    for section in ("shadow_positions", "exit_signals", "queued_signals", "source_performance"):
        assert doc[section] is None and section in doc["errors"], section
    assert doc["overview"]["total_pnl"] == pytest.approx(460.0)
    assert doc["recent_trades"] and doc["pnl_curve"]["total_pnl"] == pytest.approx(400)
    assert doc["health"]["status"] == "unhealthy"


def test_the_lite_summary_is_the_overview_and_answers_from_one_cached_read(book):
    cold = pt.paper_trading_lite()
    assert cold["cached"] is False
    assert cold["total_pnl"] == pytest.approx(460.0) and cold["active_trades"] == 2
    _, statements = statements_during(book, pt.paper_trading_lite)
    assert statements == []
    warm = pt.paper_trading_lite()
    assert warm["cached"] is True and warm["timestamp"] == cold["timestamp"]
    assert set(warm) == {"total_pnl", "win_rate", "active_trades", "daily_pnl", "timestamp", "cached"}


# --------------------------------------------------------------------------- external providers failing


@pytest.fixture
def provider_server():
    server = ProviderServer().start()
    yield server
    server.stop()


def http_config(kind: str, server: ProviderServer, timeout: float = 5.0) -> tuple:
    """The provider settings for ``server``; the timeout with room to spare for a good answer (with
    the other test worker busy on the second core, the provider's thread has missed 0.5 s)."""
    path = "price" if kind == "price" else "gex"
    return ("http", f"{server.base_url}/{path}/{{symbol}}", timeout, 4, 0)


def test_gex_serves_the_last_good_value_as_stale_when_the_provider_fails_and_errors_without_one(book, provider_server,
                                                                                                 redis_client):
    provider_server.set("SPY", "ok", {"gamma_exposure": 1.5e9, "call_wall": 600, "put_wall": 550})
    provider_server.set("QQQ", "500")  # never good
    config = http_config("gex", provider_server, timeout=0.5)
    # the first, good answer (the last good value it leaves is kept per symbol)
    doc = pt.paper_trading_dashboard(20, gex=http_config("gex", provider_server), gex_symbols=("SPY", "QQQ"))
    [spy] = doc["gex"]
    assert spy["symbol"] == "SPY" and spy["call_wall"] == 600 and spy["stale"] is False
    assert "QQQ" in doc["errors"]["gex"] and doc["overview"] is not None

    provider_server.set("SPY", "slow", delay=3.0)  # hangs past the 0.5 s timeout
    time.sleep(1.1)
    started = time.perf_counter()
    doc = pt.paper_trading_dashboard(20, gex=config, gex_symbols=("SPY", "QQQ"), force=True)
    assert time.perf_counter() - started < 2.5
    [spy] = doc["gex"]
    assert spy["stale"] is True and spy["call_wall"] == 600 and spy["age_seconds"] >= 1.0
    assert "stale GEX for SPY" in " ".join(doc["health"]["problems"])
    # served from the section cache while it is fresh: the age keeps growing, no new request
    provider_server.reset_counts()
    time.sleep(0.5)
    again = pt.paper_trading_dashboard(20, gex=config, gex_symbols=("SPY", "QQQ"))
    assert again["gex"][0]["age_seconds"] > spy["age_seconds"] and provider_server.requests["SPY"] == 0


def test_positions_carry_stale_prices_when_the_price_provider_fails(book, provider_server, redis_client):
    for symbol, price in (("AAPL", 106.0), ("MSFT", 119.0), ("TSLA", 205.0)):
        provider_server.set(symbol, "ok", {"price": price})
    config = http_config("price", provider_server)
    doc = pt.paper_trading_dashboard(20, prices=config, force=True)
    positions = {p["symbol"]: p for p in doc["open_positions"]}
    assert positions["AAPL"]["current_price"] == 106.0 and positions["AAPL"]["price_source"] == "http"
    assert positions["MSFT"]["unrealized_pnl"] == pytest.approx(5.0)
    provider_server.set("AAPL", "500")
    time.sleep(0.2)
    doc = pt.paper_trading_dashboard(20, prices=config, force=True)
    positions = {p["symbol"]: p for p in doc["open_positions"]}
    assert positions["AAPL"]["price_stale"] is True and positions["AAPL"]["current_price"] == 106.0
    assert positions["AAPL"]["price_age_seconds"] > 0 and positions["MSFT"]["price_stale"] is False
    assert doc["health"]["status"] == "degraded" and "AAPL" in doc["health"]["stale_price_symbols"]
    redis_client.flushdb()
    provider_server.set("AAPL", "500")
    doc = pt.paper_trading_dashboard(20, prices=config, force=True)
    positions = {p["symbol"]: p for p in doc["open_positions"]}
    assert positions["AAPL"]["current_price"] is None and "AAPL" in doc["errors"]["open_positions"]
    assert positions["MSFT"]["current_price"] == 119.0 and doc["recent_trades"]


def test_one_document_prices_each_symbol_once_and_marks_it_at_that_price_in_every_section(book, provider_server):
    for symbol, price in (("AAPL", 106.0), ("MSFT", 119.0), ("TSLA", 205.0)):
        provider_server.set(symbol, "ticking", {"price": price})  # each request answers 1 more
    config = http_config("price", provider_server)

    def aapl_prices(doc) -> list[float]:
        rows = doc["open_positions"] + doc["shadow_positions"] + doc["exit_signals"]
        return [row["current_price"] for row in rows if row["symbol"] == "AAPL"]

    doc = pt.paper_trading_dashboard(20, prices=config, force=True)
    assert provider_server.requests == {"AAPL": 1, "MSFT": 1, "TSLA": 1}
    assert aapl_prices(doc) == [106.0, 106.0, 106.0]  # open long, missed short, the exit
    # the overview (its own section) marks the book at the same quotes: AAPL +60, MSFT short +5
    assert doc["overview"]["unrealized_pnl"] == pytest.approx(65.0) == doc["open_positions_total"]["unrealized_pnl"]
    again = pt.paper_trading_dashboard(20, prices=config, force=True)  # the next document asks again
    assert provider_server.requests == {"AAPL": 2, "MSFT": 2, "TSLA": 2}
    assert aapl_prices(again) == [107.0, 107.0, 107.0]


# --------------------------------------------------------------------------- parallel reads and TTL tiers

STATEMENT_DELAY = 0.1  # seconds added to every SQL statement: the build becomes I/O bound


@contextmanager
def slow_statements(engine):
    """Every statement on ``engine`` waits STATEMENT_DELAY before it runs; yields the list of
    ``(thread id, start, end)`` of each one."""
    windows, lock = [], threading.Lock()

    def delay(_conn, _cursor, _statement, _params, _context, _executemany):
        start = time.perf_counter()
        time.sleep(STATEMENT_DELAY)
        with lock:
            windows.append((threading.get_ident(), start, time.perf_counter()))

    event.listen(engine, "before_cursor_execute", delay)
    try:
        yield windows
    finally:
        event.remove(engine, "before_cursor_execute", delay)


def most_at_once(windows) -> int:
    edges = sorted([(start, 1) for _, start, _ in windows] + [(end, -1) for _, _, end in windows])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def test_the_sections_are_read_in_parallel(book):
    with slow_statements(book) as windows:
        started = time.perf_counter()
        doc = pt.paper_trading_dashboard(20, gex=GEX_HTTP, gex_symbols=("SPY",))  # the book has SPY bars
        total = time.perf_counter() - started
    assert "errors" not in doc, doc.get("errors")
    one_after_another = len(windows) * STATEMENT_DELAY
    assert len(windows) >= 12, len(windows)  # at least one statement per section
    pooled = [w for w in windows if w[0] != threading.get_ident()]
    assert len({thread for thread, _, _ in pooled}) >= 4 and most_at_once(pooled) >= 4
    if book.dialect.name == "sqlite":  # the real-time sections on the request thread, while the pool works
        on_request_thread = len(windows) - len(pooled)
        assert on_request_thread >= 5, on_request_thread  # at least one statement per real-time section
        assert total < (on_request_thread + 2) * STATEMENT_DELAY + 0.3, (total, on_request_thread)
    else:
        assert total < one_after_another / 2, (total, one_after_another)


# the tiers the paper-trading sections are declared with (module docstring, docs/architecture.md)
DECLARED_TIERS = {"overview": "short", "recent_trades": "short", "trading_stats": "short",
                  "daily_realized": "medium", "trade_totals": "medium", "top_performers": "medium",
                  "source_performance": "medium", "gex_levels": "medium"}
PANEL_OF = {"daily_realized": "pnl_curve", "trade_totals": "performance_metrics", "gex_levels": "gex"}


def test_each_cached_section_is_stored_for_its_tiers_ttl(book, redis_url, tmp_path):
    # tiers unlike the defaults and unlike each other, so a key stored for the wrong one shows
    settings = Settings(DATABASE_URL="sqlite://", REDIS_URL=redis_url, VAR_DIR=str(tmp_path),
                        SECRET_KEY="test-secret", CACHE_TTL_SHORT=41, CACHE_TTL_MEDIUM=407, CACHE_TTL_LONG=4003)
    sections.configure_from(settings)
    sections.redis.flushdb()
    doc = pt.paper_trading_dashboard(20, gex=GEX_HTTP, gex_symbols=("SPY",))  # the book has SPY bars
    assert "errors" not in doc, doc.get("errors")
    for name, tier in DECLARED_TIERS.items():
        ttl = settings.ttl_tiers[tier]
        keys = sections.redis.keys(f"{KEY_PREFIX}s:{name}:*")
        assert len(keys) == 1, (name, keys)
        # stored for two TTLs: fresh for the first, served stale while refreshing in the second
        assert 2 * ttl - 5 <= sections.redis.ttl(keys[0]) <= 2 * ttl, (name, tier)
        assert doc["sections"][PANEL_OF.get(name, name)]["ttl_seconds"] == ttl, name
    for realtime in ("open_positions", "shadow_positions", "exit_signals", "queued_signals", "activity"):
        assert sections.redis.keys(f"{KEY_PREFIX}s:{realtime}:*") == [], realtime
