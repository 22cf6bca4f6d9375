import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.redis_server import PrivateRedis


@pytest.fixture(scope="session")
def redis_url():
    server = PrivateRedis().start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def postgres_url():
    """A database of its own on the PostgreSQL named by TRADEBOARD_TEST_POSTGRES_URL, dropped at the end."""
    base = os.environ.get("TRADEBOARD_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("TRADEBOARD_TEST_POSTGRES_URL is not set (CI sets it)")
    name = f"tb_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
