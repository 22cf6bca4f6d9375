"""Unrealized PnL at live prices on the client and signal-sender dashboards, against a real local
HTTP price server (made to fail and hang) and the real test Redis (section cache and last-good
prices): priced positions, stale last-good prices with their age, unpriced symbols named in the
positions section's error while the rest renders, and the ``bars`` default."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.config import Settings
from data_access import client_dashboard as cd
from data_access import signal_sender_dashboard as ssd
from data_access.models import Bar, Position
from data_access.prices import HttpPriceProvider, LastGoodStore
from tests.conftest import build_app, demo_seeded, log_in
from tests.dashboards.test_client_dashboard import AS_OF, fund  # noqa: F401 - fixtures
from tests.dashboards.test_signal_sender_dashboard import cache, dialect_url, strategy  # noqa: F401 - fixtures
from tests.providers.conftest import Clock
from tests.providers.http_server import ProviderServer

TIMEOUT = 0.3  # seconds per request; the hanging server sleeps far longer


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    srv = ProviderServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2024, 3, 29, 15, 0, tzinfo=dt.UTC))


@pytest.fixture
def http_prices(server, redis_client, clock) -> HttpPriceProvider:
    """The http provider on the test server, its last good prices in the test Redis, no retries."""
    return HttpPriceProvider(f"{server.base_url}/price/{{symbol}}", timeout_seconds=TIMEOUT, retries=0, clock=clock,
                             last_good=LastGoodStore("price", client=redis_client))


def by_symbol(positions: list[dict]) -> dict[str, dict]:
    return {p["symbol"]: p for p in positions}


# --------------------------------------------------------------------------- client dashboard
# The fund: Momentum is long 10 AAPL from 100, Carry short 5 TSLA from 200.


def test_http_prices_mark_longs_and_shorts(fund, server, http_prices):
    server.set("AAPL", value={"price": 150.0})
    server.set("TSLA", value={"price": 190.0})
    doc = cd.client_dashboard("30d", as_of=AS_OF, prices=http_prices)
    assert "errors" not in doc
    aapl, tsla = by_symbol(doc["positions"])["AAPL"], by_symbol(doc["positions"])["TSLA"]
    assert aapl["current_price"] == 150.0 and aapl["unrealized_pnl"] == pytest.approx((150 - 100) * 10)
    assert tsla["current_price"] == 190.0 and tsla["unrealized_pnl"] == pytest.approx((190 - 200) * -5)  # short gains
    for p in (aapl, tsla):
        assert p["price_source"] == "http" and p["price_stale"] is False and p["price_age_seconds"] == 0
        assert {"strategy_name", "quantity", "entry_price"} <= set(p)
    strategies = {s["strategy_name"]: s for s in doc["strategy_performance"]}
    assert strategies["Momentum"]["unrealized_pnl"] == pytest.approx(500.0)
    assert strategies["Carry"]["unrealized_pnl"] == pytest.approx(50.0)
    assert strategies["Momentum"]["pnl"] == pytest.approx(200.0 + 500.0)  # realized in range + unrealized now


@pytest.mark.parametrize("failure", ["500", "slow"])
def test_a_failing_provider_serves_the_last_good_price_marked_stale_with_its_age(fund, server, http_prices, clock,
                                                                                failure):
    server.set("AAPL", value={"price": 150.0})
    server.set("TSLA", value={"price": 190.0})
    cd.client_dashboard("30d", as_of=AS_OF, prices=http_prices)  # good prices, remembered in Redis
    clock.advance(120)
    server.set("AAPL", failure, delay=5.0 if failure == "slow" else 0.0)  # slow: hangs past the timeout
    server.set("TSLA", value={"price": 180.0})
    started = time.perf_counter()
    doc = cd.client_dashboard("30d", as_of=AS_OF, prices=http_prices)
    elapsed = time.perf_counter() - started
    assert elapsed < TIMEOUT + 1.5, elapsed  # bounded by the timeout, not by the server's 5 s
    assert "errors" not in doc  # a stale price is a price: flagged on its row, not a failure
    aapl, tsla = by_symbol(doc["positions"])["AAPL"], by_symbol(doc["positions"])["TSLA"]
    assert aapl["current_price"] == 150.0 and aapl["unrealized_pnl"] == pytest.approx(500.0)
    assert aapl["price_stale"] is True and aapl["price_age_seconds"] == pytest.approx(120.0)
    assert tsla["current_price"] == 180.0 and tsla["price_stale"] is False  # the other symbol is live
    assert doc["overview"]["open_positions"] == 2 and doc["equity_curve"] and doc["recent_signals"]


def test_a_symbol_never_priced_is_named_and_the_rest_of_the_dashboard_renders(fund, server, http_prices):
    server.set("AAPL", value={"price": 150.0})  # the server does not know TSLA (404), and never did
    doc = cd.client_dashboard("30d", as_of=AS_OF, prices=http_prices)
    tsla = by_symbol(doc["positions"])["TSLA"]
    assert tsla["current_price"] is None and tsla["unrealized_pnl"] is None and tsla["price_stale"] is None
    assert tsla["quantity"] == -5 and tsla["entry_price"] == 200  # the position itself is still shown
    assert set(doc["errors"]) == {"positions"}
    assert "no price for TSLA" in doc["errors"]["positions"] and "AAPL" not in doc["errors"]["positions"]
    assert by_symbol(doc["positions"])["AAPL"]["unrealized_pnl"] == pytest.approx(500.0)
    strategies = {s["strategy_name"]: s for s in doc["strategy_performance"]}
    assert strategies["Carry"]["unrealized_pnl"] == 0 and strategies["Momentum"]["unrealized_pnl"] == 500.0
    assert doc["overview"]["open_positions"] == 2
    assert doc["accounts"] and doc["equity_curve"] and doc["risk_metrics"] and doc["recent_signals"]
    json.dumps(doc, allow_nan=False)


def test_the_bars_default_marks_at_the_latest_stored_close(fund):
    doc = cd.client_dashboard("30d", as_of=AS_OF)
    with fund.connect() as conn:
        for position in doc["positions"]:
            latest = conn.execute(select(Bar.close).where(Bar.symbol == position["symbol"], Bar.timeframe == "1d")
                                  .order_by(Bar.time.desc()).limit(1)).scalar_one()
            assert position["current_price"] == latest and position["price_source"] == "bars"
            assert position["price_stale"] is False
            assert position["unrealized_pnl"] == pytest.approx((latest - position["entry_price"]) * position["quantity"])
    assert by_symbol(doc["positions"])["AAPL"]["current_price"] == 140  # closes rise 1 a day to 140


# --------------------------------------------------------------------------- signal-sender dashboard
# Alpha: long 10 AAPL from 100, short 5 MSFT from 120.


def test_signal_sender_positions_stale_and_unpriced(strategy, server, http_prices, clock):
    server.set("AAPL", value={"price": 110.0})
    doc = ssd.signal_sender_dashboard("Alpha", "30d", as_of=AS_OF, prices=http_prices)
    assert "MSFT" in doc["errors"]["positions"]  # never priced (unknown to the server)
    msft = by_symbol(doc["current_positions"])["MSFT"]
    assert msft["current_price"] is None and msft["unrealized_pnl"] is None
    assert doc["performance"]["unrealized_pnl"] == pytest.approx(100.0)  # the unpriced short is left out
    assert doc["performance"]["total_pnl"] == pytest.approx(350.0 + 100.0)

    server.set("MSFT", value={"price": 100.0})
    doc = ssd.signal_sender_dashboard("Alpha", "30d", as_of=AS_OF, prices=http_prices)
    assert "errors" not in doc
    assert doc["performance"]["unrealized_pnl"] == pytest.approx(100.0 + (100 - 120) * -5)

    clock.advance(30)
    server.set("MSFT", "500")
    doc = ssd.signal_sender_dashboard("Alpha", "30d", as_of=AS_OF, prices=http_prices)
    msft = by_symbol(doc["current_positions"])["MSFT"]
    assert msft["current_price"] == 100.0 and msft["price_stale"] is True and msft["price_age_seconds"] == 30.0
    assert "errors" not in doc and doc["signal_history"] and doc["lag_metrics"]


# --------------------------------------------------------------------------- through the API


@pytest.fixture
def http_app(sqlite_url, redis_url, redis_client, tmp_path, server):
    """The app on demo data with PRICE_PROVIDER=http pointing at the test server."""
    settings = Settings(DATABASE_URL=sqlite_url, REDIS_URL=redis_url, VAR_DIR=str(tmp_path / "var"),
                        SECRET_KEY="test-secret-key-not-for-production", CACHE_TYPE="RedisCache",
                        PRICE_PROVIDER="http", PRICE_HTTP_URL_TEMPLATE=f"{server.base_url}/price/{{symbol}}",
                        PRICE_HTTP_TIMEOUT_SECONDS=TIMEOUT, PRICE_HTTP_RETRIES=0)
    demo_seeded(sqlite_url)
    dash_app = build_app(settings)
    yield dash_app
    dash_app.server.extensions["tradeboard"].engine.dispose()


def test_the_api_flags_stale_prices_when_the_http_provider_fails(http_app, server, users):
    engine = http_app.server.extensions["tradeboard"].engine
    with engine.connect() as conn:
        symbols = sorted(set(conn.execute(select(Position.symbol)).scalars()))
    assert symbols
    for i, symbol in enumerate(symbols):
        server.set(symbol, value={"price": 100.0 + i})
    client = http_app.server.test_client()
    assert log_in(client, "admin", users["admin"]).status_code == 303

    live = client.get("/api/v1/dashboards/client?time_range=30d").get_json()
    assert "errors" not in live, live.get("errors")
    assert {p["price_source"] for p in live["positions"]} == {"http"}
    assert not any(p["price_stale"] for p in live["positions"])

    time.sleep(0.3)  # so the last good prices have an age
    for symbol in symbols:
        server.set(symbol, "500")
    response = client.get("/api/v1/dashboards/client?time_range=30d")
    assert response.status_code == 200
    stale = response.get_json()
    assert "errors" not in stale and stale["overview"] and stale["equity_curve"]
    assert all(p["price_stale"] is True and p["price_age_seconds"] > 0 for p in stale["positions"])
    assert [p["current_price"] for p in stale["positions"]] == [p["current_price"] for p in live["positions"]]
