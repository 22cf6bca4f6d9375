"""Latest prices per symbol, from one of three providers, with a last-good fallback in Redis.

``provider.latest_prices(symbols) -> Quotes`` (a ``dict[str, Quote]``). Providers:

- ``BarsPriceProvider``: each symbol's latest stored daily close, in one SQL statement.
- ``SimulatedPriceProvider``: a deterministic random walk away from the latest stored close. The
  walk restarts at each UTC midnight and takes one step per minute, seeded by symbol and day, so
  every call (in any process) within one minute agrees and the price moves from minute to minute.
- ``HttpPriceProvider``: ``GET`` a URL template (``http://host/price/{symbol}`` -> ``{"price": 1.5}``)
  for every symbol concurrently, with at most ``max_in_flight`` requests open, a per-request
  timeout and retries with short backoff (``HttpFetcher``: a urllib3 connection pool, which is
  thread-safe, and a semaphore).

Fail-soft (external providers): every good value is kept in Redis as
``tb:last-good:price:<symbol>`` with the time it was fetched. When a symbol fails (timeout, 5xx,
bad JSON, connection refused) its last good value is served with ``stale=True`` and its
``age_seconds``. A symbol with no good value ever is left out of the result and named in
``Quotes.unavailable`` (symbol -> reason); ``Quotes.require()`` raises ``PriceUnavailable`` naming
them. Other symbols are unaffected. With Redis down there is no stale fallback, but no error either.

The fail-soft machinery (``FailSoftProvider``, ``HttpFetcher``, ``LastGoodStore``) lives in
``data_access.providers``, shared with ``data_access.gex``; its names are importable from here too.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import math
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sqlalchemy import and_, func, select

from data_access.build_scope import for_this_build
from data_access.cache import cached_section, not_reported
from data_access.db import current_engine
from data_access.models import Bar
from data_access.providers import (
    Clock,
    FailSoftProvider,
    HttpFetcher,
    LastGoodStore,
    Results,
    Unavailable,
    aware,
    parse_time,
    seed,
    unique,
    utc_now,
)


@dataclass(frozen=True)
class Quote:
    symbol: str
    price: float
    as_of: dt.datetime  # when the price was observed (a bar's time, or when it was fetched)
    source: str  # "bars", "simulated", "http"
    stale: bool = False  # the provider failed; this is the last good value
    age_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "as_of": self.as_of.isoformat()}


class PriceUnavailable(Unavailable):
    what = "price"


class Quotes(Results):
    error_type = PriceUnavailable


class PriceProvider(FailSoftProvider):
    """``latest_prices(symbols) -> Quotes``; ``_fetch`` gives ``symbol -> ({"price": p}, as_of)``.

    Inside ``one_quote_per_symbol()`` (every dashboard build) a symbol is looked up once: later
    calls get the same quote (or the same reason it has none)."""

    kind = "price"
    fields = ("price",)
    result_type = Quotes
    value_type = Quote

    def latest_prices(self, symbols: Iterable[str]) -> Quotes:
        memo = _quote_memo.get()
        if memo is not None and memo.open:
            return memo.latest_prices(self, symbols)
        return self.lookup(symbols)  # type: ignore[return-value]


class QuoteMemo:
    """The quotes of one dashboard build, per provider and symbol.

    A document marks positions in several sections (the overview, open positions, shadow
    positions, exit signals), often of the same symbols. Each section asking the provider itself
    cost a lookup per section (about a tenth of a warm paper-trading build) and, with a live
    provider, could mark one symbol at two prices in one document. With the memo the first section
    to need a symbol looks it up; a section that needs it while that lookup runs waits for it,
    and the others reuse it. Sections running in parallel still look up the symbols nobody has
    asked for yet at the same time, so a hanging provider costs a build one timeout, not one per
    section."""

    WAIT_SECONDS = 60.0  # longer than any provider's own deadline; past it a section looks up alone

    def __init__(self) -> None:
        # False once the build is over: a stale section refreshed later in the background (in a copy of
        # the build's context) looks its prices up anew instead of reusing the build's
        self.open = True
        self._lock = threading.Lock()
        self._pending: dict[tuple[PriceProvider, str], Future] = {}

    def latest_prices(self, provider: PriceProvider, symbols: Iterable[str]) -> Quotes:
        wanted = unique(symbols)
        mine: list[str] = []
        answers: dict[str, Future] = {}
        with self._lock:
            for symbol in wanted:
                answer = self._pending.get((provider, symbol))
                if answer is None:
                    answer = self._pending[(provider, symbol)] = Future()
                    mine.append(symbol)
                answers[symbol] = answer
        if mine:
            self._look_up(provider, mine, answers)
        quotes: dict[str, Quote] = {}
        unavailable: dict[str, str] = {}
        for symbol in wanted:
            try:
                quote, reason = answers[symbol].result(timeout=self.WAIT_SECONDS)
            except FuturesTimeout:
                alone = provider.lookup([symbol])
                quote, reason = alone.get(symbol), alone.unavailable.get(symbol, "no value")
            if quote is not None:
                quotes[symbol] = quote
            else:
                unavailable[symbol] = reason
        return Quotes(quotes, unavailable)

    def _look_up(self, provider: PriceProvider, symbols: list[str], answers: dict[str, Future]) -> None:
        try:
            found = provider.lookup(symbols)
        except BaseException as exc:
            with self._lock:  # not remembered: a later section of the build asks again
                for symbol in symbols:
                    del self._pending[(provider, symbol)]
            for symbol in symbols:
                answers[symbol].set_exception(exc)
            raise
        for symbol in symbols:
            answers[symbol].set_result((found.get(symbol), found.unavailable.get(symbol, "no value")))


_quote_memo: contextvars.ContextVar[QuoteMemo | None] = contextvars.ContextVar("quote_memo", default=None)


def one_quote_per_symbol() -> contextlib.AbstractContextManager[QuoteMemo]:
    """Within the block (and the threads it hands its context to), each symbol is priced once."""
    return for_this_build(_quote_memo, QuoteMemo())


def latest_closes(symbols: list[str], timeframe: str = "1d") -> dict[str, tuple[float, dt.datetime]]:
    """``symbol -> (close, time)`` of each symbol's latest stored bar: one SQL statement, cached in
    the "bars" family (stored closes change only when bars are written, and writers bump it), so a
    warm dashboard marks its positions without touching the database."""
    if not symbols:
        return {}
    with not_reported():
        cached = _latest_closes(tuple(sorted(set(symbols))), timeframe)
    return {symbol: (close, dt.datetime.fromisoformat(time_)) for symbol, (close, time_) in cached.items()}


@cached_section(("bars",), "short", name="latest_closes")
def _latest_closes(symbols: tuple[str, ...], timeframe: str) -> dict[str, tuple[float, str]]:
    latest = (
        select(Bar.symbol.label("symbol"), func.max(Bar.time).label("time"))
        .where(Bar.timeframe == timeframe, Bar.symbol.in_(symbols))
        .group_by(Bar.symbol)
        .subquery()
    )
    query = select(Bar.symbol, Bar.close, Bar.time).join(
        latest, and_(Bar.symbol == latest.c.symbol, Bar.time == latest.c.time, Bar.timeframe == timeframe)
    )
    with current_engine().connect() as conn:
        rows = conn.execute(query).all()
    return {symbol: (float(close), time_.isoformat()) for symbol, close, time_ in rows}


class BarsPriceProvider(PriceProvider):
    """Each symbol's latest stored daily close (``as_of`` is the bar's time)."""

    name = "bars"

    def _fetch(self, symbols: list[str]):
        closes = latest_closes(symbols)
        found = {s: ({"price": close}, time_) for s, (close, time_) in closes.items()}
        return found, {s: "no stored daily bars" for s in symbols if s not in closes}


class SimulatedPriceProvider(PriceProvider):
    """A random walk away from the latest stored close, one step a minute, restarting each UTC day.

    The value at a minute depends only on (symbol, day, minute of the day, the close): the same in
    every process and every call within that minute, different from one minute to the next.
    """

    name = "simulated"
    STEP_VOLATILITY = 0.0006  # per minute: about 1.5 % a day

    def _fetch(self, symbols: list[str]):
        now = aware(self.clock())
        minute = now.replace(second=0, microsecond=0)
        closes = latest_closes(symbols)
        found = {s: ({"price": self.walk(s, close, minute)}, minute) for s, (close, _time) in closes.items()}
        return found, {s: "no stored daily bars to start from" for s in symbols if s not in closes}

    @classmethod
    def walk(cls, symbol: str, start: float, minute: dt.datetime) -> float:
        steps_today = minute.hour * 60 + minute.minute + 1
        rng = np.random.default_rng(seed("price-walk", symbol, minute.date().isoformat(), repr(float(start))))
        steps = rng.normal(0.0, cls.STEP_VOLATILITY, 24 * 60)[:steps_today]
        return round(float(start * math.exp(float(steps.sum()))), 4)


class HttpPriceProvider(PriceProvider):
    """``GET url_template`` per symbol -> ``{"price": number}`` (optionally ``"as_of"``, ISO time)."""

    name = "http"
    remember = True

    def __init__(self, url_template: str, *, timeout_seconds: float = 2.0, max_in_flight: int = 8, retries: int = 2,
                 backoff_seconds: float = 0.05, clock: Clock = utc_now, last_good: LastGoodStore | None = None) -> None:
        super().__init__(clock=clock, last_good=last_good)
        self.fetcher = HttpFetcher(url_template, timeout_seconds=timeout_seconds, max_in_flight=max_in_flight,
                                   retries=retries, backoff_seconds=backoff_seconds)

    def _parse(self, symbol: str, body: Any) -> tuple[dict[str, float], dt.datetime]:
        if not isinstance(body, dict) or "price" not in body:
            raise ValueError("bad JSON: no 'price' field")
        price = body["price"]
        if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price) or price <= 0:
            raise ValueError(f"bad price {price!r}")
        return {"price": float(price)}, parse_time(body.get("as_of")) or self.clock()

    def _fetch(self, symbols: list[str]):
        return self.fetcher.get_many(symbols, self._parse)


PRICE_PROVIDERS = ("bars", "simulated", "http")


def make_price_provider(settings: Any, *, clock: Clock = utc_now, last_good: LastGoodStore | None = None) -> PriceProvider:
    """The provider named by ``settings.PRICE_PROVIDER`` (``bars``, ``simulated`` or ``http``)."""
    name = (settings.PRICE_PROVIDER or "").strip().lower()
    if name == "bars":
        return BarsPriceProvider(clock=clock, last_good=last_good)
    if name == "simulated":
        return SimulatedPriceProvider(clock=clock, last_good=last_good)
    if name == "http":
        if not settings.PRICE_HTTP_URL_TEMPLATE:
            raise ValueError("PRICE_PROVIDER=http needs PRICE_HTTP_URL_TEMPLATE (e.g. http://host/price/{symbol})")
        return HttpPriceProvider(
            settings.PRICE_HTTP_URL_TEMPLATE, timeout_seconds=settings.PRICE_HTTP_TIMEOUT_SECONDS,
            max_in_flight=settings.PRICE_HTTP_MAX_IN_FLIGHT, retries=settings.PRICE_HTTP_RETRIES,
            clock=clock, last_good=last_good,
        )
    raise ValueError(f"unknown PRICE_PROVIDER {settings.PRICE_PROVIDER!r}; valid providers: {', '.join(PRICE_PROVIDERS)}")
