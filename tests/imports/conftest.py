"""A migrated database with a book to import into (one account, strategies Alpha and Beta), and
users of each role that may import."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy.orm import Session

from app.auth.users import create_user
from data_access import migrate
from data_access.db import make_engine
from data_access.imports import jobs
from tests.conftest import migrated
from tests.ingest_books import with_strategies


def book_engine(url: str):
    if url.startswith("sqlite"):
        migrated(url)
    else:
        migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        admin, _ = create_user(session, "ada", "admin", "pw-ada-1234")
        dev, _ = create_user(session, "dev", "developer", "pw-dev-1234")
        session.commit()
        engine.test_users = {"admin": SimpleNamespace(id=admin.id, username="ada"),
                             "developer": SimpleNamespace(id=dev.id, username="dev")}
    with_strategies(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'book.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = book_engine(url)
    yield engine
    engine.dispose()


def upload(engine, tmp_path: Path, name: str, data: bytes, role: str = "admin") -> dict:
    path = tmp_path / name
    path.write_bytes(data)
    with path.open("rb") as stream:
        return jobs.receive(engine, engine.test_users[role], name, stream, path)
