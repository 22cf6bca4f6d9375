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

The HTTP machinery (``HttpFetcher``) and the last-good store (``LastGoodStore``) are shared with
``data_access.gex``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote as url_quote

import numpy as np
import redis
import urllib3
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import and_, func, select

from data_access.build_scope import for_this_build
from data_access.cache import KEY_PREFIX, cached_section, not_reported, sections
from data_access.db import current_engine
from data_access.models import Bar

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
LAST_GOOD_TTL_SECONDS = 7 * 24 * 3600  # a last-good value older than a week is forgotten


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def unique(symbols: Iterable[str]) -> list[str]:
    """The symbols in order, without duplicates or blanks."""
    return list(dict.fromkeys(s for s in symbols if s))


# --------------------------------------------------------------------------- results


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


class Unavailable(RuntimeError):
    """Some symbols have no value: the provider failed for them and no good value was ever stored."""

    what = "value"

    def __init__(self, unavailable: dict[str, str], available: dict[str, Any] | None = None) -> None:
        self.unavailable = dict(unavailable)
        self.available = dict(available or {})
        reasons = "; ".join(f"{symbol}: {reason}" for symbol, reason in self.unavailable.items())
        super().__init__(f"no {self.what} for {', '.join(self.unavailable)} ({reasons})")


class PriceUnavailable(Unavailable):
    what = "price"


class Results(dict):
    """``symbol -> value`` for the symbols that have one; ``unavailable`` maps the others to a reason."""

    error_type: type[Unavailable] = Unavailable

    def __init__(self, values: dict[str, Any] | None = None, unavailable: dict[str, str] | None = None) -> None:
        super().__init__(values or {})
        self.unavailable: dict[str, str] = dict(unavailable or {})

    @property
    def stale_symbols(self) -> list[str]:
        return [symbol for symbol, value in self.items() if value.stale]

    def require(self) -> Results:
        """Self, or ``error_type`` (naming every unavailable symbol, carrying the rest) if any is missing."""
        if self.unavailable:
            raise self.error_type(self.unavailable, dict(self))
        return self


class Quotes(Results):
    error_type = PriceUnavailable


# --------------------------------------------------------------------------- last good values in Redis


class LastGoodStore:
    """The last good value per (kind, symbol) in Redis: ``tb:last-good:<kind>:<symbol>``.

    Every Redis error is swallowed (logged once per outage) and Redis is left alone for
    ``retry_seconds`` afterwards, so an outage costs one failed round trip, not one per call.
    ``client`` is a Redis client, or None for the section cache's (when it has one).
    """

    def __init__(self, kind: str, client: redis.Redis | None = None, retry_seconds: float = 2.0,
                 ttl_seconds: int = LAST_GOOD_TTL_SECONDS) -> None:
        self.kind = kind
        self._client = client
        self.retry_seconds = retry_seconds
        self.ttl_seconds = ttl_seconds
        self._down_until = 0.0
        self._down = False
        self._derived: tuple[redis.Redis, redis.Redis] | None = None

    def key(self, symbol: str) -> str:
        return f"{KEY_PREFIX}last-good:{self.kind}:{symbol}"

    def _redis(self) -> redis.Redis | None:
        if time.monotonic() < self._down_until:
            return None
        if self._client is not None:
            return self._client
        if not sections.enabled:
            return None
        shared = sections.redis
        if self._derived is None or self._derived[0] is not shared:
            self._derived = (shared, _without_retries(shared))
        return self._derived[1]

    def _failed(self, exc: Exception) -> None:
        self._down_until = time.monotonic() + self.retry_seconds
        if not self._down:
            self._down = True
            log.warning("last-good %s values unavailable (Redis): %s: %s", self.kind, type(exc).__name__, exc)

    def save(self, values: dict[str, dict[str, Any]], at: dt.datetime) -> None:
        """Remember ``symbol -> JSON-ready value`` as good at ``at``."""
        client = self._redis()
        if client is None or not values:
            return
        stamp = _aware(at).timestamp()
        try:
            pipe = client.pipeline(transaction=False)
            for symbol, value in values.items():
                pipe.set(self.key(symbol), json.dumps({"value": value, "at": stamp}), ex=self.ttl_seconds)
            pipe.execute()
            self._down = False
        except redis.RedisError as exc:
            self._failed(exc)

    def load(self, symbols: list[str]) -> dict[str, tuple[dict[str, Any], dt.datetime]]:
        """``symbol -> (value, saved at)`` for the symbols that have a last good value."""
        client = self._redis()
        if client is None or not symbols:
            return {}
        try:
            raw = client.mget([self.key(s) for s in symbols])
            self._down = False
        except redis.RedisError as exc:
            self._failed(exc)
            return {}
        found = {}
        for symbol, item in zip(symbols, raw):
            if item is None:
                continue
            try:
                entry = json.loads(item)
                found[symbol] = (entry["value"], dt.datetime.fromtimestamp(float(entry["at"]), dt.UTC))
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed last-good %s value for %s", self.kind, symbol)
        return found


