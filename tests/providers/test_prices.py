"""Price providers against a real local HTTP server, a real Redis and real databases."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import threading
import time

import pytest

from app.config import Settings
from data_access.prices import (
    BarsPriceProvider, HttpPriceProvider, LastGoodStore, PriceUnavailable, SimulatedPriceProvider, make_price_provider,
    one_quote_per_symbol,
)
from tests.providers.conftest import CLOSES, Clock, StatementCounter

T0 = dt.datetime(2026, 11, 23, 14, 30, 15, tzinfo=dt.UTC)


def http_provider(server, store, **kwargs) -> HttpPriceProvider:
    kwargs.setdefault("timeout_seconds", 0.5)
    kwargs.setdefault("retries", 2)
    kwargs.setdefault("backoff_seconds", 0.01)
    return HttpPriceProvider(server.base_url + "/price/{symbol}", last_good=store, **kwargs)


# --------------------------------------------------------------------------- HTTP: concurrency, timeouts, retries


def test_http_provider_returns_every_symbols_price_fresh(server, price_store):
    server.set("SPY", value={"price": 601.5})
    server.set("QQQ", value={"price": 499.25, "as_of": "2026-11-23T14:30:00+00:00"})
    quotes = http_provider(server, price_store, clock=Clock(T0)).latest_prices(["SPY", "QQQ", "SPY"])
    assert list(quotes) == ["SPY", "QQQ"]
    assert quotes["SPY"].price == 601.5 and quotes["SPY"].source == "http" and not quotes["SPY"].stale
    assert quotes["SPY"].as_of == T0 and quotes["SPY"].age_seconds == 0
    assert quotes["QQQ"].as_of == dt.datetime(2026, 11, 23, 14, 30, tzinfo=dt.UTC)
    assert quotes["QQQ"].age_seconds == 15
    assert quotes.unavailable == {}
    assert quotes.require() is quotes
    json.dumps(quotes["SPY"].to_dict())


def test_http_concurrency_never_exceeds_max_in_flight(server, price_store):
    symbols = [f"S{i:02d}" for i in range(40)]
    for i, symbol in enumerate(symbols):
        server.set(symbol, value={"price": 100.0 + i}, delay=0.05)
    provider = http_provider(server, price_store, max_in_flight=4)
    started = time.monotonic()
    quotes = provider.latest_prices(symbols)
    elapsed = time.monotonic() - started
    assert len(quotes) == 40 and quotes["S07"].price == 107.0
    assert 2 <= server.max_concurrent <= 4  # concurrent, and capped
    assert elapsed < 40 * 0.05 / 2  # far quicker than one at a time (2.0 s)


def test_http_concurrency_cap_is_shared_by_concurrent_callers(server, price_store):
    symbols = [f"C{i:02d}" for i in range(12)]
    for symbol in symbols:
        server.set(symbol, value={"price": 10.0}, delay=0.05)
    provider = http_provider(server, price_store, max_in_flight=3)
    results = []
    threads = [threading.Thread(target=lambda: results.append(provider.latest_prices(symbols))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(len(r) == 12 for r in results)
    assert server.max_concurrent <= 3
    assert sum(server.requests.values()) == 48


def test_slow_symbol_is_cut_off_after_timeout_times_attempts_and_others_still_return(server, price_store):
    server.set("FAST", value={"price": 1.0})
    server.set("SLOW", "slow", value={"price": 2.0}, delay=3.0)
    provider = http_provider(server, price_store, timeout_seconds=0.2, retries=2)
    started = time.monotonic()
    quotes = provider.latest_prices(["FAST", "SLOW"])
    elapsed = time.monotonic() - started
    assert quotes["FAST"].price == 1.0
    assert "SLOW" not in quotes and quotes.unavailable == {"SLOW": "timed out"}
    assert server.requests["SLOW"] == 3  # the first attempt and two retries
    assert 0.6 <= elapsed < 0.2 * 3 + 0.4, elapsed


def test_500_is_retried_until_it_succeeds(server, price_store):
    server.set("FLAKY", "fail-then-ok", value={"price": 42.0}, failures=2)
    quotes = http_provider(server, price_store, retries=2).latest_prices(["FLAKY"])
    assert quotes["FLAKY"].price == 42.0 and not quotes["FLAKY"].stale
    assert server.requests["FLAKY"] == 3


def test_500_after_every_retry_makes_the_symbol_unavailable(server, price_store):
    server.set("DOWN", "500")
    quotes = http_provider(server, price_store, retries=1).latest_prices(["DOWN"])
    assert quotes.unavailable == {"DOWN": "RuntimeError: HTTP 500"}
    assert server.requests["DOWN"] == 2


def test_bad_json_is_not_retried_and_names_the_symbol(server, price_store):
    server.set("GOOD", value={"price": 5.0})
    server.set("JUNK", "bad-json")
    server.set("NOPRICE", value={"last": 5.0})
    quotes = http_provider(server, price_store).latest_prices(["GOOD", "JUNK", "NOPRICE"])
    assert list(quotes) == ["GOOD"]
    assert set(quotes.unavailable) == {"JUNK", "NOPRICE"}
    assert "bad JSON" in quotes.unavailable["JUNK"] and "price" in quotes.unavailable["NOPRICE"]
    assert server.requests["JUNK"] == 1


def test_unreachable_server_fails_every_symbol_softly(price_store):
    provider = HttpPriceProvider("http://127.0.0.1:9/price/{symbol}", timeout_seconds=0.2, retries=1,
                                 backoff_seconds=0.01, last_good=price_store)
    quotes = provider.latest_prices(["SPY", "QQQ"])
    assert quotes == {} and set(quotes.unavailable) == {"SPY", "QQQ"}


# --------------------------------------------------------------------------- last good values


def test_last_good_value_is_served_stale_with_its_age_once_the_server_fails(server, price_store, redis_client):
    clock = Clock(T0)
    provider = http_provider(server, price_store, clock=clock, retries=0)
    server.set("SPY", value={"price": 600.0})
    assert provider.latest_prices(["SPY"])["SPY"].price == 600.0
    stored = json.loads(redis_client.get("tb:last-good:price:SPY"))
    assert stored["value"]["price"] == 600.0 and stored["at"] == T0.timestamp()

    server.set("SPY", "500")
    clock.advance(90)
    quote = provider.latest_prices(["SPY"])["SPY"]
    assert quote.stale and quote.price == 600.0 and quote.age_seconds == 90 and quote.as_of == T0

    server.set("SPY", "slow", delay=2.0)
    clock.advance(30)
    quote = HttpPriceProvider(server.base_url + "/price/{symbol}", timeout_seconds=0.2, retries=0, clock=clock,
                              last_good=price_store).latest_prices(["SPY"])["SPY"]
    assert quote.stale and quote.age_seconds == 120

    server.set("SPY", "ok", value={"price": 610.0})
    quote = provider.latest_prices(["SPY"])["SPY"]
    assert not quote.stale and quote.price == 610.0 and quote.age_seconds == 0


def test_symbol_with_no_good_value_ever_is_named_while_others_succeed(server, price_store):
    server.set("SPY", value={"price": 600.0})
    server.set("NEWCO", "500")
    quotes = http_provider(server, price_store, retries=0).latest_prices(["SPY", "NEWCO"])
    assert quotes["SPY"].price == 600.0
    assert list(quotes.unavailable) == ["NEWCO"]
    with pytest.raises(PriceUnavailable, match="NEWCO") as error:
        quotes.require()
    assert error.value.unavailable == {"NEWCO": "RuntimeError: HTTP 500"}
    assert error.value.available["SPY"].price == 600.0


def test_redis_down_means_no_stale_fallback_but_no_crash(server, dead_redis):
    store = LastGoodStore("price", client=dead_redis, retry_seconds=60)
    server.set("SPY", value={"price": 600.0})
    server.set("QQQ", "500")
    provider = http_provider(server, store, retries=0)
    started = time.monotonic()
    quotes = provider.latest_prices(["SPY", "QQQ"])
    again = provider.latest_prices(["SPY", "QQQ"])
    assert quotes["SPY"].price == 600.0 and list(quotes.unavailable) == ["QQQ"]
    assert again["SPY"].price == 600.0 and list(again.unavailable) == ["QQQ"]
    assert time.monotonic() - started < 1.5


@pytest.fixture
def restore_sections():
    """Put the process-wide section cache back as it was after the test configures it."""
    from data_access.cache import sections

    saved = dict(sections.__dict__)
    yield sections
    sections.__dict__.clear()
    sections.__dict__.update(saved)


def test_last_good_store_uses_the_section_cache_redis_by_default(server, redis_url, redis_client, restore_sections):
    restore_sections.configure(cache_type="RedisCache", redis_url=redis_url, ttl=Settings().ttl_tiers)
    server.set("SPY", value={"price": 600.0})
    HttpPriceProvider(server.base_url + "/price/{symbol}").latest_prices(["SPY"])
    assert redis_client.exists("tb:last-good:price:SPY")


def test_section_cache_redis_down_costs_no_redis_retries(server, dead_redis, restore_sections):
    port = dead_redis.connection_pool.connection_kwargs["port"]
    restore_sections.configure(cache_type="RedisCache", redis_url=f"redis://127.0.0.1:{port}/0", ttl=Settings().ttl_tiers)
    server.set("SPY", value={"price": 600.0})
    server.set("QQQ", "500")
    provider = HttpPriceProvider(server.base_url + "/price/{symbol}", retries=0)
    started = time.monotonic()
    quotes = provider.latest_prices(["SPY", "QQQ"])
    assert time.monotonic() - started < 1.0  # one refused connection, no retries with backoff
    assert quotes["SPY"].price == 600.0 and list(quotes.unavailable) == ["QQQ"]


# --------------------------------------------------------------------------- bars and simulated


def test_bars_provider_returns_each_latest_daily_close_in_one_statement(bars_db, redis_url):
    from data_access.cache import sections

    # stored closes are cached in the "bars" family: on this test's Redis, emptied (an earlier test
    # in this process may have left the cache on a Redis of its own, stopped since)
    sections.configure(cache_type="RedisCache", redis_url=redis_url, ttl=Settings().ttl_tiers)
    sections.redis.flushdb()
    provider = BarsPriceProvider(clock=Clock(T0))
    with StatementCounter(bars_db) as counter:
        quotes = provider.latest_prices(["SPY", "QQQ", "AAPL", "NOPE"])
    assert len(counter.statements) == 1
    assert {s: q.price for s, q in quotes.items()} == {s: closes[-1] for s, closes in CLOSES.items()}
    assert quotes["SPY"].as_of == dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    assert quotes["SPY"].source == "bars" and not quotes["SPY"].stale
    assert quotes["SPY"].age_seconds == (T0 - quotes["SPY"].as_of).total_seconds()
    assert quotes.unavailable == {"NOPE": "no stored daily bars"}


def test_bars_provider_with_no_symbols_runs_no_sql(sqlite_bars):
    with StatementCounter(sqlite_bars) as counter:
        assert BarsPriceProvider().latest_prices([]) == {}
    assert counter.statements == []


def test_simulated_prices_agree_within_a_minute_and_move_across_minutes(sqlite_bars):
    clock = Clock(T0)
    provider = SimulatedPriceProvider(clock=clock)
    first = provider.latest_prices(["SPY", "QQQ"])
    clock.advance(40)  # 14:30:55, same minute
    same = SimulatedPriceProvider(clock=clock).latest_prices(["SPY", "QQQ"])  # another instance, as another process
    assert {s: q.price for s, q in first.items()} == {s: q.price for s, q in same.items()}
    assert first["SPY"].as_of == dt.datetime(2026, 11, 23, 14, 30, tzinfo=dt.UTC)
    assert first["SPY"].source == "simulated"

    clock.advance(10)  # 14:31:05
    moved = provider.latest_prices(["SPY", "QQQ"])
    assert moved["SPY"].price != first["SPY"].price and moved["QQQ"].price != first["QQQ"].price
    # a random walk near the close, not a jump to anywhere
    for symbol in ("SPY", "QQQ"):
        assert abs(moved[symbol].price / CLOSES[symbol][-1] - 1) < 0.1


def test_simulated_walk_steps_are_small_from_one_minute_to_the_next():
    minute = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
    path = [SimulatedPriceProvider.walk("SPY", 600.0, minute + dt.timedelta(minutes=m)) for m in range(120)]
    moves = [abs(b / a - 1) for a, b in zip(path, path[1:])]
    assert max(moves) < 0.005 and len(set(path)) > 100


def test_simulated_symbol_without_bars_is_unavailable(sqlite_bars):
    quotes = SimulatedPriceProvider(clock=Clock(T0)).latest_prices(["SPY", "NOPE"])
    assert "SPY" in quotes and "NOPE" in quotes.unavailable


def test_database_failure_makes_every_symbol_unavailable_not_an_exception(sqlite_url):
    from data_access.db import configure_database

    engine = configure_database(sqlite_url)  # no tables: the query fails
    try:
        quotes = BarsPriceProvider().latest_prices(["SPY"])
        assert quotes == {} and "OperationalError" in quotes.unavailable["SPY"]
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- choosing a provider


def test_make_price_provider_picks_the_configured_provider():
    assert isinstance(make_price_provider(Settings()), BarsPriceProvider)
    assert isinstance(make_price_provider(Settings(PRICE_PROVIDER="simulated")), SimulatedPriceProvider)
    provider = make_price_provider(Settings(PRICE_PROVIDER="http", PRICE_HTTP_URL_TEMPLATE="http://h/p/{symbol}",
                                            PRICE_HTTP_TIMEOUT_SECONDS=0.7, PRICE_HTTP_MAX_IN_FLIGHT=3,
                                            PRICE_HTTP_RETRIES=1))
    assert isinstance(provider, HttpPriceProvider)
    assert (provider.fetcher.timeout_seconds, provider.fetcher.max_in_flight, provider.fetcher.retries) == (0.7, 3, 1)


def test_make_price_provider_rejects_unknown_names_listing_the_valid_ones():
    with pytest.raises(ValueError, match="unknown PRICE_PROVIDER 'bloomberg'; valid providers: bars, simulated, http"):
        make_price_provider(Settings(PRICE_PROVIDER="bloomberg"))


def test_http_provider_needs_a_url_template_with_a_symbol_placeholder():
    with pytest.raises(ValueError, match="PRICE_HTTP_URL_TEMPLATE"):
        make_price_provider(Settings(PRICE_PROVIDER="http"))
    with pytest.raises(ValueError, match="symbol"):
        HttpPriceProvider("http://h/price")


def test_symbols_are_url_quoted(server, price_store):
    server.set("BRK/B", value={"price": 470.0})
    assert http_provider(server, price_store).latest_prices(["BRK/B"])["BRK/B"].price == 470.0


# --------------------------------------------------------------------------- one quote per symbol per build


def test_within_a_build_each_symbol_is_asked_for_once_even_by_sections_running_at_once(server, price_store):
    server.set("AAPL", "ok", {"price": 101.0}, delay=0.4)
    server.set("MSFT", "ok", {"price": 202.0}, delay=0.4)
    provider = http_provider(server, price_store)
    got = {}
    with one_quote_per_symbol():
        context = contextvars.copy_context()

        def section(name, symbols):
            got[name] = context.copy().run(provider.latest_prices, symbols)

        first = threading.Thread(target=section, args=("open", ["AAPL"]))
        started = time.perf_counter()
        first.start()
        time.sleep(0.1)  # the second section asks while AAPL's lookup is under way
        second = threading.Thread(target=section, args=("exits", ["AAPL", "MSFT"]))
        second.start()
        first.join()
        second.join()
        took = time.perf_counter() - started
        assert provider.latest_prices(["MSFT"])["MSFT"].price == 202.0  # a later section reuses it
    assert server.requests == {"AAPL": 1, "MSFT": 1}
    assert got["open"]["AAPL"] is got["exits"]["AAPL"] and got["exits"]["MSFT"].price == 202.0
    assert took < 0.75, "MSFT was looked up meanwhile, not after AAPL's lookup"
    # after the build (a background refresh runs in a copy of its context), prices are asked for anew
    context.run(provider.latest_prices, ["AAPL"])
    assert server.requests["AAPL"] == 2


def test_a_symbol_without_a_price_is_asked_for_once_per_build_and_named_every_time(server, price_store):
    server.set("GOOD", "ok", {"price": 5.0})
    server.set("BAD", "500")
    provider = http_provider(server, price_store, retries=0)
    with one_quote_per_symbol():
        first = provider.latest_prices(["GOOD", "BAD"])
        again = provider.latest_prices(["BAD"])
    assert server.requests == {"GOOD": 1, "BAD": 1}
    assert "BAD" in first.unavailable and "BAD" in again.unavailable and "BAD" not in again
    with pytest.raises(PriceUnavailable, match="BAD"):
        again.require()
