"""Engine and session factory. SQLite by default (a file under var/), PostgreSQL in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


SQLITE_BUSY_SECONDS = 30  # how long a SQLite connection waits for another's write lock


class Base(DeclarativeBase):
    pass


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for ``url``; for SQLite, creates the file's folder and turns on WAL and foreign keys."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS})
    else:
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


@contextmanager
def sqlite_lock_wait(conn, seconds: float) -> Iterator[None]:
    """On SQLite, wait at most ``seconds`` for another connection's write lock in this block, then the
    usual SQLITE_BUSY_SECONDS again (the connection goes back to the pool). Other databases: nothing."""
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {SQLITE_BUSY_SECONDS * 1000}")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class _Database:
    """The process's engine, set once by the app factory or the Celery worker (``configure_database``)."""

    engine: Engine | None = None


_database = _Database()


def configure_database(url: str, **kwargs) -> Engine:
    if _database.engine is not None:
        _database.engine.dispose()
    _database.engine = make_engine(url, **kwargs)
    return _database.engine


def configure_database_from(settings) -> Engine:
    """The process's engine as the settings give it (URL and pool size): the web, the workers and the CLI alike."""
    return configure_database(settings.DATABASE_URL, pool_size=settings.DATABASE_POOL_SIZE)


def current_engine() -> Engine:
    if _database.engine is None:
        raise RuntimeError("no database configured: call data_access.db.configure_database(url) first")
    return _database.engine
