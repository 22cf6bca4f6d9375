"""Positions at live prices: one place that turns stored positions into marked ones.

Every dashboard that shows unrealized PnL (client, signal-sender, paper trading) reads its
positions from SQL without prices and marks them here with the configured price provider
(``PRICE_PROVIDER``: ``bars`` by default, ``simulated`` or ``http``), so the same quote is used
everywhere and a failing provider degrades the same way everywhere:

- a stale quote (the provider failed; its last good value) marks the position with
  ``price_stale: true`` and ``price_age_seconds``;
- a symbol with no quote at all leaves ``current_price`` and ``unrealized_pnl`` null and is named
  in the returned error, so the panel can say which symbols are unpriced while the rest render.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from data_access.gex import GexProvider, make_gex_provider
from data_access.prices import BarsPriceProvider, PriceProvider, Quotes, make_price_provider

_providers: dict[tuple, Any] = {}
_lock = threading.Lock()

_PRICE_SETTINGS = ("PRICE_PROVIDER", "PRICE_HTTP_URL_TEMPLATE", "PRICE_HTTP_TIMEOUT_SECONDS",
                   "PRICE_HTTP_MAX_IN_FLIGHT", "PRICE_HTTP_RETRIES")
_GEX_SETTINGS = ("GEX_PROVIDER", "GEX_HTTP_URL_TEMPLATE", "GEX_HTTP_TIMEOUT_SECONDS", "GEX_HTTP_MAX_IN_FLIGHT",
                 "GEX_HTTP_RETRIES")


def _memoised(kind: str, names: tuple[str, ...], settings: Any, make) -> Any:
    # One provider (one HTTP connection pool) per configuration per process.
    key = (kind, *(getattr(settings, n, None) for n in names))
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            provider = _providers[key] = make(settings)
        return provider


def price_provider_for(settings: Any | None) -> PriceProvider:
    """The price provider ``settings`` configure (the ``bars`` provider without settings)."""
    if settings is None:
        return _memoised("price", (), None, lambda _: BarsPriceProvider())
    return _memoised("price", _PRICE_SETTINGS, settings, make_price_provider)


def gex_provider_for(settings: Any) -> GexProvider:
    return _memoised("gex", _GEX_SETTINGS, settings, make_gex_provider)


def price_config(settings: Any | None) -> tuple:
    """The price settings as a tuple of primitives: a cached section takes this (a cache key may hold
    only primitives) and gets its provider back with ``price_provider_from``."""
    return tuple(getattr(settings, n, None) for n in _PRICE_SETTINGS) if settings is not None else ("bars",)


def price_provider_from(config: tuple) -> PriceProvider:
    if tuple(config) == ("bars",):
        return price_provider_for(None)
    return price_provider_for(SimpleNamespace(**dict(zip(_PRICE_SETTINGS, config))))


def gex_config(settings: Any) -> tuple:
    return tuple(getattr(settings, n, None) for n in _GEX_SETTINGS)


def gex_provider_from(config: tuple) -> GexProvider:
    return gex_provider_for(SimpleNamespace(**dict(zip(_GEX_SETTINGS, config))))


def unpriced_error(quotes: Quotes) -> str | None:
    """The message for the symbols the provider could not price, or None when all have a quote."""
    if not quotes.unavailable:
        return None
    reasons = "; ".join(f"{symbol}: {reason}" for symbol, reason in quotes.unavailable.items())
    return f"no price for {', '.join(quotes.unavailable)} ({reasons})"


def mark(rows: list[dict[str, Any]], quotes: Quotes, *, direction_key: str | None = None) -> list[dict[str, Any]]:
    """Copies of ``rows`` (each with ``symbol``, ``quantity``, ``entry_price``) with
    ``current_price``, ``unrealized_pnl``, ``price_source``, ``price_stale`` and ``price_age_seconds``.

    ``quantity`` is signed (negative = short) unless ``direction_key`` names a field holding
    ``long``/``short``, in which case the quantity is taken as unsigned.
    """
    marked = []
    for row in rows:
        quote = quotes.get(row["symbol"])
        quantity = float(row["quantity"])
        if direction_key is not None and str(row[direction_key]).lower() == "short":
            quantity = -abs(quantity)
        out = dict(row)
        if quote is None:
            out.update(current_price=None, unrealized_pnl=None, price_source=None, price_stale=None,
                       price_age_seconds=None)
        else:
            out.update(current_price=quote.price, unrealized_pnl=(quote.price - float(row["entry_price"])) * quantity,
                       price_source=quote.source, price_stale=quote.stale,
                       price_age_seconds=round(quote.age_seconds, 1))
        marked.append(out)
    return marked


def marked_positions(rows: list[dict[str, Any]], provider: PriceProvider, *,
                     direction_key: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """``rows`` marked at the provider's latest prices, and the error naming unpriced symbols (or None)."""
    quotes = provider.latest_prices(row["symbol"] for row in rows)
    return mark(rows, quotes, direction_key=direction_key), unpriced_error(quotes)
