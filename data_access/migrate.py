"""Schema migrations, programmatically: ``upgrade(url)`` is ``alembic upgrade head`` from any cwd.

The Alembic scripts live in ``migrations/`` next to this package (``alembic.ini`` at the project
root). On the command line::

    alembic upgrade head                              # DATABASE_URL, else Settings().DATABASE_URL
    alembic -x url=sqlite:///var/other.db upgrade head
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, func, inspect, select

from data_access.db import make_engine

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
SCRIPT_LOCATION = PROJECT_ROOT / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config pointing at our scripts, whatever the current directory.

    ``url`` travels in ``config.attributes`` (not the ini), so passwords with ``%`` need no escaping.
    """
    if ALEMBIC_INI.exists():
        config = Config(str(ALEMBIC_INI))
    else:  # installed without the ini: the scripts are all we need
        config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # Leave the host application's logging alone when called from code.
    config.attributes["skip_logging_config"] = True
    if url is not None:
        config.attributes["url"] = url
    return config


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction for migrations. On SQLite, foreign keys are off while it runs:
    a migration that rebuilds a parent table drops it, and with foreign keys on that drop deletes
    (cascades to) the children's rows. They are checked before the transaction commits."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # a PRAGMA that only takes effect outside a transaction
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration left rows with dangling foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def _run(url: str, action, *args) -> None:
    engine = make_engine(url)
    try:
        with migration_connection(engine) as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            action(config, *args)
    finally:
        engine.dispose()


# A row of table_versions saying the stored positions and closed trades are the FIFO derivation of the
# stored fills (data_access/ingest/derive.py). Before revision 0007 they were written as they were: a
# database upgraded across it is derived once, in one transaction with this row, so a derivation that
# fails or is killed is done again by the next upgrade.
DERIVED_MARKER = "positions-derived"


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (the latest by default). Idempotent."""
    _run(url, command.upgrade, revision)
    if current_revision(url) == head_revision():
        derive_positions_once(url)


def derive_positions_once(url: str) -> bool:
    """Derive every position and closed trade from the stored fills unless the marker says it is done;
    True when it derived."""
    from sqlalchemy import text

    from data_access.ingest.derive import rederive

    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            done = connection.execute(text("SELECT 1 FROM table_versions WHERE name = :name"),
                                      {"name": DERIVED_MARKER}).first()
            if done:
                return False
            pairs = connection.execute(text(
                "SELECT DISTINCT s.strategy_id, s.symbol FROM signals s "
                "WHERE EXISTS (SELECT 1 FROM executions e WHERE e.signal_id = s.id)")).all()
            if pairs:
                connection.execute(text("DELETE FROM closed_trades"))
                connection.execute(text("DELETE FROM trade_days"))
                connection.execute(text("DELETE FROM positions"))
                rederive(connection, [tuple(p) for p in pairs])
            connection.execute(text("INSERT INTO table_versions (name, epoch, version) VALUES (:name, '', 1)"),
                               {"name": DERIVED_MARKER})
        return bool(pairs)
    finally:
        engine.dispose()


def downgrade(url: str, revision: str = "base") -> None:
    """Take the database at ``url`` down to ``revision`` (``base``: no tables at all)."""
    _run(url, command.downgrade, revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_empty(url: str) -> bool:
    """True when the database has no accounts and no users (or no tables yet): time to seed."""
    engine = make_engine(url)
    try:
        return _is_empty(engine)
    finally:
        engine.dispose()


def _is_empty(engine: Engine) -> bool:
    from data_access.models import Account, User

    tables = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        for model in (Account, User):
            if model.__tablename__ in tables:
                if connection.execute(select(func.count()).select_from(model.__table__)).scalar_one():
                    return False
    return True
