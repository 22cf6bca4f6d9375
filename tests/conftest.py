"""Shared fixtures: throwaway databases.

PostgreSQL tests use ``TRADEBOARD_TEST_POSTGRES_URL`` (a server URL such as
``postgresql+psycopg2://postgres@127.0.0.1:5432/test``) and skip when it is unset. Each test that
asks for a PostgreSQL database gets a fresh one (``CREATE DATABASE tb_test_<random>``), dropped at
the end of the session, so parallel runs never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

POSTGRES_ENV = "TRADEBOARD_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The PostgreSQL URL from the environment; skips the test when unset."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} (e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/test)")
    return url


@pytest.fixture(scope="session")
def make_postgres_database(postgres_server_url: str) -> Iterator[Callable[[], str]]:
    """A factory: each call creates a fresh, empty database and returns its URL."""
    server = make_url(postgres_server_url)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    created: list[str] = []

    def make() -> str:
        name = f"tb_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return server.set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url(make_postgres_database: Callable[[], str]) -> str:
    """A fresh, empty PostgreSQL database for one test."""
    return make_postgres_database()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A SQLite file URL in the test's temporary folder (the file does not exist yet)."""
    return f"sqlite:///{tmp_path / 'tradeboard.db'}"
