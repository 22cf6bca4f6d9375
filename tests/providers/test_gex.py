"""GEX providers: the simulated one around stored closes, the HTTP one against a real local server."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from app.config import Settings
from data_access.gex import (
    GexUnavailable, HttpGexProvider, SimulatedGexProvider, make_gex_provider, strike_step,
)
from tests.providers.conftest import CLOSES, Clock, StatementCounter

T0 = dt.datetime(2026, 11, 23, 14, 31, 10, tzinfo=dt.UTC)
SPY_GEX = {"gamma_exposure": 4.2e9, "call_wall": 610.0, "put_wall": 590.0}


def values(quote) -> tuple:
    return quote.gamma_exposure, quote.call_wall, quote.put_wall, quote.as_of


def http_provider(server, store, **kwargs) -> HttpGexProvider:
    kwargs.setdefault("timeout_seconds", 0.5)
    kwargs.setdefault("retries", 2)
    kwargs.setdefault("backoff_seconds", 0.01)
    return HttpGexProvider(server.base_url + "/gex/{symbol}", last_good=store, **kwargs)


# --------------------------------------------------------------------------- simulated


def test_simulated_gex_is_fixed_within_a_bucket_and_changes_across_buckets(sqlite_bars):
    clock = Clock(T0)  # bucket 14:30:00-14:35:00
    first = SimulatedGexProvider(clock=clock).gex(["SPY", "QQQ"])
    assert first["SPY"].as_of == dt.datetime(2026, 11, 23, 14, 30, tzinfo=dt.UTC)
    assert first["SPY"].source == "simulated" and not first["SPY"].stale
    assert first["SPY"].age_seconds == 70
    clock.advance(200)  # 14:34:30, same bucket; another instance, as in another process
    same = SimulatedGexProvider(clock=clock).gex(["SPY", "QQQ"])
    assert {s: values(q) for s, q in same.items()} == {s: values(q) for s, q in first.items()}
    assert same["SPY"].age_seconds == 270
    clock.advance(60)  # 14:35:30, the next bucket
    later = SimulatedGexProvider(clock=clock).gex(["SPY", "QQQ"])
    assert later["SPY"].gamma_exposure != first["SPY"].gamma_exposure
    assert later["QQQ"].gamma_exposure != first["QQQ"].gamma_exposure


def test_simulated_walls_straddle_the_latest_close_on_the_strike_grid(sqlite_bars):
    with StatementCounter(sqlite_bars) as counter:
        quotes = SimulatedGexProvider(clock=Clock(T0)).gex(["SPY", "QQQ", "AAPL"])
    assert len(counter.statements) == 1
    for symbol, quote in quotes.items():
        close = CLOSES[symbol][-1]
        assert close < quote.call_wall <= close * 1.07 + strike_step(close)
        assert close * 0.93 - strike_step(close) <= quote.put_wall < close
        assert quote.call_wall % strike_step(close) == 0 and quote.put_wall % strike_step(close) == 0


@pytest.mark.parametrize("price", [3.7, 24.99, 25.0, 101.0, 601.25, 999.0, 1850.0, 5900.0])
def test_simulated_values_are_plausible_over_many_buckets(price):
    gammas = []
    for bucket in range(300):
        values = SimulatedGexProvider.simulate("X", price, bucket)
        assert values["put_wall"] < price < values["call_wall"]
        assert values["put_wall"] > 0
        gammas.append(values["gamma_exposure"])
    assert min(gammas) < 0 < max(gammas)  # dealers are sometimes short gamma
    assert sum(g > 0 for g in gammas) > 150  # but mostly long


def test_simulated_symbol_without_bars_is_named(sqlite_bars):
    quotes = SimulatedGexProvider(clock=Clock(T0)).gex(["SPY", "ZZZ"])
    assert "SPY" in quotes
    with pytest.raises(GexUnavailable, match="no GEX for ZZZ"):
        quotes.require()


# --------------------------------------------------------------------------- HTTP


def test_http_gex_returns_the_three_fields(server, gex_store):
    server.set("SPY", value=SPY_GEX)
    quotes = http_provider(server, gex_store, clock=Clock(T0)).gex(["SPY"])
    quote = quotes["SPY"]
    assert (quote.gamma_exposure, quote.call_wall, quote.put_wall) == (4.2e9, 610.0, 590.0)
    assert quote.as_of == T0 and not quote.stale and quote.source == "http"
    assert json.loads(json.dumps(quote.to_dict()))["call_wall"] == 610.0


def test_http_gex_missing_field_is_a_failure_not_a_zero(server, gex_store):
    server.set("SPY", value={"gamma_exposure": 1.0, "call_wall": 610.0})
    quotes = http_provider(server, gex_store).gex(["SPY"])
    assert "put_wall" in quotes.unavailable["SPY"]


def test_http_gex_falls_back_to_the_last_good_value_with_its_age(server, gex_store, redis_client):
    clock = Clock(T0)
    provider = http_provider(server, gex_store, clock=clock, retries=0)
    server.set("SPY", value=SPY_GEX)
    server.set("QQQ", "500")
    first = provider.gex(["SPY", "QQQ"])
    assert "SPY" in first and list(first.unavailable) == ["QQQ"]
    assert redis_client.exists("tb:last-good:gex:SPY") and not redis_client.exists("tb:last-good:gex:QQQ")

    server.set("SPY", "bad-json")
    clock.advance(300)
    later = provider.gex(["SPY", "QQQ"])
    assert later["SPY"].stale and later["SPY"].age_seconds == 300 and later["SPY"].call_wall == 610.0
    assert later["SPY"].as_of == T0
    with pytest.raises(GexUnavailable, match="QQQ") as error:
        later.require()
    assert list(error.value.available) == ["SPY"]


def test_http_gex_retries_and_times_out_like_prices(server, gex_store):
    server.set("SPY", "fail-then-ok", value=SPY_GEX, failures=1)
    server.set("QQQ", "slow", value=SPY_GEX, delay=3.0)
    provider = http_provider(server, gex_store, timeout_seconds=0.2, retries=1, max_in_flight=2)
    started = time.monotonic()
    quotes = provider.gex(["SPY", "QQQ"])
    assert time.monotonic() - started < 0.2 * 2 + 0.4
    assert quotes["SPY"].put_wall == 590.0 and server.requests["SPY"] == 2
    assert quotes.unavailable == {"QQQ": "timed out"} and server.requests["QQQ"] == 2


def test_http_gex_redis_down_still_returns_fresh_values(server, dead_redis):
    from data_access.prices import LastGoodStore

    server.set("SPY", value=SPY_GEX)
    server.set("QQQ", "500")
    quotes = http_provider(server, LastGoodStore("gex", client=dead_redis), retries=0).gex(["SPY", "QQQ"])
    assert quotes["SPY"].gamma_exposure == 4.2e9 and list(quotes.unavailable) == ["QQQ"]


# --------------------------------------------------------------------------- choosing a provider


def test_make_gex_provider_picks_the_configured_provider():
    assert isinstance(make_gex_provider(Settings()), SimulatedGexProvider)
    provider = make_gex_provider(Settings(GEX_PROVIDER="http", GEX_HTTP_URL_TEMPLATE="http://h/gex/{symbol}",
                                          GEX_HTTP_MAX_IN_FLIGHT=2))
    assert isinstance(provider, HttpGexProvider) and provider.fetcher.max_in_flight == 2
    assert Settings().gex_symbols == ["SPY", "QQQ"]
    assert Settings(GEX_SYMBOLS=" spy, iwm ,").gex_symbols == ["SPY", "IWM"]


def test_make_gex_provider_rejects_unknown_names_listing_the_valid_ones():
    with pytest.raises(ValueError, match="unknown GEX_PROVIDER 'squeezemetrics'; valid providers: simulated, http"):
        make_gex_provider(Settings(GEX_PROVIDER="squeezemetrics"))
    with pytest.raises(ValueError, match="GEX_HTTP_URL_TEMPLATE"):
        make_gex_provider(Settings(GEX_PROVIDER="http"))
