"""Gamma exposure (GEX) per symbol, the same shape as ``data_access.prices``.

``provider.gex(symbols) -> GexQuotes`` (a ``dict[str, GexQuote]``): ``gamma_exposure`` (dollars of
dealer gamma per 1 % move), ``call_wall`` (the strike above price with the most call gamma),
``put_wall`` (the strike below price with the most put gamma), ``as_of``, ``stale``, ``age_seconds``.

- ``SimulatedGexProvider``: deterministic from symbol and a time bucket (``bucket_seconds``, five
  minutes by default, the GEX cache TTL of the design document), around the latest stored close:
  the call wall 1-6 % above it, the put wall 1-6 % below it, on a strike grid.
- ``HttpGexProvider``: ``GET`` a URL template (``http://host/gex/{symbol}``) returning those three
  fields (optionally ``as_of``), concurrent with a cap, timeouts and retries (``HttpFetcher``).

Fail-soft, as for prices: good external values are kept in Redis as ``tb:last-good:gex:<symbol>``;
a failed symbol gets its last good value with ``stale=True``; a symbol with none is named in
``GexQuotes.unavailable`` (``require()`` raises ``GexUnavailable``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from data_access.prices import latest_closes
from data_access.providers import (
    Clock, FailSoftProvider, HttpFetcher, LastGoodStore, Results, Unavailable, aware, parse_time, seed, utc_now,
)

log = logging.getLogger(__name__)

FIELDS = ("gamma_exposure", "call_wall", "put_wall")


@dataclass(frozen=True)
class GexQuote:
    symbol: str
    gamma_exposure: float
    call_wall: float
    put_wall: float
    as_of: dt.datetime
    source: str  # "simulated", "http"
    stale: bool = False
    age_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "as_of": self.as_of.isoformat()}


class GexUnavailable(Unavailable):
    what = "GEX"


class GexQuotes(Results):
    error_type = GexUnavailable


class GexProvider(FailSoftProvider):
    """``gex(symbols) -> GexQuotes``; ``_fetch`` gives ``symbol -> ({gamma_exposure, call_wall, put_wall}, as_of)``."""

    kind = "gex"
    fields = FIELDS
    result_type = GexQuotes
    value_type = GexQuote

    def gex(self, symbols: Iterable[str]) -> GexQuotes:
        return self.lookup(symbols)  # type: ignore[return-value]


def strike_step(price: float) -> float:
    """A listed-options strike spacing for a price (0.5 under 25, 1 under 200, 5 under 1000, else 10)."""
    for limit, step in ((25, 0.5), (200, 1.0), (1000, 5.0)):
        if price < limit:
            return step
    return 10.0


class SimulatedGexProvider(GexProvider):
    """Plausible GEX around the latest stored close, fixed within each ``bucket_seconds`` time bucket."""

    name = "simulated"

    def __init__(self, *, bucket_seconds: int = 300, clock: Clock = utc_now,
                 last_good: LastGoodStore | None = None) -> None:
        super().__init__(clock=clock, last_good=last_good)
        if bucket_seconds < 1:
            raise ValueError(f"bucket_seconds must be at least 1, got {bucket_seconds}")
        self.bucket_seconds = int(bucket_seconds)

    def _fetch(self, symbols: list[str]):
        now = aware(self.clock())
        bucket = int(now.timestamp()) // self.bucket_seconds
        as_of = dt.datetime.fromtimestamp(bucket * self.bucket_seconds, dt.UTC)
        closes = latest_closes(symbols)
        found = {s: (self.simulate(s, close, bucket), as_of) for s, (close, _time) in closes.items()}
        return found, {s: "no stored daily bars to start from" for s in symbols if s not in closes}

    @staticmethod
    def simulate(symbol: str, price: float, bucket: int) -> dict[str, float]:
        rng = np.random.default_rng(seed("gex", symbol, bucket, repr(float(price))))
        step = strike_step(price)
        call_wall = math.ceil(price * (1 + rng.uniform(0.01, 0.06)) / step) * step
        put_wall = math.floor(price * (1 - rng.uniform(0.01, 0.06)) / step) * step
        if call_wall <= price:
            call_wall += step
        if put_wall >= price:
            put_wall -= step
        # Dollars per 1 % move, scaled with the price: a few billion for an index ETF, mostly positive.
        gamma = float(rng.normal(0.4, 0.8)) * 1e7 * price
        return {"gamma_exposure": round(gamma, 0), "call_wall": round(call_wall, 2), "put_wall": round(put_wall, 2)}


class HttpGexProvider(GexProvider):
    """``GET url_template`` per symbol -> ``{"gamma_exposure": n, "call_wall": n, "put_wall": n}``."""

    name = "http"
    remember = True

    def __init__(self, url_template: str, *, timeout_seconds: float = 2.0, max_in_flight: int = 4, retries: int = 2,
                 backoff_seconds: float = 0.05, clock: Clock = utc_now, last_good: LastGoodStore | None = None) -> None:
        super().__init__(clock=clock, last_good=last_good)
        self.fetcher = HttpFetcher(url_template, timeout_seconds=timeout_seconds, max_in_flight=max_in_flight,
                                   retries=retries, backoff_seconds=backoff_seconds)

    def _parse(self, symbol: str, body: Any) -> tuple[dict[str, float], dt.datetime]:
        if not isinstance(body, dict):
            raise ValueError("bad JSON: not an object")
        values = {}
        for name in FIELDS:
            value = body.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"bad JSON: {name} is {value!r}")
            values[name] = float(value)
        return values, parse_time(body.get("as_of")) or self.clock()

    def _fetch(self, symbols: list[str]):
        return self.fetcher.get_many(symbols, self._parse)


GEX_PROVIDERS = ("simulated", "http")


def make_gex_provider(settings: Any, *, clock: Clock = utc_now, last_good: LastGoodStore | None = None) -> GexProvider:
    """The provider named by ``settings.GEX_PROVIDER`` (``simulated`` or ``http``)."""
    name = (settings.GEX_PROVIDER or "").strip().lower()
    if name == "simulated":
        return SimulatedGexProvider(clock=clock, last_good=last_good)
    if name == "http":
        if not settings.GEX_HTTP_URL_TEMPLATE:
            raise ValueError("GEX_PROVIDER=http needs GEX_HTTP_URL_TEMPLATE (e.g. http://host/gex/{symbol})")
        return HttpGexProvider(
            settings.GEX_HTTP_URL_TEMPLATE, timeout_seconds=settings.GEX_HTTP_TIMEOUT_SECONDS,
            max_in_flight=settings.GEX_HTTP_MAX_IN_FLIGHT, retries=settings.GEX_HTTP_RETRIES,
            clock=clock, last_good=last_good,
        )
    raise ValueError(f"unknown GEX_PROVIDER {settings.GEX_PROVIDER!r}; valid providers: {', '.join(GEX_PROVIDERS)}")
