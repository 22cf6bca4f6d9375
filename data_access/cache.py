"""The section cache: every dashboard section is memoized in Redis through this module.

- Storage is flask-caching's ``RedisCache`` backend (or its ``NullCache`` when asked for by name).
- TTL tiers: ``realtime`` (never cached), ``short``, ``medium``, ``long`` (seconds from settings).
- Keys are built from primitive arguments only, plus the generation number of every data family
  the section reads; a write bumps its family's generation, so dependent keys miss on their next
  read and unrelated ones stay.
- Each value is stored with the time it was computed. It is *fresh* for its tier's TTL and kept
  one more TTL as *stale*: a stale value is served at once while one process recomputes it.
- Single-flight: a missing or stale key is recomputed by the one process that wins a short Redis
  lock; on a miss the others wait for its result (up to ``wait_seconds``) instead of all hitting
  the database.
- Redis down: sections are computed straight from the database (degraded mode, logged once); Redis
  is tried again every ``retry_seconds`` and, once back, every generation is bumped, because
  writes made during the outage could not invalidate anything.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import redis
from flask_caching.backends import NullCache, RedisCache

log = logging.getLogger(__name__)

TIERS = ("realtime", "short", "medium", "long")
KEY_PREFIX = "tb:"
_PRIMITIVES = (str, int, float, bool, type(None), dt.date, dt.datetime)
_RELEASE_LOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class CacheNotConfigured(RuntimeError):
    pass


@dataclass
class Cached:
    """A section's value with where it came from."""

    value: Any
    computed_at: dt.datetime
    cached: bool  # served from Redis rather than computed for this call
    stale: bool = False  # served past its TTL while another process refreshes it
    key: str | None = None

    @property
    def age_seconds(self) -> float:
        return (dt.datetime.now(dt.UTC) - self.computed_at).total_seconds()


@dataclass
class CacheReport:
    """What the sections read during one request: hit/miss names, the oldest value, degraded mode."""

    hits: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    degraded: bool = False
    oldest: dt.datetime | None = None

    def record(self, name: str, result: Cached, degraded: bool) -> None:
        (self.hits if result.cached else self.misses).append(name)
        self.degraded = self.degraded or degraded
        if self.oldest is None or result.computed_at < self.oldest:
            self.oldest = result.computed_at


_report: ContextVar[CacheReport | None] = ContextVar("tradeboard_cache_report", default=None)


@contextmanager
def cache_report() -> Iterator[CacheReport]:
    """Collect every section read inside the block (for a response's ``metadata``)."""
    report = CacheReport()
    token = _report.set(report)
    try:
        yield report
    finally:
        _report.reset(token)


