"""Unbound extensions and the per-app state that `create_app` binds.

`cache` is flask-caching's object (bound with the app's CACHE_TYPE / REDIS_URL). The rest of the
app's runtime state (settings, database engine, session factory, start time) lives in one
`AppState` stored at ``server.extensions["tradeboard"]``; reach it with `state()` inside a request
or callback, or `state(server)` from outside one. Pages and callbacks read it through
``flask.current_app.extensions["tradeboard"]`` so they never import `app`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import flask
from flask_caching import Cache

from data_access.redis_client import make_redis

if TYPE_CHECKING:  # pragma: no cover
    import redis
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from app.config import Settings

EXTENSION_KEY = "tradeboard"

cache = Cache()


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    started_monotonic: float = field(default_factory=time.monotonic)
    _redis_clients: dict[tuple[str, float], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        from data_access.db import session_scope

        with session_scope(self.session_factory) as session:
            yield session

    def redis(self, timeout: float = 0.5) -> redis.Redis | None:
        """A Redis client for REDIS_URL with short socket timeouts and no retries (None when unset).

        One client (one connection pool) per timeout per process, so checks reuse connections.
        """
        url = self.settings.REDIS_URL
        if not url:
            return None
        key = (url, timeout)
        with self._lock:
            client = self._redis_clients.get(key)
            if client is None:
                client = make_redis(url, timeout)
                self._redis_clients[key] = client
            return client

    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic

    def health(self) -> tuple[dict, int]:
        """The health report and its HTTP status (see `app.health.health_report`)."""
        from app.health import health_report

        return health_report(self)


def state(server: flask.Flask | None = None) -> AppState:
    """The AppState of ``server`` (default: the app handling the current request)."""
    target = server if server is not None else flask.current_app
    return target.extensions[EXTENSION_KEY]
