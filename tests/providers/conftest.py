"""Fixtures for the price and GEX providers: a live local HTTP server, a last-good store on the
test Redis, one on a Redis that is not there, and a database with daily bars."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import event, insert

from data_access.db import Base, configure_database
from data_access.models import Bar
from data_access.prices import LastGoodStore
from tests.providers.http_server import ProviderServer

# symbol -> daily closes, oldest first (the last one is the latest)
CLOSES = {
    "SPY": [590.0, 592.5, 601.25],
    "QQQ": [505.0, 510.0, 498.75],
    "AAPL": [225.0, 231.5],
}
FIRST_DAY = dt.datetime(2026, 11, 18)


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    srv = ProviderServer().start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def price_store(redis_client) -> LastGoodStore:
    return LastGoodStore("price", client=redis_client)


@pytest.fixture
def gex_store(redis_client) -> LastGoodStore:
    return LastGoodStore("gex", client=redis_client)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_redis() -> redis.Redis:
    """A client for a Redis that is not running (connection refused)."""
    return redis.Redis(host="127.0.0.1", port=_free_port(), socket_timeout=0.2, socket_connect_timeout=0.2,
                       retry=Retry(NoBackoff(), 0))


def seed_bars(engine) -> None:
    Base.metadata.create_all(engine)
    rows = []
    for symbol, closes in CLOSES.items():
        for i, close in enumerate(closes):
            rows.append({"symbol": symbol, "timeframe": "1d", "time": FIRST_DAY + dt.timedelta(days=i),
                         "open": close, "high": close, "low": close, "close": close, "volume": 1000.0})
        # an intraday bar later than every daily bar, which must not count as the daily close
        rows.append({"symbol": symbol, "timeframe": "1h", "time": FIRST_DAY + dt.timedelta(days=10),
                     "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    with engine.begin() as conn:
        conn.execute(insert(Bar), rows)


@pytest.fixture(params=["sqlite", "postgresql"])
def bars_db(request):
    """A configured database (SQLite, then PostgreSQL when TRADEBOARD_TEST_POSTGRES_URL is set) with CLOSES."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    engine = configure_database(url)
    seed_bars(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_bars(sqlite_url):
    engine = configure_database(sqlite_url)
    seed_bars(engine)
    yield engine
    engine.dispose()


class StatementCounter:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append(statement)

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self)


class Clock:
    """An injectable clock a test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