def key_part(value: Any) -> str:
    """A key fragment from a primitive; anything else (a frame, a session, an engine) is an error."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(key_part(v) for v in value) + "]"
    if not isinstance(value, _PRIMITIVES):
        raise TypeError(f"cache key arguments must be primitives (str, number, date), got {type(value).__name__}")
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)


class SectionCache:
    """Unbound until ``configure`` is called (by the app factory and by the Celery worker)."""

    def __init__(self) -> None:
        self._backend: RedisCache | NullCache | None = None
        self._redis: redis.Redis | None = None
        self.ttl: dict[str, int] = {}
        self.lock_seconds = 30
        self.wait_seconds = 5.0
        self.retry_seconds = 2.0
        self._down_until = 0.0
        self._degraded_since: float | None = None
        self._last_error: str | None = None
        self._state_lock = threading.Lock()
        self.families: set[str] = set()

    # ------------------------------------------------------------------ configuration

    def configure(
        self,
        *,
        cache_type: str,
        redis_url: str | None,
        ttl: dict[str, int],
        lock_seconds: int = 30,
        wait_seconds: float = 5.0,
        retry_seconds: float = 2.0,
    ) -> None:
        if cache_type == "NullCache":
            self._backend, self._redis = NullCache(), None
        elif cache_type == "RedisCache":
            if not redis_url:
                raise CacheNotConfigured("CACHE_TYPE=RedisCache needs REDIS_URL (or set CACHE_TYPE=NullCache explicitly)")
            self._redis = redis.Redis.from_url(
                redis_url, socket_timeout=0.5, socket_connect_timeout=0.5, health_check_interval=30
            )
            self._backend = RedisCache(host=self._redis, key_prefix=KEY_PREFIX, default_timeout=0)
        else:
            raise CacheNotConfigured(f"unknown CACHE_TYPE {cache_type!r}; use RedisCache (or NullCache to disable caching)")
        missing = {"short", "medium", "long"} - set(ttl)
        if missing:
            raise CacheNotConfigured(f"missing TTL tier(s): {', '.join(sorted(missing))}")
        self.ttl = dict(ttl)
        self.lock_seconds, self.wait_seconds, self.retry_seconds = lock_seconds, wait_seconds, retry_seconds
        self._down_until, self._degraded_since, self._last_error = 0.0, None, None

    def configure_from(self, settings: Any) -> None:
        """``configure`` from an object with the CACHE_* and REDIS_URL settings (app.config.Settings)."""
        self.configure(
            cache_type=settings.CACHE_TYPE,
            redis_url=settings.REDIS_URL,
            ttl=settings.ttl_tiers,
            lock_seconds=settings.CACHE_LOCK_SECONDS,
            wait_seconds=settings.CACHE_WAIT_SECONDS,
            retry_seconds=settings.CACHE_RETRY_SECONDS,
        )

    @property
    def enabled(self) -> bool:
        return self._redis is not None

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            raise CacheNotConfigured("the section cache has no Redis (not configured, or CACHE_TYPE=NullCache)")
        return self._redis

    def status(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "degraded": self._degraded_since is not None,
            "degraded_for_seconds": None if self._degraded_since is None else round(time.time() - self._degraded_since, 1),
            "last_error": self._last_error,
        }

    # ------------------------------------------------------------------ generations

    def _generation_keys(self, families: tuple[str, ...]) -> list[str]:
        return [f"{KEY_PREFIX}gen:{f}" for f in families]

    def bump(self, *families: str) -> None:
        """Invalidate every key that reads any of ``families`` (a write happened)."""
        if not families or not self._redis_usable():
            return  # while Redis is down, recovery bumps every family instead
        try:
            self._incr_generations(families)
        except redis.RedisError as exc:
            self._went_down(exc)

    def _incr_generations(self, families: tuple[str, ...] | list[str]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for key in self._generation_keys(tuple(families)):
            pipe.incr(key)
        pipe.execute()

    def clear(self, pattern: str = "*") -> int:
        """Delete the cached sections whose key (without the prefix) matches ``pattern``."""
        if not self.enabled:
            return 0
        keys = [k for k in self.redis.scan_iter(match=f"{KEY_PREFIX}s:{pattern}", count=1000)]
        return int(self.redis.delete(*keys)) if keys else 0

    # ------------------------------------------------------------------ degraded mode

    def _went_down(self, exc: Exception) -> None:
        with self._state_lock:
            self._down_until = time.monotonic() + self.retry_seconds
            self._last_error = f"{type(exc).__name__}: {exc}"
            if self._degraded_since is None:
                self._degraded_since = time.time()
                log.warning("Redis unavailable, serving dashboards from the database: %s", self._last_error)

    def _recover(self) -> None:
        """First contact after an outage: invalidate everything, then leave degraded mode."""
        if self._degraded_since is None:
            return
        self._incr_generations(sorted(self.families))  # raises RedisError if Redis is still down
        with self._state_lock:
            if self._degraded_since is None:
                return
            down_for = time.time() - self._degraded_since
            self._degraded_since = None
        log.warning("Redis is back after %.1f s; caching resumes", down_for)

    def _redis_usable(self) -> bool:
        return self.enabled and time.monotonic() >= self._down_until

    # ------------------------------------------------------------------ the read path

    def fetch(
        self,
        name: str,
        families: tuple[str, ...],
        tier: str,
        args: tuple,
        compute: Callable[[], Any],
        force: bool = False,
    ) -> Cached:
        if tier not in TIERS:
            raise ValueError(f"unknown cache tier {tier!r}; valid tiers: {', '.join(TIERS)}")
        arg_key = ",".join(key_part(a) for a in args)
        compute = _unreported(compute)
        if tier == "realtime" or not self._redis_usable():
            result = Cached(compute(), _now(), cached=False)
            degraded = self.enabled and tier != "realtime"
        else:
            try:
                self._recover()
                result = self._fetch_through_redis(name, families, tier, arg_key, compute, force)
                degraded = False
            except redis.RedisError as exc:
                self._went_down(exc)
                result, degraded = Cached(compute(), _now(), cached=False), True
        if (report := _report.get()) is not None and tier != "realtime":
            report.record(name, result, degraded)
        return result

    def _fetch_through_redis(
        self, name: str, families: tuple[str, ...], tier: str, arg_key: str, compute: Callable[[], Any], force: bool
    ) -> Cached:
        generations = self.redis.mget(self._generation_keys(families)) if families else []
        gen_part = ".".join((g or b"0").decode() for g in generations)
        key = f"s:{name}:g{gen_part}:{arg_key}"
        ttl = self.ttl[tier]
        if not force:
            entry = self._backend.get(key)
            if entry is not None:
                cached = Cached(entry["value"], _from_ts(entry["at"]), cached=True, key=key)
                if time.time() < entry["fresh_until"]:
                    return cached
                # Stale: one process refreshes, everyone else is served the stale value at once.
                lock = self._acquire(key)
                if lock is None:
                    cached.stale = True
                    return cached
                return self._compute_and_store(key, ttl, compute, lock)
        lock = self._acquire(key)
        if lock is None and not force:
            waited = self._wait_for(key)
            if waited is not None:
                return waited
        return self._compute_and_store(key, ttl, compute, lock)

    def _acquire(self, key: str) -> str | None:
        token = uuid.uuid4().hex
        return token if self.redis.set(f"{KEY_PREFIX}lock:{key}", token, nx=True, ex=self.lock_seconds) else None

    def _release(self, key: str, token: str) -> None:
        self.redis.eval(_RELEASE_LOCK, 1, f"{KEY_PREFIX}lock:{key}", token)

    def _wait_for(self, key: str) -> Cached | None:
        deadline = time.monotonic() + self.wait_seconds
        pause = 0.01
        while time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(pause * 1.5, 0.1)
            entry = self._backend.get(key)
            if entry is not None:
                return Cached(entry["value"], _from_ts(entry["at"]), cached=True, key=key)
        log.warning("waited %.1f s for %s to be computed elsewhere; computing it here", self.wait_seconds, key)
        return None

    def _compute_and_store(self, key: str, ttl: int, compute: Callable[[], Any], lock: str | None) -> Cached:
        try:
            value = compute()
            now = time.time()
            # Kept for two TTLs: fresh for the first, served stale while refreshing in the second.
            self._backend.set(key, {"value": value, "at": now, "fresh_until": now + ttl}, timeout=2 * ttl)
            return Cached(value, _from_ts(now), cached=False, key=key)
        finally:
            if lock is not None:
                self._release(key, lock)


def _unreported(compute: Callable[[], Any]) -> Callable[[], Any]:
    """Sections read while computing another section are its inputs, not the response's sections."""

    def run() -> Any:
        token = _report.set(None)
        try:
            return compute()
        finally:
            _report.reset(token)

    return run


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _from_ts(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


sections = SectionCache()


def cached_section(families: str | tuple[str, ...], tier: str, name: str | None = None):
    """Memoize a data_access function whose arguments are primitives.

    ``fn(*args, force=False)`` returns the value; ``fn.fetch(*args, force=False)`` returns a
    ``Cached`` (value, computed_at, cached, stale). ``families`` are the data families it reads.
    """
    family_tuple = (families,) if isinstance(families, str) else tuple(families)
    if tier not in TIERS:
        raise ValueError(f"unknown cache tier {tier!r}; valid tiers: {', '.join(TIERS)}")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        section_name = name or fn.__name__
        sections.families.update(family_tuple)

        def fetch(*args: Any, force: bool = False) -> Cached:
            return sections.fetch(section_name, family_tuple, tier, args, lambda: fn(*args), force=force)

        @functools.wraps(fn)
        def wrapper(*args: Any, force: bool = False) -> Any:
            return fetch(*args, force=force).value

        wrapper.fetch = fetch  # type: ignore[attr-defined]
        wrapper.section_name = section_name  # type: ignore[attr-defined]
        wrapper.tier = tier  # type: ignore[attr-defined]
        wrapper.families = family_tuple  # type: ignore[attr-defined]
        return wrapper

    return decorate