def _without_retries(client: redis.Redis) -> redis.Redis:
    """A client for the same server that fails at once, whatever the shared client's retry policy
    (a ``redis.Redis(host=...)`` built with redis-py 8's defaults retries a refused connection with
    backoff for about 4 s, too long for a fallback on the request path)."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))


# --------------------------------------------------------------------------- concurrent HTTP GETs


class HttpFetcher:
    """JSON ``GET``s of ``url_template.format(symbol=...)`` for many symbols at once.

    At most ``max_in_flight`` requests are open at any moment (a semaphore shared by every call on
    this fetcher, so concurrent callers share the cap too, and a connection pool of that size).
    Each attempt has ``timeout_seconds`` to connect and for each read; timeouts, connection errors
    and 5xx answers are retried ``retries`` times with backoff ``backoff_seconds`` x 1, 2, 4...
    A call never takes much longer than ``timeout x (retries + 1)`` plus the backoff: symbols still
    running then are reported as timed out.
    """

    RETRY_STATUSES = frozenset({500, 502, 503, 504})

    def __init__(self, url_template: str, *, timeout_seconds: float = 2.0, max_in_flight: int = 8,
                 retries: int = 2, backoff_seconds: float = 0.05) -> None:
        if "{symbol}" not in url_template:
            raise ValueError(f"the URL template must contain {{symbol}}, got {url_template!r}")
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds}")
        self.url_template = url_template
        self.timeout_seconds = float(timeout_seconds)
        self.max_in_flight = int(max_in_flight)
        self.retries = max(0, int(retries))
        self.backoff_seconds = backoff_seconds
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        self._pool = urllib3.PoolManager(
            num_pools=4, maxsize=self.max_in_flight, block=False,
            timeout=urllib3.Timeout(connect=self.timeout_seconds, read=self.timeout_seconds),
        )

    def url(self, symbol: str) -> str:
        return self.url_template.format(symbol=url_quote(symbol, safe=""))

    @property
    def budget_seconds(self) -> float:
        """The longest one symbol may take: every attempt timing out, plus the backoff between them."""
        backoff = sum(self._backoff(n) for n in range(1, self.retries + 1))
        return self.timeout_seconds * (self.retries + 1) + backoff

    def _backoff(self, retry_number: int) -> float:
        return self.backoff_seconds * (2 ** (retry_number - 1))

    def get_one(self, symbol: str) -> Any:
        """The decoded JSON body for ``symbol``; raises on failure after the retries."""
        last_error: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self._backoff(attempt))
            try:
                with self._slots:
                    response = self._pool.request("GET", self.url(symbol), retries=False, preload_content=True,
                                                  headers={"Accept": "application/json"})
            except urllib3.exceptions.HTTPError as exc:  # timeouts, refused connections, protocol errors
                last_error = exc
                continue
            if response.status in self.RETRY_STATUSES:
                last_error = RuntimeError(f"HTTP {response.status}")
                continue
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
            try:
                return json.loads(response.data)
            except ValueError as exc:
                raise ValueError(f"bad JSON: {exc}") from None
        raise last_error or RuntimeError("no attempt made")

    def get_many(self, symbols: list[str], parse: Callable[[str, Any], Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """``(symbol -> parse(symbol, body), symbol -> failure reason)`` for every symbol."""
        if not symbols:
            return {}, {}
        values: dict[str, Any] = {}
        failures: dict[str, str] = {}

        def one(symbol: str) -> Any:
            return parse(symbol, self.get_one(symbol))

        executor = ThreadPoolExecutor(max_workers=min(self.max_in_flight, len(symbols)),
                                      thread_name_prefix="tb-http")
        try:
            futures = {executor.submit(one, symbol): symbol for symbol in symbols}
            # Symbols queue behind the cap, so the deadline grows with the number of "waves".
            waves = math.ceil(len(symbols) / self.max_in_flight)
            done, pending = wait(futures, timeout=self.budget_seconds * waves + 0.5)
            for future in done:
                symbol = futures[future]
                try:
                    values[symbol] = future.result()
                except Exception as exc:  # noqa: BLE001 - any failure of one symbol is that symbol's
                    failures[symbol] = _reason(exc)
            for future in pending:
                future.cancel()
                failures[futures[future]] = "timed out"
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        return values, failures


def _reason(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError) or "timed out" in text.lower():
        return "timed out"
    return f"{type(exc).__name__}: {text}"[:200]


# --------------------------------------------------------------------------- providers


class FailSoftProvider:
    """Values per symbol from ``_fetch``, with the last-good fallback. Subclasses set ``kind``,
    ``fields``, ``result_type``, ``value_type`` and implement ``_fetch``.

    ``_fetch(symbols)`` returns ``(symbol -> (fields dict, as_of), symbol -> failure reason)``; if it
    raises, every symbol fails with that reason. Providers with ``remember = True`` keep their good
    values in Redis and fall back to them (``stale=True``) for failed symbols.
    """

    kind = "value"
    name = "base"
    remember = False
    fields: tuple[str, ...] = ()
    result_type: type[Results] = Results
    value_type: type = object

    def __init__(self, *, clock: Clock = utc_now, last_good: LastGoodStore | None = None) -> None:
        self.clock = clock
        self.last_good = last_good if last_good is not None else LastGoodStore(self.kind)

    def _fetch(self, symbols: list[str]) -> tuple[dict[str, tuple[dict[str, float], dt.datetime]], dict[str, str]]:
        raise NotImplementedError

    def _value(self, symbol: str, values: dict[str, Any], as_of: dt.datetime, now: dt.datetime, *, stale: bool,
               age_from: dt.datetime) -> Any:
        numbers = {name: float(values[name]) for name in self.fields}
        return self.value_type(symbol=symbol, **numbers, as_of=_aware(as_of), source=self.name, stale=stale,
                               age_seconds=max(0.0, (now - _aware(age_from)).total_seconds()))

    def lookup(self, symbols: Iterable[str]) -> Results:
        wanted = unique(symbols)
        if not wanted:
            return self.result_type()
        try:
            found, failures = self._fetch(wanted)
        except Exception as exc:  # noqa: BLE001 - fail soft: the whole batch failed
            log.warning("%s %s failed for %s: %s", self.name, self.kind, ", ".join(wanted), exc)
            found, failures = {}, {symbol: _reason(exc) for symbol in wanted}
        now = self.clock()
        results: dict[str, Any] = {}
        for symbol in wanted:
            if symbol in found:
                values, as_of = found[symbol]
                results[symbol] = self._value(symbol, values, as_of, now, stale=False, age_from=as_of)
            elif symbol not in failures:
                failures[symbol] = "no value"
        if self.remember:
            self.last_good.save({s: {**{f: getattr(v, f) for f in self.fields}, "as_of": v.as_of.isoformat()}
                                 for s, v in results.items()}, now)
            if failures:
                for symbol, (stored, saved_at) in self.last_good.load(list(failures)).items():
                    try:
                        as_of = dt.datetime.fromisoformat(stored.get("as_of") or saved_at.isoformat())
                        results[symbol] = self._value(symbol, stored, as_of, now, stale=True, age_from=saved_at)
                    except (KeyError, TypeError, ValueError, AttributeError):
                        continue  # a malformed stored value is no fallback
                    del failures[symbol]
        ordered = {symbol: results[symbol] for symbol in wanted if symbol in results}
        return self.result_type(ordered, {symbol: failures[symbol] for symbol in wanted if symbol in failures})


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


def _seed(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


class SimulatedPriceProvider(PriceProvider):
    """A random walk away from the latest stored close, one step a minute, restarting each UTC day.

    The value at a minute depends only on (symbol, day, minute of the day, the close): the same in
    every process and every call within that minute, different from one minute to the next.
    """

    name = "simulated"
    STEP_VOLATILITY = 0.0006  # per minute: about 1.5 % a day

    def _fetch(self, symbols: list[str]):
        now = _aware(self.clock())
        minute = now.replace(second=0, microsecond=0)
        closes = latest_closes(symbols)
        found = {s: ({"price": self.walk(s, close, minute)}, minute) for s, (close, _time) in closes.items()}
        return found, {s: "no stored daily bars to start from" for s in symbols if s not in closes}

    @classmethod
    def walk(cls, symbol: str, start: float, minute: dt.datetime) -> float:
        steps_today = minute.hour * 60 + minute.minute + 1
        rng = np.random.default_rng(_seed("price-walk", symbol, minute.date().isoformat(), repr(float(start))))
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
        return {"price": float(price)}, _parse_time(body.get("as_of")) or self.clock()

    def _fetch(self, symbols: list[str]):
        return self.fetcher.get_many(symbols, self._parse)


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _aware(dt.datetime.fromisoformat(value))
    except ValueError:
        return None


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
