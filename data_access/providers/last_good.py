"""The last good value per (kind, symbol) in Redis, the fallback of a provider that failed."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from data_access.cache import KEY_PREFIX, sections
from data_access.providers.values import aware

log = logging.getLogger(__name__)

LAST_GOOD_TTL_SECONDS = 7 * 24 * 3600  # a last-good value older than a week is forgotten


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
        stamp = aware(at).timestamp()
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
